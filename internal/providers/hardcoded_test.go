package providers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// The goth types with hard-coded URLs (google, slack, discord, spotify, uber) run against
// the sandbox, reached through a RewriteTransport that sends their real hosts to it.

// fakeProvider is a sandbox posing as one real provider.
type fakeProvider struct {
	typ     string
	sb      *sandbox.Server
	rewrite *providertest.RewriteTransport
}

// newFakeProvider starts a sandbox that auto-approves as octo, registers the callback of
// bot "b"'s provider typ under typ+"-id"/typ+"-secret", and routes typ's real hosts to it.
// issuer is the ID tokens' iss ("" for the sandbox's own URL).
func newFakeProvider(t *testing.T, typ, issuer string) *fakeProvider {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{octo}, AutoApprove: octo.ID, Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.AddClient(sandbox.Client{ID: typ + "-id", Secret: typ + "-secret", RedirectURIs: []string{callbackOf("b", typ)}}); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, sb)
	return &fakeProvider{typ: typ, sb: sb, rewrite: providertest.NewRewriteTransport(providertest.SandboxRewrites(typ, srv)...)}
}

func (f *fakeProvider) client() *http.Client {
	return &http.Client{Transport: f.rewrite, Timeout: testTimeout}
}

// provider builds bot "b"'s provider of the fake's type with its credentials, reaching it
// through the rewrite unless opts has a client.
func (f *fakeProvider) provider(t *testing.T, scopes []string, options map[string]string, opts providers.Options) *providers.Provider {
	t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = f.client()
	}
	return only(t, &config.Provider{Name: f.typ, Type: f.typ, Key: f.typ + "-id", Secret: f.typ + "-secret", Scopes: scopes, Options: options}, opts)
}

// link runs Begin, the browser and Complete, checks the identity is octo with the tokens
// the sandbox issued, and refreshes when the type can.
func (f *fakeProvider) link(t *testing.T, p *providers.Provider, browser *http.Client, pkce bool) (accessToken, refreshToken string) {
	t.Helper()
	verifier, challenge := "", ""
	if pkce {
		verifier, challenge = pkcePair()
	}
	authURL, session, err := p.Begin("st-"+p.Name, nil, challenge)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	cb := providertest.FollowToCallback(t, browser, authURL, callbackOf("b", p.Name))
	if cb.Get("state") != "st-"+p.Name || cb.Get("code") == "" {
		t.Fatalf("callback %v", cb)
	}
	user, err := p.Complete(session, nil, providers.CallbackInput{Code: cb.Get("code"), CodeVerifier: verifier})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	issued := f.sb.Issued()
	if len(issued) != 1 || user.AccessToken != issued[0].AccessToken || user.RefreshToken != issued[0].RefreshToken ||
		user.ID != octo.ID || user.Email != octo.Email {
		t.Fatalf("user %+v; sandbox issued %+v", user, issued)
	}
	if p.CanRefresh {
		tok, err := p.Refresh(context.Background(), user.RefreshToken)
		if g := f.sb.Issued(); err != nil || len(g) != 2 || tok.AccessToken != g[1].AccessToken || g[1].GrantType != "refresh_token" {
			t.Fatalf("Refresh: %v %+v; sandbox issued %+v", err, tok, g)
		}
	}
	return user.AccessToken, user.RefreshToken
}

func TestHardcodedTypes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		typ    string
		scopes []string // beyond goth's defaults, what the email needs
		revoke bool
	}{
		{"slack-classic", []string{"users:read", "users:read.email"}, false},
		{"spotify", nil, false}, // goth always asks for user-read-email
		{"uber", nil, true},
	} {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			f := newFakeProvider(t, tt.typ, "")
			p := f.provider(t, tt.scopes, nil, providers.Options{})
			access, _ := f.link(t, p, f.client(), false)
			if tt.revoke {
				if err := p.RevokeGrant(context.Background(), providers.Grant{AccessToken: access}); err != nil || f.sb.Live(access) {
					t.Fatalf("Revoke: %v (live afterwards: %v)", err, f.sb.Live(access))
				}
			}
		})
	}
}

// goth's discord exchanges the code and refreshes with oauth2.NoContext, i.e.
// http.DefaultClient: the rewrite must be installed into http.DefaultTransport, so this
// test does not run in parallel (see providertest.RewriteTransport).
func TestDiscordUsesDefaultClient(t *testing.T) {
	f := newFakeProvider(t, "discord", "")
	f.rewrite.Install(t)
	plain := &http.Client{Timeout: testTimeout}
	p := f.provider(t, []string{"identify", "email"}, nil, providers.Options{HTTPClient: plain})
	access, _ := f.link(t, p, plain, false)
	if err := p.RevokeGrant(context.Background(), providers.Grant{AccessToken: access}); err != nil || f.sb.Live(access) {
		t.Fatalf("Revoke: %v (live afterwards: %v)", err, f.sb.Live(access))
	}
}

