package providertest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// Every real URL goth's hard-coded providers call reaches the matching sandbox handler
// through SandboxRewrites, here with the sandbox mounted under a prefix.
func TestSandboxRewrites(t *testing.T) {
	const cb = "https://broker.test/cb"
	sb, err := sandbox.New(sandbox.Options{
		Users:       []sandbox.User{{ID: "7", Login: "octo", Name: "Octo Cat", Email: "octo@example.com"}},
		Clients:     []sandbox.Client{{ID: "id", Secret: "secret", RedirectURIs: []string{cb}}},
		AutoApprove: "7",
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sb/", http.StripPrefix("/sb", sb))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		typ, scope, authorize, token, profile, userField string
	}{
		{"google", "openid email", "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
			"https://openidconnect.googleapis.com/v1/userinfo", "sub"},
		{"slack-classic", "users:read", "https://slack.com/oauth/authorize", "https://slack.com/api/oauth.access",
			"https://slack.com/api/auth.test", "user_id"},
		{"discord", "identify", "https://discord.com/api/oauth2/authorize", "https://discord.com/api/oauth2/token",
			"https://discord.com/api/users/@me", "id"},
		{"spotify", "user-read-email", "https://accounts.spotify.com/authorize", "https://accounts.spotify.com/api/token",
			"https://api.spotify.com/v1/me", "id"},
		{"uber", "profile", "https://login.uber.com/oauth/authorize", "https://login.uber.com/oauth/token",
			"https://api.uber.com/v1/me", "uuid"},
		{"github", "read:user", "https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token",
			"https://api.github.com/user", "login"},
		{"gitlab", "read_user", "https://gitlab.com/oauth/authorize", "https://gitlab.com/oauth/token",
			"https://gitlab.com/api/v4/user", "username"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			client := providertest.NewRewriteTransport(providertest.SandboxRewrites(tt.typ, srv.URL+"/sb/")...).Client()
			q := url.Values{"client_id": {"id"}, "redirect_uri": {cb}, "response_type": {"code"}, "scope": {tt.scope}, "state": {"s"}}
			code := providertest.FollowToCallback(t, client, tt.authorize+"?"+q.Encode(), cb).Get("code")

			resp, err := client.PostForm(tt.token, url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {cb}, "client_id": {"id"}, "client_secret": {"secret"}})
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if err != nil || resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tok) != nil {
				t.Fatalf("POST %s: %v %v", tt.token, err, resp)
			}
			resp.Body.Close()

			req, _ := http.NewRequest(http.MethodGet, tt.profile, nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err = client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var profile map[string]any
			if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &profile) != nil || profile[tt.userField] == nil || profile[tt.userField] == "" {
				t.Fatalf("GET %s: %d %s: want %s", tt.profile, resp.StatusCode, body, tt.userField)
			}
		})
	}
	if providertest.SandboxRewrites("twitter", srv.URL) != nil {
		t.Error("SandboxRewrites(twitter) is not nil: the sandbox does not speak OAuth 1.0a")
	}
}

// A Canned rule placed first wins over the sandbox's.
func TestCanned(t *testing.T) {
	rules := append([]providertest.Rewrite{providertest.Canned(t, "slack.com", "/api/auth.test", http.StatusOK, `{"ok":false,"error":"invalid_auth"}`)},
		providertest.SandboxRewrites("slack-classic", "http://127.0.0.1:1")...)
	resp, err := providertest.NewRewriteTransport(rules...).Client().Get("https://slack.com/api/auth.test")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"invalid_auth"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
