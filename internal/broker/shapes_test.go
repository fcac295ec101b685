package broker_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestCatalogAgainstProviderShapes runs catalog entries, unchanged, against fakes written
// from the providers' own documentation (providertest/shapes*.go): where a strict fake
// checks that the broker does what an entry says, these check that the entry says what the
// provider does. Link, refresh (twice: a rotated refresh token must have been stored),
// one proxied call of the provider's API, and unlink with or without revocation as the
// provider documents it.
func TestCatalogAgainstProviderShapes(t *testing.T) {
	for _, tc := range []struct {
		typ     string
		options map[string]string
		start   func(testing.TB, providertest.ShapeClient) *providertest.Shape
	}{
		{"notion", nil, providertest.NewNotionShape},
		{"slack", nil, providertest.NewSlackShape},
		{"atlassian", nil, providertest.NewAtlassianShape},
		{"reddit", nil, providertest.NewRedditShape},
		{"x", nil, providertest.NewXShape},
		{"microsoft", map[string]string{"tenant": "contoso.example"}, func(t testing.TB, c providertest.ShapeClient) *providertest.Shape {
			return providertest.NewMicrosoftShape(t, c, "contoso.example")
		}},
		{"dropbox", nil, providertest.NewDropboxShape},
		{"linear", nil, providertest.NewLinearShape},
		{"trello", nil, providertest.NewTrelloShape},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			clk := testenv.NewClock()
			var opts []testenv.ProviderOption
			if tc.options != nil {
				opts = append(opts, testenv.Options(tc.options))
			}
			b := testenv.Start(t, testenv.Config{
				Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
					Provider(tc.typ, tc.typ, "shape-client", "shape-secret-0123456789", opts...)},
				App: app.Options{Now: clk.Now},
			})
			shape := tc.start(t, providertest.ShapeClient{ID: "shape-client", Secret: "shape-secret-0123456789", RedirectURI: b.URL + "/bots/alpha/" + tc.typ + "/callback"})
			providertest.NewRewriteTransport(shape.Rewrites()...).Install(t)
			reg, err := providers.NewRegistry(t.Context(), b.App.Cfg, providers.Options{})
			if err != nil {
				t.Fatal(err)
			}
			p, _ := reg.Lookup("alpha", tc.typ)

			id := b.LinkOne("alpha", testenv.KeyA, tc.typ, "chat", "U1")
			a := shape.Account
			for _, f := range [][3]string{{"id", id.ProviderUserID, a.ID}, {"name", id.Name, a.Name}, {"nickname", id.NickName, a.NickName}, {"email", id.Email, a.Email}} {
				if f[2] != "" && f[1] != f[2] {
					t.Errorf("%s %q, want the provider's %q", f[0], f[1], f[2])
				}
			}
			if c := b.Credentials("alpha", testenv.KeyA, id.ID); c.AccessToken != shape.Issued()[0] {
				t.Fatalf("credentials %q, the provider issued %q", c.AccessToken, shape.Issued())
			}
			if p.CanRefresh != shape.Refresh {
				t.Errorf("entry refreshes: %v, the provider issues refresh tokens: %v", p.CanRefresh, shape.Refresh)
			}
			for i := 1; shape.Refresh && i <= 2; i++ {
				clk.Advance(25 * time.Hour) // past every expires_in the fakes give
				if c, issued := b.Credentials("alpha", testenv.KeyA, id.ID), shape.Issued(); len(issued) != i+1 || c.AccessToken != issued[i] {
					t.Fatalf("refresh %d: credentials %q, the provider issued %q", i, c.AccessToken, issued)
				}
			}

			method := shape.APIMethod
			if method == "" {
				method = http.MethodGet
			}
			r := b.Call(method, testenv.ProxyPath("alpha", id.ID, shape.APICall), testenv.KeyA, nil, nil)
			if r.Status != http.StatusOK {
				t.Errorf("proxied %s %s: %d %s", method, shape.APICall, r.Status, r.Body)
			}

			ev := b.Unlink("alpha", testenv.KeyA, id.ID)
			if p.CanRevoke() != shape.Revokes {
				t.Errorf("entry revokes: %v, the provider documents revocation: %v", p.CanRevoke(), shape.Revokes)
			}
			if shape.Revokes && (ev.Outcome != "revoked" || len(shape.Revoked()) != 1) {
				t.Errorf("unlink %+v, revoked at the provider %q", ev, shape.Revoked())
			}
			if refused := shape.Refused(); len(refused) > 0 {
				t.Errorf("the provider refused:\n%s", strings.Join(refused, "\n"))
			}
		})
	}
}
