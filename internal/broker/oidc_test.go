package broker_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestOpenIDConnectFlow: an openid-connect provider configured by its discovery URL, against
// mockoidc, which checks the client secret and the PKCE verifier the broker must send.
func TestOpenIDConnectFlow(t *testing.T) {
	var challenged, verified atomic.Bool // set by the provider's goroutines
	m := testenv.StartMockOIDC(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == mockoidc.AuthorizationEndpoint && r.URL.Query().Get("code_challenge_method") == "S256" {
				challenged.Store(true)
			}
			if r.URL.Path == mockoidc.TokenEndpoint && r.ParseForm() == nil && r.PostForm.Get("code_verifier") != "" {
				verified.Store(true)
			}
			next.ServeHTTP(w, r)
		})
	})
	m.QueueUser(&mockoidc.MockUser{Subject: "oidc-user-7", Email: "kim@example.com", PreferredUsername: "kim", EmailVerified: true})

	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
		Provider("sso", "openid-connect", m.ClientID, m.ClientSecret,
			testenv.DiscoveryURL(m.DiscoveryEndpoint()), testenv.Scopes("openid", "email", "profile"))}})

	browser := testenv.NewBrowser(t)
	cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "sso", "teams", "29:abc"))
	if !strings.Contains(cb, "code=") {
		t.Fatalf("callback without a code: %s", cb)
	}
	if st, page := testenv.Visit(t, browser, cb); st != http.StatusOK {
		t.Fatalf("callback: %d\n%s", st, page)
	}
	if !challenged.Load() || !verified.Load() {
		t.Errorf("PKCE not used: challenge sent %v, verifier sent %v", challenged.Load(), verified.Load())
	}
	ids := b.Identities("alpha", testenv.KeyA, "teams", "29:abc")
	if len(ids) != 1 || ids[0].ProviderUserID != "oidc-user-7" || ids[0].Email != "kim@example.com" {
		t.Fatalf("identities = %+v", ids)
	}
	creds := b.Credentials("alpha", testenv.KeyA, ids[0].ID)
	// mockoidc's access tokens are JWTs signed with its key: one that verifies, for our
	// user, is one mockoidc issued.
	tok, err := m.Keypair.VerifyJWT(creds.AccessToken, m.Now)
	if err != nil {
		t.Fatalf("the access token handed to the bot was not issued by the provider: %v", err)
	}
	if sub, _ := tok.Claims.GetSubject(); sub != "oidc-user-7" {
		t.Errorf("access token subject %q", sub)
	}
}
