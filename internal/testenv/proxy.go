package testenv

import (
	"fmt"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// StartProxyBroker is StartBrokerWith with extra lines for the server: section (the proxy's
// limits, a shorter outbound_timeout), which the shared harness's fixed header does not take.
func StartProxyBroker(t testing.TB, serverYAML, botsYAML string, opts app.Options) *Broker {
	t.Helper()
	if !strings.Contains(serverYAML, "outbound_timeout") {
		serverYAML += "  outbound_timeout: 5s\n"
	}
	return StartBrokerServer(t, serverYAML, botsYAML, opts)
}

// GithubProxyBot is bot alpha with a github provider linked through the sandbox and its API at
// api.
func GithubProxyBot(sbURL, api string) string {
	return fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      github:
        type: github
        key: gh-client
        secret: gh-secret-0123456789
        api_base_url: %s
        endpoints:
          auth_url: %[3]s/login/oauth/authorize
          token_url: %[3]s/login/oauth/access_token
          profile_url: %[3]s/user
          email_url: %[3]s/user/emails
  bravo:
    api_keys: [%[4]q]
    confirm: none
    providers:
      github: {type: github, key: gh-bravo, secret: gh-bravo-secret-0123}
`, KeyA, api, sbURL, KeyB)
}

// CanaryBroker is bot alpha with a github identity whose API is canary at base path /api (so
// that escaping the base path shows), and bot bravo, with its own key and no identity.
// serverYAML adds settings to the server: section.
func CanaryBroker(t testing.TB, canary *Upstream, serverYAML ...string) (*Broker, int64) {
	t.Helper()
	sb, sbURL := NewSandbox(t)
	b := StartProxyBroker(t, strings.Join(serverYAML, ""), GithubProxyBot(sbURL, canary.URL+"/api"), app.Options{Getenv: AdminEnv(AdminPassword)})
	if err := sb.AddClient(sandbox.Client{ID: "gh-client", Secret: "gh-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/github/callback"}}); err != nil {
		t.Fatal(err)
	}
	return b, b.LinkOne("alpha", KeyA, "github", "slack", "U1").ID
}

// AdminPassword is the admin pages' password of the tests that log in.
const (
	AdminPassword = "correct horse battery staple"
	// AdminPasswordHash is bcrypt of AdminPassword at cost 10, the lowest the broker accepts.
	AdminPasswordHash = "$2a$10$Cmu3pcezTKSUgz2jev4f4.CFXt7ICr222En0fjnOIlywN5HtWx866"
)

// AdminEnv is an environment holding only the admin password.
func AdminEnv(password string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if k == "OAUTHBROKER_ADMIN_PASSWORD" && password != "" {
			return password, true
		}
		return "", false
	}
}
