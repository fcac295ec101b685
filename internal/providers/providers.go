// Package providers turns the providers of providers.yaml into goth providers, one
// configuration per bot and provider, built once at start and immutable afterwards, and
// runs the provider's side of a link: Begin (where to send the browser), Complete (code or
// verifier exchange and profile), Refresh and Revoke.
//
// It owns every piece of goth-specific knowledge: which type has which constructor,
// endpoint overrides, PKCE, refresh and revocation support, and how to call goth safely:
// without gothic or goth's global provider registry (two bots may use one type with
// different keys), with our HTTP client and a deadline on every call, with panics
// recovered, and with errors that never carry a token or secret.
//
// It imports config only; it must not import the broker, the store or anything HTTP-facing.
package providers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// Options are the registry's dependencies.
type Options struct {
	// HTTPClient carries every call to a provider. Its Timeout (default: the config's
	// server.outbound_timeout, else 10s) bounds each whole operation, see callClient.
	HTTPClient *http.Client
	// SandboxURL is the base URL of the demo's in-process sandbox server; when "", a
	// provider of type sandbox is a start-up error.
	SandboxURL string
}

// Registry holds every configured provider of every bot. It is immutable after
// NewRegistry and safe for concurrent use.
type Registry struct {
	byBot map[string]map[string]*Provider
	all   []*Provider // config order
}

// Provider is one bot's configured provider. Its exported fields are read-only.
type Provider struct {
	Bot, Name, Type string
	OAuth1          bool     // OAuth 1.0a: no state; the flow is bound by the request token
	PKCE            bool     // Begin accepts a code challenge and Complete sends the verifier
	CanRefresh      bool     // goth can refresh this type's tokens
	Scopes          []string // configured; a link may add more (incremental consent)
	RevocationURL   string   // RFC 7009 endpoint Revoke calls; "" when none
	APIBaseURL      string   // default base for the API proxy; "" when the type has none

	kind    *kind
	args    *buildArgs // a pointer, so that fmt's %+v of a Provider prints no secret
	base    *http.Client
	timeout time.Duration
}

// String names the provider for messages; it never includes credentials.
func (p *Provider) String() string { return p.Bot + "/" + p.Name + " (" + p.Type + ")" }

// CallbackInput is what the callback received, picked out by the broker: never the raw
// query, so that nothing an attacker adds to the callback URL reaches goth.
type CallbackInput struct {
	Code, CodeVerifier        string // OAuth 2
	OAuthToken, OAuthVerifier string // OAuth 1.0a
}

