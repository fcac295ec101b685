package providers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
)

// A provider answering outside the shape its entry declares is an upstream failure the
// broker shows as a 502: never a half-read identity, never the answer's text.
func TestOAuth2AnswersOutsideTheirShape(t *testing.T) {
	t.Parallel()
	const good = `{"access_token":"at-secret-123","token_type":"bearer","expires_in":3600,"user":{"id":"u1"}}`
	for _, c := range []struct {
		name, token, profile, reason string
		tokenStatus                  int
		spec                         func(*config.Spec)
	}{
		{"no access token", `{"token_type":"bearer"}`, `{"id":"u1"}`, "no access token", 200, nil},
		{"token not where declared", good, `{"id":"u1"}`, "no token at /authed_user", 200, func(s *config.Spec) { s.TokenPath = "/authed_user" }},
		{"error inside a 200", `{"error":"bad_verification_code","error_description":"at-secret-123"}`, `{}`, "with an error (bad_verification_code)", 200, nil},
		{"ok:false inside a 200", `{"ok":false,"error":"invalid_code"}`, `{}`, "with an error (invalid_code)", 200, nil},
		{"token answer is HTML", `<html>at-secret-123</html>`, `{}`, "not a JSON object", 200, nil},
		{"token endpoint refuses", `{"error":"invalid_grant"}`, `{}`, "HTTP 400 invalid_grant", 400, nil},
		{"profile without the id", good, `{"name":"Ada"}`, "profile has no user id", 200, nil},
		{"profile id is 0", good, `{"id":0}`, "profile has no user id", 200, nil},
		{"GraphQL errors", good, `{"errors":[{"message":"at-secret-123"}]}`, "profile answered HTTP 200 with an error", 200, nil},
		{"profile from the token answer, absent", good, `{}`, "profile has no user id", 200, func(s *config.Spec) {
			s.Profile = config.Profile{From: config.ProfileFromToken, ID: "/owner/id"}
		}},
		{"ID token for another client", `{"access_token":"at-secret-123","id_token":"eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJvdGhlciIsImV4cCI6OTk5OTk5OTk5OX0.c2ln"}`, `{}`, "not for this client", 200, func(s *config.Spec) {
			s.Profile = config.Profile{From: config.ProfileFromIDToken, ID: "/sub"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == "/token" {
					w.WriteHeader(c.tokenStatus)
					w.Write([]byte(c.token))
					return
				}
				w.Write([]byte(c.profile))
			}))
			defer srv.Close()
			spec := config.Spec{AuthURL: srv.URL + "/auth", TokenURL: srv.URL + "/token", UserInfoURL: srv.URL + "/me", Profile: config.Profile{ID: "/id"}}
			if c.spec != nil {
				c.spec(&spec)
			}
			p := only(t, &config.Provider{Name: "own", Type: "oauth2", Key: "ck", Secret: "cs-secret-value", Spec: spec}, providers.Options{})
			_, session, err := p.Begin("st", nil, "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Complete(session, nil, providers.CallbackInput{Code: "the-code"})
			wantUpstream(t, err, "at-secret-123", "cs-secret-value", "the-code")
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q, want %q", err, c.reason)
			}
			if c.tokenStatus == 400 && !errors.Is(err, providers.ErrInvalidGrant) {
				t.Errorf("error %v does not match ErrInvalidGrant", err)
			}
		})
	}
}

// A refresh refused with invalid_grant tells the broker the identity must be linked again.
func TestOAuth2RefreshInvalidGrant(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant"}`))
	}))
	defer srv.Close()
	p := only(t, &config.Provider{Name: "own", Type: "oauth2", Key: "ck", Secret: "cs-secret-value", Spec: config.Spec{
		AuthURL: srv.URL + "/auth", TokenURL: srv.URL + "/token", UserInfoURL: srv.URL + "/me", Profile: config.Profile{ID: "/id"}, Refresh: config.RefreshRotating,
	}}, providers.Options{})
	_, err := p.Refresh(context.Background(), "rt-secret-456")
	wantUpstream(t, err, "rt-secret-456", "cs-secret-value")
	if !errors.Is(err, providers.ErrInvalidGrant) {
		t.Errorf("error %v, want ErrInvalidGrant", err)
	}
}
