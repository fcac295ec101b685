package testenv

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

const (
	KeyA = "key-for-bot-alpha-0123456789"
	KeyB = "key-for-bot-bravo-0123456789"
)

// NewSandbox starts the sandbox OAuth 2 server as a stand-alone fake provider that
// approves as user 1001 without a page.
func NewSandbox(t testing.TB, clients ...sandbox.Client) (*sandbox.Server, string) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{
		Clients:     clients,
		Users:       []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}, {ID: "1002", Login: "grace", Name: "Grace Hopper", Email: "grace@example.com"}},
		AutoApprove: "1001",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv.URL
}

// TypeSandbox starts a sandbox that plays provider type typ for the test: the type's own hosts,
// which goth hard-codes, are routed to it, and it signs ID tokens as issuer ("" for none). The
// options make a provider of that type find it (a discovery URL for openid-connect); register
// the broker's client with sb.AddClient once the broker runs.
func TypeSandbox(t testing.TB, typ, issuer string) (*sandbox.Server, []ProviderOption) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}},
		AutoApprove: "1001", Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	providertest.NewRewriteTransport(providertest.SandboxRewrites(typ, srv.URL)...).Install(t)
	var opts []ProviderOption
	if typ == "openid-connect" {
		opts = append(opts, DiscoveryURL(srv.URL+"/.well-known/openid-configuration"))
	}
	return sb, opts
}

// AddSandboxClients registers on sb the OAuth clients of the two bots' "sandbox" providers:
// alpha's client-a and bravo's client-b, each with its callback at the broker at brokerURL.
func AddSandboxClients(t testing.TB, sb interface{ AddClient(sandbox.Client) error }, brokerURL string) {
	t.Helper()
	for _, c := range []sandbox.Client{
		{ID: "client-a", Secret: "secret-a-0123456789", RedirectURIs: []string{brokerURL + "/bots/alpha/sandbox/callback"}},
		{ID: "client-b", Secret: "secret-b-0123456789", RedirectURIs: []string{brokerURL + "/bots/bravo/sandbox/callback"}},
	} {
		if err := sb.AddClient(c); err != nil {
			t.Fatal(err)
		}
	}
}

// InteractiveSandbox is the sandbox as the demo runs it: a consent page, two accounts.
func InteractiveSandbox(t testing.TB) (*sandbox.Server, string) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{
		{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"},
		{ID: "1002", Login: "grace", Name: "Grace Hopper", Email: "grace@example.com"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv.URL
}

// StartSandboxBroker runs bot alpha (confirm: none, or code) with provider "sandbox".
func StartSandboxBroker(t testing.TB, confirm string) (*Broker, *sandbox.Server) {
	t.Helper()
	return StartSandboxBrokerWith(t, confirm, app.Options{})
}

func StartSandboxBrokerWith(t testing.TB, confirm string, opts app.Options) (*Broker, *sandbox.Server) {
	t.Helper()
	sb, sbURL := InteractiveSandbox(t)
	opts.SandboxURL = sbURL
	b := Start(t, Config{Bots: []*BotConfig{Bot("alpha").Key(KeyA).Confirm(confirm).RedirectOrigins("https://bot.example").
		Provider("sandbox", "sandbox", "client-a", "secret-a-0123456789")}, App: opts})
	if err := sb.AddClient(sandbox.Client{ID: "client-a", Secret: "secret-a-0123456789", Name: "alpha",
		RedirectURIs: []string{b.URL + "/bots/alpha/sandbox/callback"}}); err != nil {
		t.Fatal(err)
	}
	return b, sb
}

// EndpointsYAML renders a provider's endpoints block for a test config.
func EndpointsYAML(ep config.Endpoints, indent string) string {
	var b strings.Builder
	b.WriteString(indent + "endpoints:\n")
	for _, kv := range [][2]string{
		{"request_token_url", ep.RequestTokenURL}, {"auth_url", ep.AuthURL}, {"token_url", ep.TokenURL},
		{"profile_url", ep.ProfileURL}, {"email_url", ep.EmailURL},
	} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s  %s: %s\n", indent, kv[0], kv[1])
		}
	}
	return b.String()
}

// Clock is a test clock that only moves when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

func NewClock() *Clock { return &Clock{now: time.Now()} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// StartTwitterBroker runs bot alpha with one twitter provider, its app registered at a fake
// Twitter that verifies every signature.
func StartTwitterBroker(t testing.TB) (*Broker, *providertest.Twitter) {
	t.Helper()
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
	b := Start(t, Config{Bots: []*BotConfig{Bot("alpha").Key(KeyA).Confirm("none").
		Provider("twitter", "twitter", "ck-alpha", "cs-alpha-secret", At(tw.Endpoints()))}})
	return b, tw
}
