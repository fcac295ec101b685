package providers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// inhouseYAML is a provider the catalog lacks, added with YAML alone.
const inhouseYAML = `      inhouse:
        type: oauth2
        key: ck-inhouse
        secret: cs-inhouse-0123456789
        auth_url: https://auth.inhouse.example/authorize
        token_url: https://auth.inhouse.example/token
        userinfo_url: https://api.inhouse.example/me
        profile: {id: /data/id, name: /data/full_name, email: /data/email}
        token_auth: basic
        refresh: rotating
        revocation_url: https://auth.inhouse.example/revoke
        api_base_url: https://api.inhouse.example
        scopes: [read, write]
`

// startInhouse starts a broker with the inhouse provider and a strict fake of it.
func startInhouse(t *testing.T, clk *testenv.Clock) (*testenv.Broker, *providertest.StrictOAuth2) {
	t.Helper()
	b := testenv.StartBrokerWith(t, fmt.Sprintf("  alpha:\n    api_keys: [%q]\n    confirm: none\n    providers:\n%s", testenv.KeyA, inhouseYAML), app.Options{Now: clk.Now})
	reg, err := providers.NewRegistry(t.Context(), b.App.Cfg, providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Lookup("alpha", "inhouse")
	fake := strictFor(t, b, p).(*providertest.StrictOAuth2)
	providertest.NewRewriteTransport(fake.Rewrites()...).Install(t)
	return b, fake
}

type requireAnswer struct {
	Ready   bool `json:"ready"`
	Missing []struct {
		Provider, Reason string
	} `json:"missing"`
}

func require(b *testenv.Broker, provider string, scopes ...string) requireAnswer {
	b.T.Helper()
	var out requireAnswer
	body := map[string]any{"channel": "chat", "user": "U1", "providers": []any{map[string]any{"provider": provider, "scopes": scopes}}}
	if st := b.API("POST", "/bots/alpha/require", testenv.KeyA, body, &out); st != http.StatusOK {
		b.T.Fatalf("require: %d", st)
	}
	return out
}

// TestGrantedScopes: the identity holds what the provider granted. A user who granted less
// than asked is not ready for what is missing: require answers missing_scopes with a link.
func TestGrantedScopes(t *testing.T) {
	b, fake := startInhouse(t, testenv.NewClock())
	fake.SetGrant("read")
	id := b.LinkOne("alpha", testenv.KeyA, "inhouse", "chat", "U1")
	if !slices.Equal(id.Scopes, []string{"read"}) {
		t.Fatalf("scopes %q, want the granted [read]", id.Scopes)
	}
	if r := require(b, "inhouse", "read"); !r.Ready {
		t.Errorf("require read: %+v, want ready", r)
	}
	r := require(b, "inhouse", "write")
	if r.Ready || len(r.Missing) != 1 || r.Missing[0].Reason != "missing_scopes" {
		t.Errorf("require write: %+v, want missing_scopes", r)
	}
}

// TestTokenWithoutExpiry: a provider issuing tokens that do not expire, and no refresh
// token: the identity has no expiry and is handed out as it is, however much later.
func TestTokenWithoutExpiry(t *testing.T) {
	clk := testenv.NewClock()
	b, fake := startInhouse(t, clk)
	fake.SetNoExpiry()
	id := b.LinkOne("alpha", testenv.KeyA, "inhouse", "chat", "U1")
	if id.ExpiresAt != nil {
		t.Errorf("expires_at %v, want none", *id.ExpiresAt)
	}
	clk.Advance(90 * 24 * time.Hour)
	if c := b.Credentials("alpha", testenv.KeyA, id.ID); c.AccessToken != fake.Issued()[0].AccessToken || len(fake.Issued()) != 1 || c.ExpiresAt != nil {
		t.Errorf("credentials %+v after 90 days, issued %+v", c, fake.Issued())
	}
}

// TestDisguisedTokenError: GitHub answers a bad code with HTTP 200 and {"error":
// "bad_verification_code"}. Whether the broker's own client or goth's reads it, the user
// gets a clean 502 and nothing is stored.
func TestDisguisedTokenError(t *testing.T) {
	t.Run("type oauth2", func(t *testing.T) {
		b, fake := startInhouse(t, testenv.NewClock())
		fake.SetDisguisedError("bad_verification_code")
		browser := testenv.NewBrowser(t)
		cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "inhouse", "chat", "U1"))
		failsCleanly(t, b, browser, cb)
		if len(fake.Issued()) != 0 {
			t.Errorf("tokens issued: %+v", fake.Issued())
		}
		answeredToken(t, fake)
	})
	t.Run("type github (goth)", func(t *testing.T) {
		b := testenv.StartBroker(t, fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      gh:
        type: github
        key: ck-gh
        secret: cs-gh-0123456789
        endpoints: {auth_url: "https://github.com/login/oauth/authorize", token_url: "https://github.com/login/oauth/access_token"}
`, testenv.KeyA))
		fake := providertest.NewStrictOAuth2(t, providertest.Entry{
			Spec:     config.Spec{AuthURL: "https://github.com/login/oauth/authorize", TokenURL: "https://github.com/login/oauth/access_token"},
			ClientID: "ck-gh", ClientSecret: "cs-gh-0123456789", RedirectURI: b.URL + "/bots/alpha/gh/callback",
		})
		fake.SetDisguisedError("bad_verification_code")
		providertest.NewRewriteTransport(fake.Rewrites()...).Install(t)
		browser := testenv.NewBrowser(t)
		cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "gh", "chat", "U1"))
		failsCleanly(t, b, browser, cb)
		answeredToken(t, fake)
	})
}

// failsCleanly opens the callback cb in browser: a 502 page that says the sign-in did not
// complete, without a stack trace, and nothing stored but the spent flow.
func failsCleanly(t *testing.T, b *testenv.Broker, browser *http.Client, cb string) {
	t.Helper()
	b.UnchangedExcept(t, []string{"flows"}, http.StatusBadGateway, "did not complete the sign-in", func() (int, string) {
		st, page, _ := testenv.GetPage(t, browser, cb)
		testenv.NoStackTrace(t, page)
		return st, page
	})
}

// answeredToken fails unless the first token request reached the fake and was accepted as
// a request, so the 502 comes from the fake's disguised error and not from a refusal. (goth
// exchanges through golang.org/x/oauth2, which repeats a failed exchange with the client
// credentials in the body; the strict fake refuses that second try.)
func answeredToken(t *testing.T, fake *providertest.StrictOAuth2) {
	t.Helper()
	for _, c := range fake.Calls() {
		if c.Endpoint == "token" {
			if c.Rejected != "" {
				t.Errorf("the fake refused the token request: %s", c.Rejected)
			}
			return
		}
	}
	t.Error("no token request reached the fake")
}

// TestHandWrittenOAuth2Provider: `type: oauth2` configured by hand against real OAuth 2
// servers that know nothing of it: the sandbox's plain endpoints (HTTP Basic client
// authentication, PKCE, its OpenID Connect userinfo), and mockoidc's (client credentials in
// the body, PKCE, userinfo). The profile comes from userinfo by JSON pointer.
func TestHandWrittenOAuth2Provider(t *testing.T) {
	t.Run("sandbox, basic auth", func(t *testing.T) {
		sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}}, AutoApprove: "1001"})
		if err != nil {
			t.Fatal(err)
		}
		var challenged, basic, verifier atomic.Bool // set by the server's goroutines
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/authorize":
				challenged.Store(r.URL.Query().Get("code_challenge_method") == "S256")
			case "/token":
				_, _, ok := r.BasicAuth()
				basic.Store(ok)
				verifier.Store(r.ParseForm() == nil && r.PostForm.Get("code_verifier") != "")
			}
			sb.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		b := testenv.StartBroker(t, fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      own:
        type: oauth2
        key: own-client
        secret: own-secret-0123456789
        auth_url: %[2]s/authorize
        token_url: %[2]s/token
        userinfo_url: %[2]s/v1/userinfo
        profile: {id: /sub, name: /name, email: /email, avatar: /picture}
        token_auth: basic
        pkce: true
        refresh: yes
        revocation_url: %[2]s/revoke
        scopes: [openid, email, profile]
`, testenv.KeyA, srv.URL))
		if err := sb.AddClient(sandbox.Client{ID: "own-client", Secret: "own-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/own/callback"}}); err != nil {
			t.Fatal(err)
		}
		id := b.LinkOne("alpha", testenv.KeyA, "own", "chat", "U1")
		if id.ProviderUserID != "1001" || id.Name != "Ada Lovelace" || id.Email != "ada@example.com" {
			t.Errorf("identity %+v, want the sandbox's Ada", id)
		}
		if g := sb.Issued(); len(g) != 1 || !challenged.Load() || !basic.Load() || !verifier.Load() {
			t.Errorf("issued %+v; challenge %v, Basic %v, verifier %v: want one exchange with PKCE and Basic",
				g, challenged.Load(), basic.Load(), verifier.Load())
		}
		if ev := b.Unlink("alpha", testenv.KeyA, id.ID); ev.Outcome != "revoked" || sb.Stats().Revocations != 1 {
			t.Errorf("unlink %+v, revocations %d", ev, sb.Stats().Revocations)
		}
	})
	t.Run("mockoidc, credentials in the body", func(t *testing.T) {
		m := testenv.StartMockOIDC(t)
		m.QueueUser(&mockoidc.MockUser{Subject: "kim-7", Email: "kim@example.com", PreferredUsername: "kim", EmailVerified: true})
		base := m.Addr() // the endpoints below carry their /oidc prefix
		b := testenv.StartBroker(t, fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      own:
        type: oauth2
        key: %s
        secret: %s
        auth_url: %s%s
        token_url: %[4]s%[6]s
        userinfo_url: %[4]s%[7]s
        profile: {id: /sub, nickname: /preferred_username, email: /email}
        token_auth: post
        scopes: [openid, email, profile]
`, testenv.KeyA, m.ClientID, m.ClientSecret, base, mockoidc.AuthorizationEndpoint, mockoidc.TokenEndpoint, mockoidc.UserinfoEndpoint))
		id := b.LinkOne("alpha", testenv.KeyA, "own", "chat", "U1")
		if id.ProviderUserID != "kim-7" || id.NickName != "kim" || id.Email != "kim@example.com" {
			t.Errorf("identity %+v, want mockoidc's kim", id)
		}
	})
}
