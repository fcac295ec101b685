// Package config loads and validates providers.yaml: `${VAR}` / `${VAR:-default}` expansion
// from the environment, strict keys, and every problem reported at once as
// `file:line: field: what is wrong`.
//
// It imports nothing from oauthbroker; everything else reads the Config it returns.
package config

import "time"

// Config is a loaded, validated providers.yaml. It is immutable once Load returns.
type Config struct {
	File    string // the path it was loaded from, for messages
	Server  Server
	Storage Storage
	Admin   Admin
	// Bots in file order. BotNames gives the same order; Bot looks one up.
	Bots []*Bot
}

// Server is the `server:` section.
type Server struct {
	PublicURL string // absolute http(s) URL without a trailing slash; callback URLs derive from it
	Listen    string // host:port
	// OutboundTimeout bounds every call to a provider (default 10s).
	OutboundTimeout time.Duration
	// LinkTTL is the default lifetime of a link (default 10m); MaxLinkTTL caps ttl_seconds (default 24h).
	LinkTTL    time.Duration
	MaxLinkTTL time.Duration
	// Proxy bounds the API proxy (`server.proxy:`, see proxy.go).
	Proxy Proxy
	// MetricsListen, when set (host:port), serves /metrics on a listener of its own and not on
	// Listen, so it can be kept off the network that reaches the broker.
	MetricsListen string
	// MetricsToken, when set, is the bearer token /metrics asks for, wherever it is served.
	MetricsToken string
}

// Storage is the `storage:` section.
type Storage struct {
	Driver string // "sqlite" (default) | "postgres"
	DSN    string // sqlite: a file path (default oauthbroker.db); postgres: a URL
	// KeysFile is where the broker's own keys live when OAUTHBROKER_KEYS is not set
	// (default: oauthbroker.keys.json next to the SQLite database, or in the working directory).
	KeysFile string
	// MaxConns bounds a PostgreSQL store's connection pool per broker instance (1-1000);
	// 0: the store's default (10). Not allowed with sqlite, which has one writer anyway.
	MaxConns int
	// Retention is how long spent and expired links, flows, confirmations and admin sessions
	// are kept before the janitor deletes them (default 7 days). Identities, their history
	// and webhook events are not affected.
	Retention time.Duration
}

// Admin is the `admin:` section.
type Admin struct {
	PasswordHash string // bcrypt; empty: none configured
}

// Confirm modes of a bot. ConfirmCode is the default: a link that reaches someone else's
// browser (forwarded, or opened by another site) links nothing that the chat user did not
// confirm by typing the code in the chat.
const (
	ConfirmNone = "none"
	ConfirmCode = "code"
)

// Bot is one tenant under `bots:`.
type Bot struct {
	Name            string
	APIKeys         []string
	WebhookURL      string
	WebhookSecret   string
	RedirectOrigins []string // scheme://host[:port], no path; lower case, default port removed
	DisplayName     string   // how the connect page names the bot; "" for its name
	Confirm         string   // ConfirmCode (the default) | ConfirmNone
	Providers       []*Provider
	Line            int // where the bot's name is in the file, for messages of later checks
}

// Provider returns the bot's provider with that name, or nil.
func (b *Bot) Provider(name string) *Provider {
	for _, p := range b.Providers {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Endpoints overrides a provider type's URLs, where the goth type allows it.
type Endpoints struct {
	AuthURL    string `yaml:"auth_url"`
	TokenURL   string `yaml:"token_url"`
	ProfileURL string `yaml:"profile_url"`
	EmailURL   string `yaml:"email_url"`
	// OAuth 1.0a (twitter, twitterv2): the request-token URL.
	RequestTokenURL string `yaml:"request_token_url"`
}

// Provider is one entry under a bot's `providers:`.
type Provider struct {
	Name         string
	Type         string // a key of LoadOptions.Types (the providers package's table)
	Key          string
	Secret       string
	Scopes       []string
	DiscoveryURL string // openid-connect
	Endpoints    Endpoints
	// Options are type-specific knobs (for example google's `prompt`), validated per type.
	Options map[string]string
	// APIBaseURL is where the API proxy sends this provider's calls (api_base_url): https,
	// without a trailing slash; "" for the type's default API host.
	APIBaseURL string
	// Spec holds the fields of `type: oauth2`/`oauth1`, or a catalog type's overrides
	// (see Spec); zero for goth types.
	Spec Spec
	Line int // where the provider's name is in the file
}

// Bot returns the bot with that name, or nil.
func (c *Config) Bot(name string) *Bot {
	for _, b := range c.Bots {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// BotNames returns the bot names in file order.
func (c *Config) BotNames() []string {
	names := make([]string, len(c.Bots))
	for i, b := range c.Bots {
		names[i] = b.Name
	}
	return names
}

// CallbackURL is the redirect URI to register at the provider for one bot's provider.
func (c *Config) CallbackURL(bot, provider string) string {
	return c.Server.PublicURL + "/bots/" + bot + "/" + provider + "/callback"
}
