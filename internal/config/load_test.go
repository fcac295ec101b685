package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testTypes mirrors the shape of the providers package's table closely enough to exercise
// every kind of TypeRule.
var testTypes = map[string]TypeRule{
	"twitter":        {Endpoints: []string{"request_token_url", "auth_url", "token_url", "profile_url"}},
	"github":         {Endpoints: []string{"auth_url", "token_url", "profile_url", "email_url"}},
	"gitlab":         {Endpoints: []string{"auth_url", "token_url", "profile_url"}},
	"google":         {Options: []string{"prompt", "access_type", "hd"}},
	"slack":          {},
	"discord":        {},
	"spotify":        {},
	"uber":           {},
	"openid-connect": {DiscoveryURL: true, Endpoints: []string{"auth_url", "token_url", "profile_url"}},
	"sandbox":        {NoCredentials: true},
}

// env is a fake environment for LoadOptions.Getenv.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// parse parses src as "t.yaml" with testTypes and the given environment.
func parse(tb testing.TB, src string, kv ...string) (*Config, *Problems) {
	tb.Helper()
	cfg, err := Parse("t.yaml", []byte(src), LoadOptions{Getenv: env(kv...), Types: testTypes})
	if err == nil {
		return cfg, nil
	}
	var ps *Problems
	if !errors.As(err, &ps) {
		tb.Fatalf("Parse error is %T, want *Problems: %v", err, err)
	}
	if cfg != nil {
		tb.Errorf("Parse returned a Config along with problems")
	}
	return nil, ps
}

// mustParse parses src and fails the test on any problem.
func mustParse(tb testing.TB, src string, kv ...string) *Config {
	tb.Helper()
	cfg, ps := parse(tb, src, kv...)
	if ps != nil {
		tb.Fatalf("unexpected problems:\n%v", ps)
	}
	return cfg
}

const validFile = `# a complete file
server:
  public_url: https://broker.example.com/oauth/
  listen: ":9090"
  outbound_timeout: 20s
  link_ttl: 15m
  max_link_ttl: 48h
storage:
  driver: sqlite
  dsn: /var/lib/oauthbroker/broker.db
admin:
  password_hash: $2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW
bots:
  supportbot:
    api_keys: ["${SUPPORT_KEY}", old-key-0123456789abcdef]
    webhook_url: https://bot.example/hooks/oauth
    webhook_secret: ${SUPPORT_HOOK_SECRET}
    redirect_origins: [https://Bot.Example:443/, "http://localhost:3978", "http://[::1]:80"]
    display_name: Support Bot ✓
    confirm: none
    providers:
      twitter: { type: twitter, key: "${TWITTER_KEY}", secret: "${TWITTER_SECRET}" }
      github:  { type: github,  key: gh-id, secret: gh-secret, scopes: [read:user, repo] }
      work-gitlab:
        type: gitlab
        key: gl-id
        secret: gl-secret
        endpoints: { auth_url: https://git.corp/oauth/authorize, token_url: https://git.corp/oauth/token, profile_url: https://git.corp/api/v4/user }
      google:
        type: google
        key: g-id
        secret: g-secret
        options: {prompt: consent}
      sso:
        type: openid-connect
        key: sso-id
        secret: sso-secret
        discovery_url: https://id.example.com/.well-known/openid-configuration
  salesbot:
    api_keys: [sales-key-0123456789]
    providers:
      github: {type: github, key: other-id, secret: other-secret}
`

