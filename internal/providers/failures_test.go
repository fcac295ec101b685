package providers_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
)

// upstreamStub serves a token endpoint and a profile endpoint with the given handlers.
func upstreamStub(t *testing.T, token, profile http.HandlerFunc) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/token", token)
	mux.HandleFunc("/profile", profile)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func tokenAnswer(body map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}
}

// hang never answers until the client gives up. It reads the body first: only then does
// net/http watch the connection and cancel r.Context() when the client hangs up.
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func gitlabAt(base string) *config.Provider {
	return &config.Provider{Name: "gl", Type: "gitlab", Key: "gl-id", Secret: "gl-client-secret",
		Endpoints: config.Endpoints{AuthURL: base + "/authorize", TokenURL: base + "/token", ProfileURL: base + "/profile"}}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	const timeout = 400 * time.Millisecond
	opts := providers.Options{HTTPClient: &http.Client{Timeout: timeout}}
	// Each case must fail within about one timeout: the deadline covers the whole
	// operation, including golang.org/x/oauth2's second try with the other auth style.
	check := func(t *testing.T, start time.Time, err error, secrets ...string) {
		t.Helper()
		wantUpstream(t, err, secrets...)
		var ue *providers.UpstreamError
		if !errors.As(err, &ue) || !ue.Timeout {
			t.Fatalf("error %#v: want Timeout", err)
		}
		if d := time.Since(start); d > timeout+timeout/2 {
			t.Fatalf("took %v with a %v timeout", d, timeout)
		}
	}
	t.Run("token endpoint hangs", func(t *testing.T) {
		t.Parallel()
		p := only(t, gitlabAt(upstreamStub(t, hang, hang)), opts)
		start := time.Now()
		_, err := p.Complete(`{"AuthURL":"x"}`, nil, providers.CallbackInput{Code: "the-code"})
		check(t, start, err, "the-code", "gl-client-secret")
	})
	t.Run("profile hangs, token in its query", func(t *testing.T) {
		t.Parallel()
		// goth's gitlab sends the access token as ?access_token=; the url.Error of the
		// timeout quotes that URL, which must not reach the message.
		base := upstreamStub(t, tokenAnswer(map[string]any{"access_token": "at-very-secret", "token_type": "bearer"}), hang)
		p := only(t, gitlabAt(base), opts)
		start := time.Now()
		_, err := p.Complete(`{"AuthURL":"x"}`, nil, providers.CallbackInput{Code: "the-code"})
		check(t, start, err, "at-very-secret", "the-code")
	})
	t.Run("twitter request token hangs", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(hang))
		t.Cleanup(srv.Close)
		p := only(t, &config.Provider{Name: "tw", Type: "twitter", Key: "ck", Secret: "cs",
			Endpoints: config.Endpoints{RequestTokenURL: srv.URL + "/rt"}}, opts)
		start := time.Now()
		_, _, err := p.Begin("", nil, "")
		check(t, start, err)
	})
	t.Run("discovery hangs", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(hang))
		t.Cleanup(srv.Close)
		start := time.Now()
		_, err := providers.NewRegistry(context.Background(), cfg(bot("b", &config.Provider{Name: "sso", Type: "openid-connect",
			Key: "k", Secret: "s", DiscoveryURL: srv.URL + "/.well-known/openid-configuration"})), opts)
		check(t, start, err)
	})
}

func TestGothPanicIsUpstreamError(t *testing.T) {
	t.Parallel()
	// goth's openid-connect session does token.Extra("id_token").(string): a number panics.
	base := upstreamStub(t, tokenAnswer(map[string]any{"access_token": "at-panic-secret", "token_type": "Bearer", "expires_in": 3600, "id_token": 123}), hang)
	p := only(t, &config.Provider{Name: "google", Type: "google", Key: "k", Secret: "google-secret",
		Endpoints: config.Endpoints{AuthURL: base + "/authorize", TokenURL: base + "/token", ProfileURL: base + "/profile"}}, providers.Options{})
	_, session, err := p.Begin("st", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Complete(session, nil, providers.CallbackInput{Code: "the-code"})
	wantUpstream(t, err, "at-panic-secret", "google-secret", "the-code")
	if !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("error %q: want it to say goth panicked", err)
	}
}

