package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// getAs GETs a profile path with a bearer token, as a client that addressed host (sent on
// in X-Forwarded-Host, as providertest.RewriteTransport does); "" sends neither.
func (f *fixture) getAs(host, path, token string) (response, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if host != "" {
		req.Header.Set("X-Forwarded-Host", host)
	}
	resp := f.do(http.DefaultClient, req)
	var body map[string]any
	if err := jsonObject(resp.body, &body); err != nil {
		f.t.Fatalf("GET %s: status %d, body not a JSON object: %s", path, resp.status, resp.body)
	}
	return resp, body
}

func jsonObject(s string, v *map[string]any) error { return json.Unmarshal([]byte(s), v) }

// accessWith returns an access token for ada granted exactly scope.
func (f *fixture) accessWith(scope string) string {
	f.t.Helper()
	access, _ := f.tokens(f.autoCode(authParams("scope", scope)))
	return access
}

// field walks a decoded JSON object along a dotted path.
func field(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func wantFields(t *testing.T, body map[string]any, want map[string]any) {
	t.Helper()
	for path, w := range want {
		if got := field(body, path); got != w {
			t.Errorf("%s = %#v, want %#v\n%v", path, got, w, body)
		}
	}
}

func TestSlackProfile(t *testing.T) {
	f := autoFixture(t, nil)
	full := f.accessWith("users:read users:read.email")

	_, body := f.getAs("", "/api/auth.test", full)
	wantFields(t, body, map[string]any{"ok": true, "user_id": ada.ID, "user": ada.Login, "team_id": "T0SANDBOX"})

	_, body = f.getAs("", "/api/users.info?user="+ada.ID, full)
	wantFields(t, body, map[string]any{"ok": true, "user.id": ada.ID, "user.name": ada.Login,
		"user.profile.email": ada.Email, "user.profile.real_name": ada.Name, "user.profile.image_32": ada.AvatarURL})

	t.Run("email needs users:read.email", func(t *testing.T) {
		_, body := f.getAs("", "/api/users.info?user="+ada.ID, f.accessWith("users:read"))
		if v, ok := field(body, "user.profile").(map[string]any)["email"]; ok {
			t.Fatalf("profile has email %v without users:read.email", v)
		}
	})
	t.Run("users.info needs users:read", func(t *testing.T) {
		resp, body := f.getAs("", "/api/users.info?user="+ada.ID, f.accessWith("chat:write"))
		if resp.status != http.StatusOK {
			t.Fatalf("status %d: Slack fails with 200 and ok:false", resp.status)
		}
		wantFields(t, body, map[string]any{"ok": false, "error": "missing_scope", "needed": "users:read"})
		wantRejected(t, f.srv, sandbox.ReasonInsufficientScope, 1)
	})
	t.Run("unknown user", func(t *testing.T) {
		_, body := f.getAs("", "/api/users.info?user=U404", full)
		wantFields(t, body, map[string]any{"ok": false, "error": "user_not_found"})
	})
}

// Slack refuses a token with HTTP 200 and "ok": false — the answer goth's slack provider
// does not check, which is why the broker must.
func TestSlackRefusals(t *testing.T) {
	tests := []struct {
		name, code string
		token      func(f *fixture, access string) string
	}{
		{"no token", "not_authed", func(*fixture, string) string { return "" }},
		{"made-up token", "invalid_auth", func(*fixture, string) string { return "xoxp-made-up" }},
		{"expired token", "token_expired", func(f *fixture, access string) string { f.clock.Advance(time.Hour); return access }},
		{"revoked token", "token_revoked", func(f *fixture, access string) string {
			f.postForm(http.DefaultClient, "/revoke", url.Values{"token": {access}, "client_id": {appID}, "client_secret": {appSecret}})
			return access
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := autoFixture(t, nil)
			token := tt.token(f, f.accessWith("users:read"))
			for _, path := range []string{"/api/auth.test", "/api/users.info?user=" + ada.ID} {
				resp, body := f.getAs("", path, token)
				if resp.status != http.StatusOK || body["ok"] != false || body["error"] != tt.code || strings.Contains(resp.body, "ada") {
					t.Fatalf("%s: %d %s, want 200 ok:false error=%s", path, resp.status, resp.body, tt.code)
				}
			}
		})
	}
}

func TestDiscordProfile(t *testing.T) {
	f := autoFixture(t, nil)
	resp, body := f.getAs("", "/api/users/@me", f.accessWith("identify email"))
	if resp.status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	wantFields(t, body, map[string]any{"id": ada.ID, "username": ada.Login, "global_name": ada.Name, "email": ada.Email, "verified": true})
	if avatar, _ := body["avatar"].(string); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(avatar) {
		t.Errorf("avatar %q, want an image hash", avatar)
	}

	t.Run("email needs the email scope", func(t *testing.T) {
		_, body := f.getAs("", "/api/users/@me", f.accessWith("identify"))
		if _, ok := body["email"]; ok || body["id"] != ada.ID {
			t.Fatalf("answer %v: want the user without email", body)
		}
	})
	t.Run("needs identify", func(t *testing.T) {
		resp, body := f.getAs("", "/api/users/@me", f.accessWith("guilds"))
		if resp.status != http.StatusUnauthorized || body["message"] != "401: Unauthorized" {
			t.Fatalf("%d %s", resp.status, resp.body)
		}
	})
	t.Run("made-up token", func(t *testing.T) {
		resp, body := f.getAs("", "/api/users/@me", "made-up")
		if resp.status != http.StatusUnauthorized || body["message"] != "401: Unauthorized" || !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%d %v %s", resp.status, resp.header, resp.body)
		}
	})
}