// NewRegistry validates and prepares every provider of cfg: openid-connect discovery runs
// here, once, with opts.HTTPClient and ctx. All problems are reported together.
func NewRegistry(ctx context.Context, cfg *config.Config, opts Options) (*Registry, error) {
	base := opts.HTTPClient
	timeout := cfg.Server.OutboundTimeout
	if base != nil && base.Timeout > 0 {
		timeout = base.Timeout
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if base == nil {
		base = &http.Client{Timeout: timeout}
	}
	r := &Registry{byBot: map[string]map[string]*Provider{}}
	var errs []error
	for _, b := range cfg.Bots {
		r.byBot[b.Name] = map[string]*Provider{}
		for _, pc := range b.Providers {
			p, err := newProvider(ctx, cfg, b.Name, pc, opts, base, timeout)
			if err != nil {
				var ue *UpstreamError
				if errors.As(err, &ue) {
					ue.Provider = b.Name + "/" + pc.Name
				} else {
					err = fmt.Errorf("providers: %s/%s: %w", b.Name, pc.Name, err)
				}
				if pc.Line > 0 {
					err = fmt.Errorf("%s:%d: %w", cfg.File, pc.Line, err)
				}
				errs = append(errs, err)
				continue
			}
			r.byBot[b.Name][pc.Name] = p
			r.all = append(r.all, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// Lookup returns a bot's provider.
func (r *Registry) Lookup(bot, provider string) (*Provider, bool) {
	p, ok := r.byBot[bot][provider]
	return p, ok
}

// Providers returns every provider in config order.
func (r *Registry) Providers() []*Provider { return append([]*Provider(nil), r.all...) }

// SandboxClient is an OAuth client the demo must register in its sandbox server.
type SandboxClient struct {
	Bot, Provider, ClientID, ClientSecret, RedirectURI string
}

// SandboxClients lists the clients of every sandbox-type provider. A sandbox provider
// without key/secret in the config got a random pair at start; the demo registers these.
func (r *Registry) SandboxClients() []SandboxClient {
	var out []SandboxClient
	for _, p := range r.all {
		if p.Type == "sandbox" {
			out = append(out, SandboxClient{p.Bot, p.Name, p.args.key, p.args.secret, p.args.callbackURL})
		}
	}
	return out
}

func newProvider(ctx context.Context, cfg *config.Config, bot string, pc *config.Provider, opts Options, base *http.Client, timeout time.Duration) (*Provider, error) {
	k, ok := kinds[pc.Type]
	if !ok {
		return nil, fmt.Errorf("unknown type %q", pc.Type)
	}
	if err := checkAgainstRule(pc, k.rule); err != nil {
		return nil, err
	}
	key, secret := pc.Key, pc.Secret
	if k.rule.NoCredentials && key == "" && secret == "" {
		key, secret = "oauthbroker-"+bot+"-"+pc.Name, randomSecret()
	}
	if key == "" || secret == "" {
		return nil, errors.New("key and secret are required")
	}
	for _, s := range pc.Scopes {
		if !validScope(s) {
			return nil, fmt.Errorf("scope %q is not an RFC 6749 scope token", s)
		}
	}
	a := &buildArgs{
		key: key, secret: secret, callbackURL: cfg.CallbackURL(bot, pc.Name),
		scopes: append([]string(nil), pc.Scopes...), endpoints: pc.Endpoints,
		options: pc.Options, sandboxURL: strings.TrimSuffix(opts.SandboxURL, "/"),
	}
	if k.setup != nil {
		client, cancel := callClient(ctx, base, timeout)
		err := k.setup(ctx, a, pc.DiscoveryURL, client)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	// A trial build catches missing options now rather than at a user's first link.
	a.client = base
	gp, err := k.build(a)
	if err != nil {
		return nil, err
	}
	a.client = nil
	p := &Provider{
		Bot: bot, Name: pc.Name, Type: pc.Type,
		OAuth1: k.oauth1, PKCE: k.pkce, CanRefresh: gp.RefreshTokenAvailable(),
		Scopes: append([]string(nil), pc.Scopes...),
		kind:   k, args: a, base: base, timeout: timeout,
	}
	if k.revocation != nil {
		p.RevocationURL = k.revocation(a)
	}
	if k.apiBase != nil {
		p.APIBaseURL = k.apiBase(a)
	}
	return p, nil
}

// checkAgainstRule repeats config's validation for callers (tests, demo) that build a
// Config by hand: a setting the type cannot honour must not be silently ignored.
func checkAgainstRule(pc *config.Provider, r config.TypeRule) error {
	if pc.DiscoveryURL != "" && !r.DiscoveryURL {
		return fmt.Errorf("type %s takes no discovery_url", pc.Type)
	}
	e := pc.Endpoints
	for key, v := range map[string]string{epAuth: e.AuthURL, epToken: e.TokenURL, epProfile: e.ProfileURL, epEmail: e.EmailURL, epRequestToken: e.RequestTokenURL} {
		if v != "" && !contains(r.Endpoints, key) {
			return fmt.Errorf("type %s cannot override endpoints.%s", pc.Type, key)
		}
	}
	for key := range pc.Options {
		if !contains(r.Options, key) {
			return fmt.Errorf("type %s has no option %q", pc.Type, key)
		}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}
