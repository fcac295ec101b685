package broker_test

import (
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestRefreshAtTheRealHosts: the types whose URLs goth hard-codes refresh through the path
// the broker really uses for each (goth's refresh with our client; for google our own OAuth 2
// config; for discord goth's refresh through the default client), against the sandbox at the
// providers' real hosts (openid-connect: at its discovery URL). Not parallel: it replaces
// http.DefaultTransport.
func TestRefreshAtTheRealHosts(t *testing.T) {
	for _, tc := range []struct{ typ, issuer string }{
		{"google", "https://accounts.google.com"}, {"discord", ""}, {"spotify", ""}, {"uber", ""}, {"openid-connect", ""},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			sb, opts := testenv.TypeSandbox(t, tc.typ, tc.issuer)
			clk := testenv.NewClock()
			b := testenv.Start(t, testenv.Config{
				Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
					Provider("p", tc.typ, "p-client", "p-secret-0123456789", opts...)},
				App: app.Options{Now: clk.Now},
			})
			if err := sb.AddClient(sandbox.Client{ID: "p-client", Secret: "p-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/p/callback"}}); err != nil {
				t.Fatal(err)
			}
			id := b.LinkOne("alpha", testenv.KeyA, "p", "slack", "U1")
			clk.Advance(59*time.Minute + 30*time.Second)
			c := b.Credentials("alpha", testenv.KeyA, id.ID)
			g := sb.Issued()
			if st := sb.Stats(); st.Refreshes != 1 || len(g) != 2 || c.AccessToken != g[1].AccessToken {
				t.Fatalf("%d refreshes; credentials %.12s…; issued %+v", st.Refreshes, c.AccessToken, g)
			}
			if r := sb.Stats().Rejected; len(r) != 0 {
				t.Errorf("the provider rejected requests: %v", r)
			}
		})
	}
}