// Spotify and Uber both read /v1/me; the host the client addressed picks the shape.
func TestV1MeByHost(t *testing.T) {
	f := autoFixture(t, nil)

	t.Run("api.spotify.com", func(t *testing.T) {
		_, body := f.getAs("api.spotify.com", "/v1/me", f.accessWith("user-read-email user-read-private"))
		wantFields(t, body, map[string]any{"id": ada.ID, "display_name": ada.Name, "email": ada.Email, "type": "user"})
		if imgs, _ := body["images"].([]any); len(imgs) != 1 || field(imgs[0], "url") != ada.AvatarURL {
			t.Errorf("images %v", body["images"])
		}
		_, body = f.getAs("api.spotify.com", "/v1/me", f.accessWith("user-read-private"))
		if _, ok := body["email"]; ok {
			t.Errorf("email without user-read-email: %v", body)
		}
		resp, body := f.getAs("api.spotify.com:443", "/v1/me", "made-up")
		if resp.status != http.StatusUnauthorized || field(body, "error.status") != float64(401) {
			t.Errorf("made-up token: %d %s", resp.status, resp.body)
		}
	})
	t.Run("api.uber.com", func(t *testing.T) {
		_, body := f.getAs("API.Uber.com", "/v1/me", f.accessWith("profile"))
		wantFields(t, body, map[string]any{"uuid": ada.ID, "first_name": "Ada", "last_name": "Lovelace", "email": ada.Email, "picture": ada.AvatarURL})
		resp, body := f.getAs("api.uber.com", "/v1/me", f.accessWith("history"))
		if resp.status != http.StatusUnauthorized || body["code"] != "unauthorized" {
			t.Errorf("without scope profile: %d %s", resp.status, resp.body)
		}
	})
	t.Run("the Host header counts too", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, f.base+"/v1/me", nil)
		req.Host = "api.uber.com"
		req.Header.Set("Authorization", "Bearer "+f.accessWith("profile"))
		if resp := f.do(http.DefaultClient, req); resp.status != http.StatusOK || !strings.Contains(resp.body, `"uuid":"1001"`) {
			t.Fatalf("%d %s", resp.status, resp.body)
		}
	})
	t.Run("another host is refused, not guessed", func(t *testing.T) {
		for _, host := range []string{"", "api.example.com"} {
			if resp, _ := f.getAs(host, "/v1/me", f.accessWith("profile")); resp.status != http.StatusNotFound {
				t.Errorf("host %q: status %d, want 404", host, resp.status)
			}
		}
	})
}
