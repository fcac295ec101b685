package providers_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// newMockOIDC starts one mock per test: its session map is not synchronised.
func newMockOIDC(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

func pkcePair() (verifier, challenge string) {
	verifier = "verifier-" + strings.Repeat("x7", 24)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestOIDCFlowWithPKCE(t *testing.T) {
	t.Parallel()
	m := newMockOIDC(t)
	p := only(t, &config.Provider{Name: "sso", Type: "openid-connect", Key: m.ClientID, Secret: m.ClientSecret,
		DiscoveryURL: m.DiscoveryEndpoint(), Scopes: []string{"email"}}, providers.Options{})
	if !p.PKCE || !p.CanRefresh {
		t.Fatalf("PKCE/CanRefresh = %v/%v, want true/true", p.PKCE, p.CanRefresh)
	}
	verifier, challenge := pkcePair()
	authURL, session, err := p.Begin("state-123", []string{"profile", "email"}, challenge)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	if q.Get("code_challenge") != challenge || q.Get("code_challenge_method") != "S256" ||
		q.Get("scope") != "openid email profile" || q.Get("redirect_uri") != callbackOf("b", "sso") {
		t.Fatalf("auth URL %s: want the challenge, scopes \"openid email profile\" and the callback", authURL)
	}
	cb := providertest.FollowToCallback(t, nil, authURL, callbackOf("b", "sso"))
	if cb.Get("state") != "state-123" {
		t.Fatalf("callback state %q", cb.Get("state"))
	}
	user, err := p.Complete(session, []string{"profile", "email"}, providers.CallbackInput{Code: cb.Get("code"), CodeVerifier: verifier})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	def := mockoidc.DefaultUser()
	if user.ID != def.Subject || user.Email != def.Email || user.AccessToken == "" || user.RefreshToken == "" {
		t.Fatalf("user %+v: want %s/%s with access, refresh and ID tokens", user, def.Subject, def.Email)
	}
	tok, err := p.Refresh(context.Background(), user.RefreshToken)
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("Refresh: %v, %+v", err, tok)
	}
}

func TestOIDCWrongVerifier(t *testing.T) {
	t.Parallel()
	m := newMockOIDC(t)
	p := only(t, &config.Provider{Name: "sso", Type: "openid-connect", Key: m.ClientID, Secret: m.ClientSecret,
		DiscoveryURL: m.DiscoveryEndpoint()}, providers.Options{})
	_, challenge := pkcePair()
	authURL, session, err := p.Begin("s", nil, challenge)
	if err != nil {
		t.Fatal(err)
	}
	cb := providertest.FollowToCallback(t, nil, authURL, callbackOf("b", "sso"))
	forged := "forged-" + strings.Repeat("v", 40)
	_, err = p.Complete(session, nil, providers.CallbackInput{Code: cb.Get("code"), CodeVerifier: forged})
	// mockoidc quotes the code in its error body; none of it may reach the message.
	wantUpstream(t, err, cb.Get("code"), forged, m.ClientSecret)
	var ue *providers.UpstreamError
	if !errors.As(err, &ue) || ue.Step != "exchange" || ue.OAuthCode != "invalid_grant" || !errors.Is(err, providers.ErrInvalidGrant) {
		t.Fatalf("error %#v: want an exchange failure with invalid_grant", err)
	}
}

// openid-connect configured by discovery against the sandbox, which signs its ID tokens
// and names its own URL as issuer; the same flow as TestOIDCFlowWithPKCE against mockoidc.
func TestOIDCDiscoveryViaSandbox(t *testing.T) {
	t.Parallel()
	sb, base := newSandbox(t, sandbox.Client{ID: "sso-id", Secret: "sso-secret", RedirectURIs: []string{callbackOf("b", "sso")}})
	p := only(t, &config.Provider{Name: "sso", Type: "openid-connect", Key: "sso-id", Secret: "sso-secret",
		DiscoveryURL: base + "/.well-known/openid-configuration", Scopes: []string{"email"}}, providers.Options{})
	if !p.PKCE || !p.CanRefresh || p.RevocationURL != base+"/revoke" {
		t.Fatalf("PKCE %v CanRefresh %v RevocationURL %q: want true, true and the discovered endpoint", p.PKCE, p.CanRefresh, p.RevocationURL)
	}
	verifier, challenge := pkcePair()
	authURL, session, err := p.Begin("state-123", []string{"profile"}, challenge)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if q := must(url.Parse(authURL)).Query(); !strings.HasPrefix(authURL, base+"/authorize?") || q.Get("scope") != "openid email profile" {
		t.Fatalf("auth URL %s: want the discovered endpoint and scopes \"openid email profile\"", authURL)
	}
	cb := providertest.FollowToCallback(t, nil, authURL, callbackOf("b", "sso"))
	user, err := p.Complete(session, []string{"profile"}, providers.CallbackInput{Code: cb.Get("code"), CodeVerifier: verifier})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	g := sb.Issued()
	if len(g) != 1 || user.AccessToken != g[0].AccessToken || user.RefreshToken != g[0].RefreshToken {
		t.Fatalf("user %+v; sandbox issued %+v", user, g)
	}
	if user.ID != octo.ID || user.Email != octo.Email || user.Name != octo.Name || user.NickName != octo.Login {
		t.Fatalf("user %+v: want octo", user)
	}
	tok, err := p.Refresh(context.Background(), user.RefreshToken)
	if err != nil || tok.AccessToken != sb.Issued()[1].AccessToken {
		t.Fatalf("Refresh: %v, %+v", err, tok)
	}
	if err := p.RevokeGrant(context.Background(), providers.Grant{AccessToken: user.AccessToken, RefreshToken: user.RefreshToken}); err != nil || sb.Live(tok.AccessToken) {
		t.Fatalf("Revoke: %v (access token live afterwards: %v)", err, sb.Live(tok.AccessToken))
	}
}

func TestOIDCDiscoveryFailures(t *testing.T) {
	t.Parallel()
	for name, handler := range map[string]http.HandlerFunc{
		"not found": func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"not JSON":  func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) },
		"huge": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"` + strings.Repeat("a", 2<<20) + `"}`))
		},
		"foreign issuer": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"https://evil.example","authorization_endpoint":"https://evil.example/a","token_endpoint":"https://evil.example/t"}`))
		},
		"no endpoints": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"issuer":"http://` + r.Host + `"}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(handler)
			t.Cleanup(srv.Close)
			_, err := providers.NewRegistry(context.Background(), cfg(bot("b", &config.Provider{Name: "sso", Type: "openid-connect",
				Key: "k", Secret: "s", DiscoveryURL: srv.URL + "/.well-known/openid-configuration"})), providers.Options{HTTPClient: &http.Client{Timeout: testTimeout}})
			wantUpstream(t, err)
			if !strings.Contains(err.Error(), "b/sso") {
				t.Fatalf("error %q does not name the bot and provider", err)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