func TestTokenErrorBodyIsNotRepeated(t *testing.T) {
	t.Parallel()
	// A provider echoing the request (code, client secret) in its error body.
	echo := func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "bad code " + r.Form.Get("code") + " for " + r.Form.Get("client_secret")})
	}
	p := only(t, gitlabAt(upstreamStub(t, echo, hang)), providers.Options{})
	_, err := p.Complete(`{"AuthURL":"x"}`, nil, providers.CallbackInput{Code: "the-code"})
	wantUpstream(t, err, "the-code", "gl-client-secret")
	if !errors.Is(err, providers.ErrInvalidGrant) {
		t.Fatalf("%v: want ErrInvalidGrant", err)
	}
}

func TestCallerMistakes(t *testing.T) {
	t.Parallel()
	fake := providertest.NewTwitter(t, map[string]string{"ck": "cs"})
	r := registry(t, cfg(bot("b",
		&config.Provider{Name: "gitlab", Type: "gitlab", Key: "k", Secret: "s"},
		&config.Provider{Name: "google", Type: "google", Key: "k", Secret: "s"},
		twitterProvider("tw", "twitter", "ck", "cs", fake),
	)), providers.Options{})
	gitlab, _ := r.Lookup("b", "gitlab")
	google, _ := r.Lookup("b", "google")
	tw, _ := r.Lookup("b", "tw")
	_, challenge := pkcePair()
	for name, err := range map[string]error{
		"empty state":                 second(gitlab.Begin("", nil, "")),
		"scope with a space":          second(gitlab.Begin("s", []string{"read_user api"}, "")),
		"challenge for non-PKCE type": second(gitlab.Begin("s", nil, challenge)),
		"malformed challenge":         second(google.Begin("s", nil, "short")),
		"verifier for non-PKCE type":  errOf(gitlab.Complete(`{}`, nil, providers.CallbackInput{Code: "c", CodeVerifier: "v"})),
		"no code":                     errOf(gitlab.Complete(`{}`, nil, providers.CallbackInput{})),
		"no oauth_verifier":           errOf(tw.Complete(`{}`, nil, providers.CallbackInput{OAuthToken: "t"})),
		"request token of OAuth 2":    errOf(gitlab.RequestToken(`{}`)),
		"refresh of OAuth 1.0a":       errOf(tw.Refresh(context.Background(), "rt")),
	} {
		if !errors.Is(err, providers.ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidInput", name, err)
		}
	}
	spotify := only(t, &config.Provider{Name: "sp", Type: "spotify", Key: "k", Secret: "s"}, providers.Options{})
	if err := spotify.RevokeGrant(context.Background(), providers.Grant{AccessToken: "t"}); !errors.Is(err, providers.ErrNoRevocation) {
		t.Errorf("RevokeGrant on spotify: %v, want ErrNoRevocation", err)
	}
}

func second(_, _ string, err error) error { return err }

func errOf[T any](_ T, err error) error { return err }

func TestNewRegistryReportsEveryProblem(t *testing.T) {
	t.Parallel()
	c := cfg(bot("b",
		&config.Provider{Name: "a", Type: "no-such-type", Key: "k", Secret: "s", Line: 3},
		&config.Provider{Name: "b", Type: "github", Key: "k", Line: 7},
		&config.Provider{Name: "c", Type: "google", Key: "k", Secret: "s", DiscoveryURL: "https://x/.well-known/openid-configuration", Line: 9},
		&config.Provider{Name: "d", Type: "spotify", Key: "k", Secret: "s", Options: map[string]string{"prompt": "x"}, Line: 11},
		&config.Provider{Name: "e", Type: "okta", Key: "k", Secret: "s", Line: 13},
		&config.Provider{Name: "f", Type: "nextcloud", Key: "k", Secret: "s", Line: 15},
		&config.Provider{Name: "g", Type: "openid-connect", Key: "k", Secret: "s", Endpoints: config.Endpoints{AuthURL: "https://x/a", TokenURL: "https://x/t"}, Line: 17},
	))
	_, err := providers.NewRegistry(context.Background(), c, providers.Options{})
	if err == nil {
		t.Fatal("NewRegistry accepted a broken config")
	}
	for _, want := range []string{"providers.yaml:3:", "providers.yaml:7:", "providers.yaml:9:", "providers.yaml:11:", "providers.yaml:13:", "providers.yaml:15:", "providers.yaml:17:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %s:\n%v", want, err)
		}
	}
}