func TestParseValidFile(t *testing.T) {
	cfg := mustParse(t, validFile,
		"SUPPORT_KEY", "support-key-0123456789",
		"SUPPORT_HOOK_SECRET", "hook-secret-0123456789",
		"TWITTER_KEY", "tw-key", "TWITTER_SECRET", "tw:secret#with$chars")

	wantServer := Server{PublicURL: "https://broker.example.com/oauth", Listen: ":9090",
		OutboundTimeout: 20 * time.Second, LinkTTL: 15 * time.Minute, MaxLinkTTL: 48 * time.Hour, Proxy: defaultProxy}
	if cfg.Server != wantServer {
		t.Errorf("Server = %+v\nwant %+v", cfg.Server, wantServer)
	}
	wantStorage := Storage{Driver: "sqlite", DSN: "/var/lib/oauthbroker/broker.db", KeysFile: "/var/lib/oauthbroker/oauthbroker.keys.json", Retention: DefaultRetention}
	if cfg.Storage != wantStorage {
		t.Errorf("Storage = %+v\nwant %+v", cfg.Storage, wantStorage)
	}
	if !strings.HasPrefix(cfg.Admin.PasswordHash, "$2b$12$") {
		t.Errorf("PasswordHash = %q", cfg.Admin.PasswordHash)
	}
	if got := cfg.BotNames(); !reflect.DeepEqual(got, []string{"supportbot", "salesbot"}) {
		t.Errorf("BotNames = %v", got)
	}

	b := cfg.Bot("supportbot")
	wantBot := &Bot{
		Name:            "supportbot",
		APIKeys:         []string{"support-key-0123456789", "old-key-0123456789abcdef"},
		WebhookURL:      "https://bot.example/hooks/oauth",
		WebhookSecret:   "hook-secret-0123456789",
		RedirectOrigins: []string{"https://bot.example", "http://localhost:3978", "http://[::1]"},
		DisplayName:     "Support Bot ✓",
		Confirm:         ConfirmNone,
		Line:            14,
	}
	gotBot := *b
	gotBot.Providers = nil
	if !reflect.DeepEqual(&gotBot, wantBot) {
		t.Errorf("supportbot = %+v\nwant %+v", gotBot, *wantBot)
	}
	var names []string
	for _, p := range b.Providers {
		names = append(names, p.Name)
	}
	if want := []string{"twitter", "github", "work-gitlab", "google", "sso"}; !reflect.DeepEqual(names, want) {
		t.Errorf("provider order = %v, want %v", names, want)
	}

	wantProviders := map[string]Provider{
		"twitter": {Name: "twitter", Type: "twitter", Key: "tw-key", Secret: "tw:secret#with$chars", Line: 22},
		"github": {Name: "github", Type: "github", Key: "gh-id", Secret: "gh-secret",
			Scopes: []string{"read:user", "repo"}, Line: 23},
		"work-gitlab": {Name: "work-gitlab", Type: "gitlab", Key: "gl-id", Secret: "gl-secret", Line: 24,
			Endpoints: Endpoints{AuthURL: "https://git.corp/oauth/authorize", TokenURL: "https://git.corp/oauth/token",
				ProfileURL: "https://git.corp/api/v4/user"}},
		"google": {Name: "google", Type: "google", Key: "g-id", Secret: "g-secret", Line: 29,
			Options: map[string]string{"prompt": "consent"}},
		"sso": {Name: "sso", Type: "openid-connect", Key: "sso-id", Secret: "sso-secret", Line: 34,
			DiscoveryURL: "https://id.example.com/.well-known/openid-configuration"},
	}
	for name, want := range wantProviders {
		if got := b.Provider(name); got == nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("provider %s = %+v\nwant %+v", name, got, want)
		}
	}
	if got := cfg.CallbackURL("supportbot", "github"); got != "https://broker.example.com/oauth/bots/supportbot/github/callback" {
		t.Errorf("CallbackURL = %s", got)
	}
	if sales := cfg.Bot("salesbot"); sales == nil || sales.Line != 39 || sales.Confirm != ConfirmCode || sales.DisplayName != "" {
		t.Errorf("salesbot = %+v", sales)
	}
}

const minimalFile = `server:
  public_url: http://localhost:8080
bots:
  b1:
    api_keys: [key-0123456789abcdef]
    providers:
      demo: {type: sandbox}
`

func TestParseDefaults(t *testing.T) {
	cfg := mustParse(t, minimalFile)
	want := Server{PublicURL: "http://localhost:8080", Listen: "127.0.0.1:8080",
		OutboundTimeout: 10 * time.Second, LinkTTL: 10 * time.Minute, MaxLinkTTL: 24 * time.Hour, Proxy: defaultProxy}
	if cfg.Server != want {
		t.Errorf("Server = %+v, want %+v", cfg.Server, want)
	}
	if want := (Storage{Driver: "sqlite", DSN: "oauthbroker.db", KeysFile: "oauthbroker.keys.json", Retention: DefaultRetention}); cfg.Storage != want {
		t.Errorf("Storage = %+v, want %+v", cfg.Storage, want)
	}
	if cfg.Admin.PasswordHash != "" || cfg.Bots[0].Confirm != ConfirmCode || cfg.Bots[0].RedirectOrigins != nil {
		t.Errorf("unexpected non-defaults: %+v %+v", cfg.Admin, cfg.Bots[0])
	}
}

