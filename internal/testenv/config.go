package testenv

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
)

// Config is a broker for a test, said in Go rather than as a providers.yaml:
//
//	b := testenv.Start(t, testenv.Config{
//		Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
//			Provider("gh", "github", "gh-client", "gh-secret-0123456789")},
//		App: app.Options{Now: clk.Now},
//	})
//
// Start renders it into the providers.yaml that `serve` would read (docs/CONFIGURATION.md), so the
// config package checks it as it checks an operator's file.
type Config struct {
	Bots []*BotConfig
	// Server is extra lines of the server: section besides public_url, each "key: value"
	// (outbound_timeout: 5s when none sets it).
	Server []string
	// AdminPasswordHash is admin.password_hash ("": none; the password may come from
	// App.Getenv as OAUTHBROKER_ADMIN_PASSWORD).
	AdminPasswordHash string
	// App is the options of the wiring: a clock, rate limits, the sandbox's URL, ...
	App app.Options
}

// BotConfig is one bot under `bots:`; Bot starts one, its methods add to it.
type BotConfig struct {
	name, confirm, display string
	keys, origins          []string
	webhookURL, webhookSec string
	providers              []string // each rendered already, indented under providers:
}

// Bot is a bot named name, with no key and no provider yet.
func Bot(name string) *BotConfig { return &BotConfig{name: name} }

// Key adds API keys.
func (b *BotConfig) Key(keys ...string) *BotConfig { b.keys = append(b.keys, keys...); return b }

// Confirm sets the bot's confirm mode: "none" or "code".
func (b *BotConfig) Confirm(mode string) *BotConfig { b.confirm = mode; return b }

// DisplayName sets how the connect page names the bot.
func (b *BotConfig) DisplayName(name string) *BotConfig { b.display = name; return b }

// RedirectOrigins sets where links may send the user after the flow.
func (b *BotConfig) RedirectOrigins(origins ...string) *BotConfig {
	b.origins = append(b.origins, origins...)
	return b
}

// Webhook sets the bot's webhook URL and secret.
func (b *BotConfig) Webhook(url, secret string) *BotConfig {
	b.webhookURL, b.webhookSec = url, secret
	return b
}

// ProviderOption adds a field to a provider entry.
type ProviderOption func(*strings.Builder)

// Scopes sets the provider's scopes.
func Scopes(scopes ...string) ProviderOption {
	return func(w *strings.Builder) { fmt.Fprintf(w, "        scopes: [%s]\n", strings.Join(scopes, ", ")) }
}

// APIBase sets api_base_url, where the API proxy sends the bot's calls.
func APIBase(url string) ProviderOption {
	return func(w *strings.Builder) { fmt.Fprintf(w, "        api_base_url: %s\n", url) }
}

// DiscoveryURL sets an openid-connect provider's discovery document.
func DiscoveryURL(url string) ProviderOption {
	return func(w *strings.Builder) { fmt.Fprintf(w, "        discovery_url: %s\n", url) }
}

// Options sets the provider type's options (microsoft's tenant, auth0's domain, ...).
func Options(opts map[string]string) ProviderOption {
	return func(w *strings.Builder) {
		w.WriteString("        options:\n")
		for _, k := range slices.Sorted(maps.Keys(opts)) {
			fmt.Fprintf(w, "          %s: %s\n", k, opts[k])
		}
	}
}

// GithubAt is GitHub's endpoints at base (the sandbox, which serves GitHub's paths).
func GithubAt(base string) config.Endpoints {
	return config.Endpoints{AuthURL: base + "/login/oauth/authorize", TokenURL: base + "/login/oauth/access_token",
		ProfileURL: base + "/user", EmailURL: base + "/user/emails"}
}

// At overrides the provider type's endpoints (a fake provider's URLs).
func At(ep config.Endpoints) ProviderOption {
	return func(w *strings.Builder) { w.WriteString(EndpointsYAML(ep, "        ")) }
}

// Provider adds a provider named name of type typ with its client id and secret.
func (b *BotConfig) Provider(name, typ, key, secret string, opts ...ProviderOption) *BotConfig {
	var w strings.Builder
	fmt.Fprintf(&w, "      %s:\n        type: %s\n        key: %s\n        secret: %s\n", name, typ, key, secret)
	for _, o := range opts {
		o(&w)
	}
	b.providers = append(b.providers, w.String())
	return b
}

// Gitlab adds provider gl, of type gitlab, pointing at a TokenFake's URL (as GitlabYAML),
// with more fields when opts says so.
func (b *BotConfig) Gitlab(fakeURL string, opts ...ProviderOption) *BotConfig {
	var w strings.Builder
	w.WriteString(GitlabYAML(fakeURL))
	for _, o := range opts {
		o(&w)
	}
	b.providers = append(b.providers, w.String())
	return b
}

// YAML is the bot's entry under `bots:`.
func (b *BotConfig) YAML() string {
	var w strings.Builder
	fmt.Fprintf(&w, "  %s:\n", b.name)
	if len(b.keys) > 0 {
		fmt.Fprintf(&w, "    api_keys: [%s]\n", quoted(b.keys))
	}
	if b.display != "" {
		fmt.Fprintf(&w, "    display_name: %s\n", b.display)
	}
	if b.confirm != "" {
		fmt.Fprintf(&w, "    confirm: %s\n", b.confirm)
	}
	if len(b.origins) > 0 {
		fmt.Fprintf(&w, "    redirect_origins: [%s]\n", quoted(b.origins))
	}
	if b.webhookURL != "" {
		fmt.Fprintf(&w, "    webhook_url: %s\n    webhook_secret: %s\n", b.webhookURL, b.webhookSec)
	}
	w.WriteString("    providers:\n")
	for _, p := range b.providers {
		w.WriteString(p)
	}
	return w.String()
}

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Start runs the broker c describes until the test ends.
func Start(t testing.TB, c Config) *Broker {
	t.Helper()
	var server, bots strings.Builder
	timeout := false
	for _, l := range c.Server {
		timeout = timeout || strings.HasPrefix(l, "outbound_timeout:")
		server.WriteString("  " + l + "\n")
	}
	if !timeout {
		server.WriteString("  outbound_timeout: 5s\n")
	}
	for _, b := range c.Bots {
		bots.WriteString(b.YAML())
	}
	if c.AdminPasswordHash != "" {
		fmt.Fprintf(&bots, "admin:\n  password_hash: '%s'\n", c.AdminPasswordHash)
	}
	return StartBrokerServer(t, server.String(), bots.String(), c.App)
}