// Google is goth's openid-connect provider with Google's fixed endpoints; the sandbox
// answers for them with Google's issuer, so goth's checks of the ID token's iss, aud and
// exp run as they would against Google.
func TestGoogle(t *testing.T) {
	t.Parallel()
	f := newFakeProvider(t, "google", "https://accounts.google.com")
	p := f.provider(t, nil, map[string]string{"hosted_domain": "example.com"}, providers.Options{})
	if !p.PKCE || !p.CanRefresh || p.RevocationURL != "https://oauth2.googleapis.com/revoke" {
		t.Fatalf("PKCE %v CanRefresh %v RevocationURL %q", p.PKCE, p.CanRefresh, p.RevocationURL)
	}
	_, challenge := pkcePair()
	authURL, _, err := p.Begin("st", nil, challenge)
	if err != nil {
		t.Fatal(err)
	}
	q := must(url.Parse(authURL)).Query()
	if !strings.HasPrefix(authURL, "https://accounts.google.com/o/oauth2/v2/auth?") || q.Get("prompt") != "consent" ||
		q.Get("access_type") != "offline" || q.Get("hd") != "example.com" || q.Get("scope") != "openid email profile" ||
		q.Get("code_challenge") != challenge || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("auth URL %s: want Google's, with prompt=consent, access_type=offline, hd, default scopes and the challenge", authURL)
	}

	access, refresh := f.link(t, p, f.client(), true)
	if g := f.sb.Issued(); g[0].IDToken == "" || len(g[0].Scopes) != 3 {
		t.Fatalf("sandbox issued %+v: want an ID token for openid email profile", g)
	}
	if err := p.RevokeGrant(context.Background(), providers.Grant{AccessToken: access, RefreshToken: refresh}); err != nil || f.sb.Live(access) || f.sb.Live(refresh) {
		t.Fatalf("Revoke: %v; access live %v, refresh live %v", err, f.sb.Live(access), f.sb.Live(refresh))
	}
}

func TestGoogleRefusals(t *testing.T) {
	t.Parallel()
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		t.Parallel()
		f := newFakeProvider(t, "google", "https://accounts.google.com")
		p := f.provider(t, nil, nil, providers.Options{})
		_, challenge := pkcePair()
		authURL, session, err := p.Begin("st", nil, challenge)
		if err != nil {
			t.Fatal(err)
		}
		cb := providertest.FollowToCallback(t, f.client(), authURL, callbackOf("b", "google"))
		forged := "forged-" + strings.Repeat("v", 40)
		_, err = p.Complete(session, nil, providers.CallbackInput{Code: cb.Get("code"), CodeVerifier: forged})
		wantUpstream(t, err, cb.Get("code"), forged, "google-secret")
		if !errors.Is(err, providers.ErrInvalidGrant) || len(f.sb.Issued()) != 0 {
			t.Fatalf("error %v, issued %+v: want invalid_grant and nothing issued", err, f.sb.Issued())
		}
	})
	t.Run("ID token from another issuer", func(t *testing.T) {
		t.Parallel()
		// The sandbox signs with its own URL as iss; the provider expects Google's.
		f := newFakeProvider(t, "google", "")
		p := f.provider(t, nil, nil, providers.Options{})
		authURL, session, err := p.Begin("st", nil, "")
		if err != nil {
			t.Fatal(err)
		}
		cb := providertest.FollowToCallback(t, f.client(), authURL, callbackOf("b", "google"))
		_, err = p.Complete(session, nil, providers.CallbackInput{Code: cb.Get("code")})
		wantUpstream(t, err, cb.Get("code"), "google-secret")
		if !strings.Contains(err.Error(), "issuer") {
			t.Fatalf("error %q: want the issuer refused", err)
		}
	})
	t.Run("Google's legacy issuer is accepted", func(t *testing.T) {
		t.Parallel()
		// Google documents iss as "https://accounts.google.com" or "accounts.google.com".
		f := newFakeProvider(t, "google", "accounts.google.com")
		f.link(t, f.provider(t, nil, nil, providers.Options{}), f.client(), false)
	})
}

// Slack reports failure as 200 {"ok":false}; goth then returns a user without an id,
// which Complete must refuse.
func TestSlackRefusesNothingSilently(t *testing.T) {
	t.Parallel()
	f := newFakeProvider(t, "slack-classic", "")
	// Slack refusing the token it has just issued (say, the app was uninstalled between
	// the exchange and the profile call).
	f.rewrite.Rules = append([]providertest.Rewrite{
		providertest.Canned(t, "slack.com", "/api/auth.test", http.StatusOK, `{"ok":false,"error":"invalid_auth"}`),
	}, f.rewrite.Rules...)
	p := f.provider(t, nil, nil, providers.Options{})
	authURL, session, err := p.Begin("st", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cb := providertest.FollowToCallback(t, f.client(), authURL, callbackOf("b", "slack-classic"))
	_, err = p.Complete(session, nil, providers.CallbackInput{Code: cb.Get("code")})
	wantUpstream(t, err, "slack-secret", cb.Get("code"), f.sb.Issued()[0].AccessToken)
	if !strings.Contains(err.Error(), "no user id") {
		t.Fatalf("error %q, want no user id", err)
	}
}
