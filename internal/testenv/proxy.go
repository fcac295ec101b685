package testenv

import (
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

// GithubProxyBots are bot alpha with a github provider linked through the sandbox and its API
// at api, and bot bravo with a github provider of its own.
func GithubProxyBots(sbURL, api string) []*BotConfig {
	return []*BotConfig{
		Bot("alpha").Key(KeyA).Confirm("none").
			Provider("github", "github", "gh-client", "gh-secret-0123456789", APIBase(api), At(GithubAt(sbURL))),
		Bot("bravo").Key(KeyB).Confirm("none").Provider("github", "github", "gh-bravo", "gh-bravo-secret-0123"),
	}
}

// GithubProxyBroker runs GithubProxyBots against a fresh sandbox (alpha's client registered)
// and the sandbox's GitHub-shaped API upstream.
func GithubProxyBroker(t testing.TB) (*Broker, *sandbox.Server, *Upstream) {
	t.Helper()
	sb, sbURL := NewSandbox(t)
	api := NewUpstream(t, GithubAPI(sb, sbURL))
	b := Start(t, Config{Bots: GithubProxyBots(sbURL, api.URL)})
	if err := sb.AddClient(sandbox.Client{ID: "gh-client", Secret: "gh-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/github/callback"}}); err != nil {
		t.Fatal(err)
	}
	return b, sb, api
}

// CanaryBroker is bot alpha with a github identity whose API is canary at base path /api (so
// that escaping the base path shows), and bot bravo, with its own key and no identity.
// serverYAML adds settings to the server: section.
func CanaryBroker(t testing.TB, canary *Upstream, serverYAML ...string) (*Broker, int64) {
	t.Helper()
	sb, sbURL := NewSandbox(t)
	var bots strings.Builder
	for _, bot := range GithubProxyBots(sbURL, canary.URL+"/api") {
		bots.WriteString(bot.YAML())
	}
	b := StartProxyBroker(t, strings.Join(serverYAML, ""), bots.String(), app.Options{Getenv: AdminEnv(AdminPassword)})
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