func TestParseStorage(t *testing.T) {
	tests := []struct {
		name, storage string
		want          Storage
	}{
		{"sqlite file URI", "{dsn: 'file:/data/ob.db?_fk=1'}",
			Storage{Driver: "sqlite", DSN: "file:/data/ob.db?_fk=1", KeysFile: "/data/oauthbroker.keys.json", Retention: DefaultRetention}},
		{"sqlite in memory", "{dsn: ':memory:'}",
			Storage{Driver: "sqlite", DSN: ":memory:", KeysFile: "oauthbroker.keys.json", Retention: DefaultRetention}},
		{"postgres", "{driver: postgres, dsn: 'postgres://u:p@db/ob?sslmode=require'}",
			Storage{Driver: "postgres", DSN: "postgres://u:p@db/ob?sslmode=require", KeysFile: "oauthbroker.keys.json", Retention: DefaultRetention}},
		{"explicit keys file", "{driver: postgres, dsn: 'postgresql:///ob', keys_file: /etc/ob/keys.json}",
			Storage{Driver: "postgres", DSN: "postgresql:///ob", KeysFile: "/etc/ob/keys.json", Retention: DefaultRetention}},
		{"postgres pool size", "{driver: postgres, dsn: 'postgres://db/ob', max_conns: 25}",
			Storage{Driver: "postgres", DSN: "postgres://db/ob", KeysFile: "oauthbroker.keys.json", MaxConns: 25, Retention: DefaultRetention}},
		{"empty dsn from env means default", "{dsn: '${DSN:-}'}",
			Storage{Driver: "sqlite", DSN: "oauthbroker.db", KeysFile: "oauthbroker.keys.json", Retention: DefaultRetention}},
		{"retention", "{retention: 720h}",
			Storage{Driver: "sqlite", DSN: "oauthbroker.db", KeysFile: "oauthbroker.keys.json", Retention: 30 * 24 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, minimalFile+"storage: "+tt.storage+"\n")
			if cfg.Storage != tt.want {
				t.Errorf("Storage = %+v, want %+v", cfg.Storage, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "providers.yaml")
	if err := os.WriteFile(path, []byte(minimalFile+"  b2: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, LoadOptions{Types: testTypes})
	if want := path + ":8: bots.b2: must be a map"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load error = %v, want prefix %q", err, want)
	}

	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"), LoadOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// Anchors and aliases are plain YAML, so they work for whole values; merge keys (<<) are refused
// in TestParseProblems.
func TestParseFollowsAliases(t *testing.T) {
	cfg := mustParse(t, `server: {public_url: https://b.example}
bots:
  b1:
    api_keys: [key-0123456789abcdef]
    providers:
      gh: &gh {type: github, key: k, secret: s, scopes: &scopes [read:user]}
  b2:
    api_keys: [key-0123456789abcdeX]
    providers:
      gh: *gh
      gl: {type: gitlab, key: k2, secret: s2, scopes: *scopes}
`)
	if p := cfg.Bot("b2").Provider("gh"); p == nil || p.Key != "k" || p.Line != 10 {
		t.Errorf("b2 gh = %+v", p)
	}
	if p := cfg.Bot("b2").Provider("gl"); p == nil || !reflect.DeepEqual(p.Scopes, []string{"read:user"}) {
		t.Errorf("b2 gl = %+v", p)
	}
}

// Aliases of aliases multiply the work of a walk; past a budget Parse stops following them.
func TestParseAliasBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("server: {public_url: https://b.example}\nx: &b {api_keys: [key-0123456789abcdef], providers: {p: {type: sandbox}}}\nbots:\n")
	for i := range maxAliasDerefs + 1 {
		fmt.Fprintf(&b, "  b%d: *b\n", i)
	}
	_, ps := parse(t, b.String())
	if ps == nil || !strings.Contains(ps.Error(), "more than 10000 YAML aliases followed") {
		t.Fatalf("no alias budget problem")
	}
}
