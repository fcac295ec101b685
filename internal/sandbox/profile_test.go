package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

func (f *fixture) getProfile(path, token string) response {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return f.do(http.DefaultClient, req)
}

var profilePaths = []string{"/user", "/user/emails", "/api/v4/user", "/v1/userinfo", "/oauth2/v2/userinfo"}

// The JSON types matter: goth decodes GitHub and GitLab ids into an int and fails on a
// string, and Google's ids are strings.
func TestProfileShapes(t *testing.T) {
	f := autoFixture(t, nil)
	access, _ := f.tokens(f.autoCode(authParams()))
	tests := []struct {
		path string
		want map[string]any
	}{
		{"/user", map[string]any{"id": float64(1001), "login": "ada", "name": "Ada Lovelace", "email": ada.Email,
			"avatar_url": ada.AvatarURL, "bio": nil, "location": nil, "html_url": "https://sandbox.invalid/ada"}},
		{"/api/v4/user", map[string]any{"id": float64(1001), "username": "ada", "name": "Ada Lovelace", "email": ada.Email,
			"avatar_url": ada.AvatarURL, "location": "", "state": "active"}},
		{"/oauth2/v2/userinfo", map[string]any{"id": "1001", "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
			"email": ada.Email, "verified_email": true, "picture": ada.AvatarURL}},
		{"/v1/userinfo", map[string]any{"sub": "1001", "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
			"email": ada.Email, "email_verified": true, "picture": ada.AvatarURL}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := f.getProfile(tt.path, access)
			if resp.status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.status, resp.body)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(resp.body), &got); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if v, ok := got[k]; !ok || v != want {
					t.Errorf("%s = %#v (present %v), want %#v", k, v, ok, want)
				}
			}
		})
	}
	t.Run("/user/emails", func(t *testing.T) {
		resp := f.getProfile("/user/emails", access)
		var got []struct {
			Email             string
			Primary, Verified bool
		}
		if err := json.Unmarshal([]byte(resp.body), &got); err != nil || len(got) != 1 || got[0].Email != ada.Email || !got[0].Primary || !got[0].Verified {
			t.Fatalf("status %d %s: want ada's primary verified address", resp.status, resp.body)
		}
	})
	t.Run("GitHub sends null for a missing name and email", func(t *testing.T) {
		f := newFixture(t, func(o *sandbox.Options) { o.AutoApprove = grace.ID })
		access, _ := f.tokens(f.autoCode(authParams()))
		body := f.getProfile("/user", access).body
		if !strings.Contains(body, `"name":null`) || !strings.Contains(body, `"email":null`) {
			t.Fatalf("body %s", body)
		}
		if body := f.getProfile("/user/emails", access).body; body != "[]" {
			t.Fatalf("emails %s, want []", body)
		}
	})
}

func TestProfileRefusals(t *testing.T) {
	tests := []struct {
		name   string
		token  func(f *fixture, access, refresh string) string
		reason sandbox.Reason
	}{
		{"no token", func(*fixture, string, string) string { return "" }, sandbox.ReasonMissingToken},
		{"made-up token", func(*fixture, string, string) string { return "sbx_at_made-up" }, sandbox.ReasonUnknownToken},
		{"refresh token as access token", func(_ *fixture, _, refresh string) string { return refresh }, sandbox.ReasonUnknownToken},
		{"expired token", func(f *fixture, access, _ string) string { f.clock.Advance(time.Hour); return access }, sandbox.ReasonExpiredToken},
		{"revoked token", func(f *fixture, access, _ string) string {
			form := url.Values{"token": {access}, "client_id": {appID}, "client_secret": {appSecret}}
			f.postForm(http.DefaultClient, "/revoke", form)
			return access
		}, sandbox.ReasonRevokedToken},
	}
	for _, tt := range tests {
		for _, path := range profilePaths {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				f := autoFixture(t, nil)
				access, refresh := f.tokens(f.autoCode(authParams()))
				resp := f.getProfile(path, tt.token(f, access, refresh))
				if resp.status != http.StatusUnauthorized || !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("status %d, WWW-Authenticate %q; want 401 with a Bearer challenge", resp.status, resp.header.Get("WWW-Authenticate"))
				}
				if strings.Contains(resp.body, "ada") {
					t.Fatalf("refusal leaks the profile: %s", resp.body)
				}
				wantRejected(t, f.srv, tt.reason, 1)
			})
		}
	}

	t.Run("access_token query parameter", func(t *testing.T) {
		f := autoFixture(t, nil)
		access, _ := f.tokens(f.autoCode(authParams()))
		// GitLab and Google accept it (goth's gitlab and google providers send it); GitHub does not.
		for path, want := range map[string]int{"/api/v4/user": 200, "/oauth2/v2/userinfo": 200, "/v1/userinfo": 200, "/user": 401} {
			resp := f.get(http.DefaultClient, path, url.Values{"access_token": {access}})
			if resp.status != want {
				t.Errorf("%s?access_token=: status %d, want %d", path, resp.status, want)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, f.base+"/api/v4/user?access_token="+access, nil)
		req.Header.Set("Authorization", "Bearer "+access)
		if resp := f.do(http.DefaultClient, req); resp.status != http.StatusBadRequest {
			t.Errorf("token in header and query: status %d, want 400 (RFC 6750 §2)", resp.status)
		}
	})
	t.Run("GitHub emails need the user:email scope", func(t *testing.T) {
		f := autoFixture(t, nil)
		access, _ := f.tokens(f.autoCode(authParams("scope", "read:user")))
		if resp := f.getProfile("/user/emails", access); resp.status != http.StatusNotFound {
			t.Fatalf("status %d, want 404", resp.status)
		}
		wantRejected(t, f.srv, sandbox.ReasonInsufficientScope, 1)
	})
}
