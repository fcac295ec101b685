package providers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
)

// linkHardcoded runs a whole flow for a type with hard-coded URLs against the OAuth2 fake,
// reaching it through client (a RewriteTransport) and checking the credentials are the
// ones the fake issued.
func linkHardcoded(t *testing.T, typ string, client *http.Client, opts providers.Options, pkce bool) {
	t.Helper()
	fake := providertest.NewOAuth2(t, providertest.OAuth2Client{ID: typ + "-id", Secret: typ + "-secret", RedirectURI: callbackOf("b", typ)})
	rt := providertest.NewRewriteTransport(fake.Rewrites(typ)...)
	if client == nil {
		client = &http.Client{Transport: rt, Timeout: testTimeout}
		opts.HTTPClient = client
	} else {
		rt.Install(t)
	}
	p := only(t, &config.Provider{Name: typ, Type: typ, Key: typ + "-id", Secret: typ + "-secret"}, opts)
	verifier, challenge := "", ""
	if pkce {
		verifier, challenge = pkcePair()
	}
	authURL, session, err := p.Begin("st-"+typ, nil, challenge)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	cb := providertest.FollowToCallback(t, client, authURL, callbackOf("b", typ))
	if cb.Get("state") != "st-"+typ || cb.Get("code") == "" {
		t.Fatalf("callback %v", cb)
	}
	user, err := p.Complete(session, nil, providers.CallbackInput{Code: cb.Get("code"), CodeVerifier: verifier})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	issued := fake.Issued()
	want := providertest.DefaultOAuth2User
	if len(issued) != 1 || user.AccessToken != issued[0].AccessToken || user.UserID != want.ID || user.Email != want.Email {
		t.Fatalf("user %+v; fake issued %+v", user, issued)
	}
	if p.CanRefresh {
		tok, err := p.Refresh(context.Background(), user.RefreshToken)
		if err != nil || len(fake.Issued()) != 2 || tok.AccessToken != fake.Issued()[1].AccessToken {
			t.Fatalf("Refresh: %v %+v", err, tok)
		}
	}
}

func TestHardcodedTypes(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"google", "slack", "spotify", "uber"} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			linkHardcoded(t, typ, nil, providers.Options{}, false)
		})
	}
	t.Run("google with PKCE", func(t *testing.T) {
		t.Parallel()
		linkHardcoded(t, "google", nil, providers.Options{}, true)
	})
}

// goth's discord exchanges the code with oauth2.NoContext, i.e. http.DefaultClient: the
// rewrite must be installed into http.DefaultTransport, so this test does not run in
// parallel (see providertest.RewriteTransport).
func TestDiscordUsesDefaultClient(t *testing.T) {
	linkHardcoded(t, "discord", &http.Client{Timeout: testTimeout}, providers.Options{HTTPClient: &http.Client{Timeout: testTimeout}}, false)
}

func TestSlackRefusesNothingSilently(t *testing.T) {
	t.Parallel()
	// Slack reports failure as 200 {"ok":false}; goth then returns a user without an id,
	// which Complete must refuse.
	fake := providertest.NewOAuth2(t, providertest.OAuth2Client{ID: "id", Secret: "sec", RedirectURI: callbackOf("b", "slack")})
	rt := providertest.NewRewriteTransport(fake.Rewrites("slack")...)
	rt.Rules[2].To = fake.URL() + "/slack/users.info" // auth.test now answers users.info's ok:false
	client := &http.Client{Transport: rt, Timeout: testTimeout}
	p := only(t, &config.Provider{Name: "slack", Type: "slack", Key: "id", Secret: "sec"}, providers.Options{HTTPClient: client})
	authURL, session, err := p.Begin("st", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cb := providertest.FollowToCallback(t, client, authURL, callbackOf("b", "slack"))
	_, err = p.Complete(session, nil, providers.CallbackInput{Code: cb.Get("code")})
	wantUpstream(t, err, "sec", cb.Get("code"))
	if !strings.Contains(err.Error(), "no user id") {
		t.Fatalf("error %q, want no user id", err)
	}
}
