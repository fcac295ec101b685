package sandbox_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/github"
	"github.com/markbates/goth/providers/gitlab"
	"golang.org/x/oauth2"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// authStyles records, per token request, whether the client authenticated with HTTP Basic.
type authStyles struct {
	mu    sync.Mutex
	basic []bool
}

func (a *authStyles) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sandbox/token" || r.URL.Path == "/sandbox/oauth/token" {
			_, _, ok := r.BasicAuth()
			a.mu.Lock()
			a.basic = append(a.basic, ok)
			a.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// gothFlow drives a goth provider the way the broker does: BeginAuth, the browser visits
// the auth URL (auto-approved), then Authorize with the code from the callback.
func gothFlow(t *testing.T, f *fixture, p goth.Provider) goth.Session {
	t.Helper()
	const state = "goth-state-0123456789"
	sess, err := p.BeginAuth(state)
	if err != nil {
		t.Fatal(err)
	}
	authURL, err := sess.GetAuthURL()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, authURL, nil)
	code := codeFrom(t, f.do(f.browser, req), appCallback, state)
	if _, err := sess.Authorize(p, url.Values{"code": {code}}); err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	return sess
}

func TestGothGitLab(t *testing.T) {
	styles := &authStyles{}
	f := newFixtureWith(t, func(o *sandbox.Options) { o.AutoApprove = ada.ID }, styles.wrap)

	p := gitlab.NewCustomisedURL(appID, appSecret, appCallback,
		f.base+"/oauth/authorize", f.base+"/oauth/token", f.base+"/api/v4/user", "read_user")
	p.HTTPClient = f.ts.Client()
	sess := gothFlow(t, f, p)
	user, err := p.FetchUser(sess)
	if err != nil {
		t.Fatalf("FetchUser: %v", err)
	}

	issued := f.srv.Issued()
	if len(issued) != 1 {
		t.Fatalf("Issued() = %+v, want one grant", issued)
	}
	want := goth.User{UserID: "1001", NickName: "ada", Name: "Ada Lovelace", Email: ada.Email, AvatarURL: ada.AvatarURL,
		AccessToken: issued[0].AccessToken, RefreshToken: issued[0].RefreshToken}
	if user.UserID != want.UserID || user.NickName != want.NickName || user.Name != want.Name || user.Email != want.Email ||
		user.AvatarURL != want.AvatarURL || user.AccessToken != want.AccessToken || user.RefreshToken != want.RefreshToken {
		t.Fatalf("goth.User = %+v\nwant        %+v", user, want)
	}
	if user.ExpiresAt.IsZero() {
		t.Error("ExpiresAt is zero: expires_in did not reach goth")
	}

	t.Run("refresh through goth", func(t *testing.T) {
		tok, err := p.RefreshToken(user.RefreshToken)
		if err != nil {
			t.Fatalf("RefreshToken: %v", err)
		}
		if g := f.srv.Issued(); len(g) != 2 || tok.AccessToken != g[1].AccessToken || tok.RefreshToken != user.RefreshToken {
			t.Fatalf("refreshed %+v, Issued() %+v", tok, g)
		}
	})
	t.Run("x/oauth2 authenticates with HTTP Basic first", func(t *testing.T) {
		styles.mu.Lock()
		defer styles.mu.Unlock()
		if len(styles.basic) == 0 || !styles.basic[0] {
			t.Fatalf("token requests used Basic: %v", styles.basic)
		}
	})
}

func TestGothGitHub(t *testing.T) {
	newProvider := func(f *fixture, scopes ...string) *github.Provider {
		p := github.NewCustomisedURL(appID, appSecret, appCallback,
			f.base+"/login/oauth/authorize", f.base+"/login/oauth/access_token", f.base+"/user", f.base+"/user/emails", scopes...)
		p.HTTPClient = f.ts.Client()
		return p
	}

	t.Run("profile with email", func(t *testing.T) {
		f := autoFixture(t, nil)
		p := newProvider(f, "read:user")
		user, err := p.FetchUser(gothFlow(t, f, p))
		if err != nil {
			t.Fatalf("FetchUser: %v", err)
		}
		issued := f.srv.Issued()
		if len(issued) != 1 || user.AccessToken != issued[0].AccessToken {
			t.Fatalf("access token %q, Issued() %+v", user.AccessToken, issued)
		}
		if user.UserID != "1001" || user.NickName != "ada" || user.Name != "Ada Lovelace" || user.Email != ada.Email ||
			user.AvatarURL != ada.AvatarURL || user.Provider != "github" {
			t.Fatalf("goth.User = %+v", user)
		}
	})
	t.Run("no public email, user:email scope, no verified address", func(t *testing.T) {
		f := newFixture(t, func(o *sandbox.Options) { o.AutoApprove = grace.ID })
		p := newProvider(f, "user:email")
		_, err := p.FetchUser(gothFlow(t, f, p))
		if !errors.Is(err, github.ErrNoVerifiedGitHubPrimaryEmail) {
			t.Fatalf("FetchUser error %v, want ErrNoVerifiedGitHubPrimaryEmail", err)
		}
	})
	t.Run("wrong client secret fails Authorize", func(t *testing.T) {
		f := autoFixture(t, nil)
		p := github.NewCustomisedURL(appID, "guess", appCallback,
			f.base+"/authorize", f.base+"/token", f.base+"/user", f.base+"/user/emails")
		p.HTTPClient = f.ts.Client()
		sess, _ := p.BeginAuth("s")
		authURL, _ := sess.GetAuthURL()
		req, _ := http.NewRequest(http.MethodGet, authURL, nil)
		code := codeFrom(t, f.do(f.browser, req), appCallback, "s")
		var rerr *oauth2.RetrieveError
		if _, err := sess.Authorize(p, url.Values{"code": {code}}); !errors.As(err, &rerr) || rerr.ErrorCode != "invalid_client" {
			t.Fatalf("Authorize error %v, want invalid_client", err)
		}
		// x/oauth2 tried Basic, then the body.
		wantRejected(t, f.srv, sandbox.ReasonBadClientSecret, 2)
	})
}

// The broker's own PKCE path: x/oauth2 with S256ChallengeOption and VerifierOption, and
// each client authentication style pinned.
func TestOAuth2ClientPKCE(t *testing.T) {
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams, oauth2.AuthStyleAutoDetect} {
		t.Run(map[oauth2.AuthStyle]string{1: "in params", 2: "in header", 0: "auto-detect"}[style], func(t *testing.T) {
			f := autoFixture(t, func(o *sandbox.Options) { o.RotateRefresh = true })
			cfg := &oauth2.Config{ClientID: appID, ClientSecret: appSecret, RedirectURL: appCallback, Scopes: []string{"read:user"},
				Endpoint: oauth2.Endpoint{AuthURL: f.base + "/authorize", TokenURL: f.base + "/token", AuthStyle: style}}
			v := oauth2.GenerateVerifier()
			req, _ := http.NewRequest(http.MethodGet, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)), nil)
			code := codeFrom(t, f.do(f.browser, req), appCallback, "st")
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.ts.Client())
			tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			next, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil || next.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh: %v, rotated %v", err, next != nil && next.RefreshToken != tok.RefreshToken)
			}
		})
	}
}
