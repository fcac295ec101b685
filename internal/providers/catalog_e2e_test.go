package providers_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// catalogBot is bot alpha with one provider per catalog entry, named by its type, with the
// options its URLs need and scopes where the entry has no defaults.
func catalogBot() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  alpha:\n    api_keys: [%q]\n    confirm: none\n    providers:\n", testenv.KeyA)
	for _, r := range testenv.CatalogTypes() {
		fmt.Fprintf(&b, "      %s:\n        type: %[1]s\n        key: ck-%[1]s\n        secret: cs-%[1]s-0123456789\n", r.Name)
		if len(r.Scopes) == 0 && r.Protocol() == "oauth2" {
			b.WriteString("        scopes: [read, write]\n")
		}
		if opts := providers.Types()[r.Name].RequiredOptions; len(opts) > 0 {
			b.WriteString("        options:\n")
			for _, o := range opts {
				fmt.Fprintf(&b, "          %s: acme\n", o)
			}
		}
	}
	return b.String()
}

// strictFake is the strict fake of one provider, OAuth 2 or OAuth 1.0a.
type strictFake interface {
	Rewrites() []providertest.Rewrite
	Issued() []providertest.StrictGrant
	Revoked() []string
	Calls() []providertest.StrictCall
}

// strictFor starts the strict fake of a configured provider: it enforces what the provider's
// entry declares, for the app the broker has there.
func strictFor(t *testing.T, b *testenv.Broker, p *providers.Provider) strictFake {
	t.Helper()
	e := providertest.Entry{
		Spec: p.Spec(), PKCE: p.PKCE, APIBaseURL: p.APIBaseURL, RevocationForm: p.RevocationForm(),
		ClientID: "ck-" + p.Name, ClientSecret: "cs-" + p.Name + "-0123456789",
		RedirectURI: b.URL + "/bots/" + p.Bot + "/" + p.Name + "/callback",
		User:        providertest.DefaultStrictUser, ScopesRequested: p.Scopes,
	}
	if p.OAuth1 {
		return providertest.NewStrictOAuth1(t, e)
	}
	return providertest.NewStrictOAuth2(t, e)
}

// TestCatalogEndToEnd drives every catalog entry through the real broker against a strict
// fake of it: link (the identity holds the fake's account, tokens and granted scopes),
// refresh where the entry declares it (twice for rotating refresh tokens: the second refresh
// works only if the rotated token was stored), one call through the API proxy, and unlink,
// revoking at the provider where the entry declares a way.
func TestCatalogEndToEnd(t *testing.T) {
	entries := testenv.CatalogTypes()
	if len(entries) < 60 {
		t.Errorf("the catalog has %d entries of its own, want at least 60", len(entries))
	}
	clk := testenv.NewClock()
	off := server.Limits{} // sixty-odd links from one address in a second
	broker := testenv.StartBrokerWith(t, catalogBot(), app.Options{Now: clk.Now, Limits: &off})
	reg, err := providers.NewRegistry(t.Context(), broker.App.Cfg, providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range entries {
		t.Run(r.Name, func(t *testing.T) {
			b := *broker // its helpers fail this subtest, not the whole table
			b.T = t
			p, _ := reg.Lookup("alpha", r.Name)
			fake := strictFor(t, &b, p)
			providertest.NewRewriteTransport(fake.Rewrites()...).Install(t)
			user := providertest.DefaultStrictUser

			id := b.LinkOne("alpha", testenv.KeyA, r.Name, "chat", "U-"+r.Name)
			prof := p.Spec().Profile
			mapped := func(ptr string) bool { return ptr != "" && ptr != prof.ID } // else it holds the id
			if id.ProviderUserID != user.ID || (mapped(prof.Name) && id.Name != user.Name) ||
				(mapped(prof.Email) && id.Email != user.Email) || (mapped(prof.NickName) && id.NickName != user.NickName) {
				t.Errorf("identity %+v, want the fake's account %+v", id, user)
			}
			if !slices.Equal(id.Scopes, p.Scopes) && !(len(id.Scopes) == 0 && len(p.Scopes) == 0) {
				t.Errorf("scopes %q, want the granted %q", id.Scopes, p.Scopes)
			}
			issued := fake.Issued()
			if c := b.Credentials("alpha", testenv.KeyA, id.ID); len(issued) != 1 || c.AccessToken != issued[0].AccessToken {
				t.Fatalf("credentials %q, fake issued %+v", c.AccessToken, issued)
			}

			if p.CanRefresh {
				rounds := 1
				if p.Spec().Refresh == config.RefreshRotating {
					rounds = 2
				}
				for i := 1; i <= rounds; i++ {
					clk.Advance(2 * time.Hour)
					c := b.Credentials("alpha", testenv.KeyA, id.ID)
					if issued := fake.Issued(); len(issued) != i+1 || c.AccessToken != issued[i].AccessToken || issued[i].GrantType != "refresh_token" {
						t.Fatalf("refresh %d: credentials %q, fake issued %+v", i, c.AccessToken, issued)
					}
				}
			}

			r := b.Call("GET", testenv.ProxyPath("alpha", id.ID, "oauthbroker-e2e/ping"), testenv.KeyA, nil, nil)
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"ok":true`) {
				t.Errorf("proxied call: %d %s", r.Status, r.Body)
			}

			ev := b.Unlink("alpha", testenv.KeyA, id.ID)
			switch {
			case p.CanRevoke() && (ev.Outcome != "revoked" || len(fake.Revoked()) != 1):
				t.Errorf("unlink: %+v, revoked at the fake %q; want revoked", ev, fake.Revoked())
			case !p.CanRevoke() && ev.Outcome != "not_revoked":
				t.Errorf("unlink: %+v, want not_revoked", ev)
			}
			for _, c := range fake.Calls() {
				if c.Rejected != "" {
					t.Errorf("the fake refused a %s request: %s", c.Endpoint, c.Rejected)
				}
			}
		})
	}
}
