package providers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

var octo = sandbox.User{ID: "7", Login: "octo", Name: "Octo Cat", Email: "octo@example.com", AvatarURL: "https://avatars.test/7"}

// newSandbox starts the strict OAuth 2 sandbox, auto-approving as octo.
func newSandbox(t *testing.T, clients ...sandbox.Client) (*sandbox.Server, string) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Clients: clients, Users: []sandbox.User{octo}, AutoApprove: octo.ID})
	if err != nil {
		t.Fatal(err)
	}
	return sb, newServer(t, sb)
}

// newServer serves h until the test ends and returns its base URL.
func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// link2 runs an OAuth 2 flow without PKCE and returns the completed user.
func link2(t *testing.T, p *providers.Provider, extra []string) (providers.CallbackInput, string) {
	t.Helper()
	authURL, session, err := p.Begin("state-"+p.Name, extra, "")
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	q := providertest.FollowToCallback(t, nil, authURL, callbackOf(p.Bot, p.Name))
	if q.Get("state") != "state-"+p.Name || q.Get("code") == "" {
		t.Fatalf("callback %v: want our state and a code", q)
	}
	return providers.CallbackInput{Code: q.Get("code")}, session
}

func TestGitHubViaSandbox(t *testing.T) {
	t.Parallel()
	sb, base := newSandbox(t, sandbox.Client{ID: "gh-id", Secret: "gh-secret", RedirectURIs: []string{callbackOf("b", "github")}})
	p := only(t, &config.Provider{Name: "github", Type: "github", Key: "gh-id", Secret: "gh-secret", Scopes: []string{"read:user"},
		Endpoints: config.Endpoints{AuthURL: base + "/login/oauth/authorize", TokenURL: base + "/login/oauth/access_token",
			ProfileURL: base + "/user", EmailURL: base + "/user/emails"}}, providers.Options{})
	if p.APIBaseURL != base || p.CanRefresh || p.PKCE {
		t.Fatalf("APIBaseURL %q CanRefresh %v PKCE %v: want the sandbox base derived from profile_url, false, false", p.APIBaseURL, p.CanRefresh, p.PKCE)
	}
	// user:email is added by the link (incremental consent) and makes goth read /user/emails.
	in, session := link2(t, p, []string{"user:email"})
	user, err := p.Complete(session, []string{"user:email"}, in)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	g := sb.Issued()
	if user.ID != octo.ID || user.NickName != octo.Login || user.Email != octo.Email || len(g) != 1 || user.AccessToken != g[0].AccessToken {
		t.Fatalf("user %+v, sandbox issued %+v", user, g)
	}
	if len(g[0].Scopes) != 2 {
		t.Fatalf("granted scopes %v, want read:user and user:email", g[0].Scopes)
	}
	// The code is single-use at the sandbox.
	_, err = p.Complete(session, []string{"user:email"}, in)
	wantUpstream(t, err, in.Code, "gh-secret")
}

func TestGitLabViaSandbox(t *testing.T) {
	t.Parallel()
	sb, base := newSandbox(t, sandbox.Client{ID: "gl-id", Secret: "gl-secret", RedirectURIs: []string{callbackOf("b", "gitlab")}})
	p := only(t, &config.Provider{Name: "gitlab", Type: "gitlab", Key: "gl-id", Secret: "gl-secret", Scopes: []string{"read_user"},
		Endpoints: config.Endpoints{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", ProfileURL: base + "/api/v4/user"}},
		providers.Options{})
	if p.RevocationURL != base+"/oauth/revoke" || p.APIBaseURL != base+"/api/v4" || !p.CanRefresh {
		t.Fatalf("RevocationURL %q APIBaseURL %q CanRefresh %v", p.RevocationURL, p.APIBaseURL, p.CanRefresh)
	}
	in, session := link2(t, p, nil)
	user, err := p.Complete(session, nil, in)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if user.ID != octo.ID || user.NickName != octo.Login || user.RefreshToken == "" {
		t.Fatalf("user %+v", user)
	}
	tok, err := p.Refresh(context.Background(), user.RefreshToken)
	if err != nil || tok.AccessToken == "" || !sb.Live(tok.AccessToken) {
		t.Fatalf("Refresh: %v, %+v", err, tok)
	}
	if err := p.RevokeGrant(context.Background(), providers.Grant{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if sb.Live(tok.AccessToken) {
		t.Fatal("access token still live after revoking its refresh token")
	}
	// A revoked refresh token is refused with invalid_grant: the identity must re-link.
	_, err = p.Refresh(context.Background(), tok.RefreshToken)
	wantUpstream(t, err, tok.RefreshToken, "gl-secret")
	if !errors.Is(err, providers.ErrInvalidGrant) {
		t.Fatalf("Refresh of a revoked token: %v, want ErrInvalidGrant", err)
	}
}

func TestGitLabDefaultsAreV4(t *testing.T) {
	t.Parallel()
	p := only(t, &config.Provider{Name: "gitlab", Type: "gitlab", Key: "k", Secret: "s"}, providers.Options{})
	authURL, _, err := p.Begin("st", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://gitlab.com/oauth/authorize?"; authURL[:len(want)] != want {
		t.Fatalf("auth URL %s", authURL)
	}
	if p.APIBaseURL != "https://gitlab.com/api/v4" || p.RevocationURL != "https://gitlab.com/oauth/revoke" {
		t.Fatalf("APIBaseURL %q RevocationURL %q", p.APIBaseURL, p.RevocationURL)
	}
}

func TestSandboxType(t *testing.T) {
	t.Parallel()
	sb, base := newSandbox(t)
	c := cfg(bot("demo", &config.Provider{Name: "sandbox", Type: "sandbox"}))
	r := registry(t, c, providers.Options{SandboxURL: base})
	clients := r.SandboxClients()
	if len(clients) != 1 || clients[0].ClientSecret == "" || clients[0].RedirectURI != callbackOf("demo", "sandbox") {
		t.Fatalf("SandboxClients = %+v", clients)
	}
	if err := sb.AddClient(sandbox.Client{ID: clients[0].ClientID, Secret: clients[0].ClientSecret, RedirectURIs: []string{clients[0].RedirectURI}}); err != nil {
		t.Fatal(err)
	}
	p, _ := r.Lookup("demo", "sandbox")
	in, session := link2(t, p, nil)
	user, err := p.Complete(session, nil, in)
	if err != nil || user.ID != octo.ID {
		t.Fatalf("Complete: %v, %+v", err, user)
	}
	if err := p.RevokeGrant(context.Background(), providers.Grant{AccessToken: user.AccessToken}); err != nil || sb.Live(user.AccessToken) {
		t.Fatalf("Revoke: %v (live afterwards: %v)", err, sb.Live(user.AccessToken))
	}
}

func TestSandboxTypeNeedsURL(t *testing.T) {
	t.Parallel()
	_, err := providers.NewRegistry(context.Background(), cfg(bot("demo", &config.Provider{Name: "sandbox", Type: "sandbox"})), providers.Options{})
	if err == nil {
		t.Fatal("NewRegistry accepted a sandbox provider without Options.SandboxURL")
	}
}
