// Package providers turns the providers of providers.yaml into working providers, one
// configuration per bot and provider, built once at start and immutable afterwards, and
// runs the provider's side of a link: Begin (where to send the browser), Complete (code or
// verifier exchange and profile), Refresh and RevokeGrant, and signs proxied API calls.
//
// Every provider type has one Record (record.go), read from the embedded provider catalog:
// its title, protocol, implementation, PKCE, refresh, revocation, API base, id handling,
// documentation and console pages. Three implementations run them: the broker's own OAuth 2
// (oauth2.go) and OAuth 1.0a (oauth1.go) clients, driven by the record's Spec and the
// providers.yaml entry's overrides, and goth (goth.go) for the types goth gets right, called
// without gothic or goth's global registry (two bots may use one type with different keys).
// Every call has our HTTP client and a deadline, panics are recovered, and errors never carry
// a token or secret. Complete returns a broker-neutral User with the scopes actually granted.
//
// It imports config and oauth1 only; it must not import the broker, the store or anything
// HTTP-facing.
package providers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	Title           string   // how pages name it: the provider's brand, else the configured name
	OAuth1          bool     // OAuth 1.0a: no state; the flow is bound by the request token
	PKCE            bool     // Begin accepts a code challenge and Complete sends the verifier
	CanRefresh      bool     // its tokens can be refreshed
	Scopes          []string // configured, else the type's defaults; a link may add more
	RevocationURL   string   // where RevokeGrant goes; "" when none (or the form needs none)
	APIBaseURL      string   // base for the API proxy: api_base_url, else the type's; "" when none

	record  *Record
	spec    config.Spec // the record's, with this entry's overrides and options filled in
	eng     engine
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
	r, ok := records[pc.Type]
	if !ok {
		return nil, fmt.Errorf("unknown type %q", pc.Type)
	}
	if err := checkAgainstRule(pc, r.rule()); err != nil {
		return nil, err
	}
	key, secret := pc.Key, pc.Secret
	if r.rule().NoCredentials && key == "" && secret == "" {
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
	p := &Provider{
		Bot: bot, Name: pc.Name, Type: pc.Type, Title: r.Title,
		OAuth1: r.Implementation == config.ImplOAuth1, PKCE: r.PKCE(),
		Scopes: append([]string(nil), pc.Scopes...), record: r, spec: r.Spec,
		args: a, base: base, timeout: timeout,
	}
	if p.Title == "" || r.Generic {
		// The sandbox, oauth2 and oauth1 types are whatever the operator named them:
		// a sandbox provider called "rides" is "Rides".
		rn, size := utf8.DecodeRuneInString(pc.Name)
		p.Title = string(unicode.ToUpper(rn)) + pc.Name[size:]
	}
	if r.goth != nil {
		if err := p.setupGoth(ctx, pc, a); err != nil {
			return nil, err
		}
	} else {
		spec, err := resolveSpec(r, pc)
		if err != nil {
			return nil, err
		}
		p.spec = spec
		p.PKCE = p.PKCE && (spec.PKCE == nil || *spec.PKCE)
		p.CanRefresh = or(spec.Refresh, config.RefreshNone) != config.RefreshNone
		p.RevocationURL, p.APIBaseURL = spec.RevocationURL, spec.APIBaseURL
		if len(p.Scopes) == 0 {
			p.Scopes = append([]string(nil), r.Scopes...)
		}
		p.eng = oauth2Engine{}
		if p.OAuth1 {
			p.eng = oauth1Engine{}
		}
	}
	if pc.APIBaseURL != "" {
		p.APIBaseURL = fill(pc.APIBaseURL, mergedOptions(r, pc))
	}
	return p, nil
}

// setupGoth prepares a goth-backed provider: openid-connect discovery (once, here), and a
// trial build that catches missing options now rather than at a user's first link.
func (p *Provider) setupGoth(ctx context.Context, pc *config.Provider, a *buildArgs) error {
	k := p.record.goth
	if k.setup != nil {
		client, cancel := callClient(ctx, p.base, p.timeout)
		err := k.setup(ctx, a, pc.DiscoveryURL, client)
		cancel()
		if err != nil {
			return err
		}
	}
	a.client = p.base
	gp, err := k.build(a)
	if err != nil {
		return err
	}
	a.client = nil
	p.eng = gothEngine{k}
	p.CanRefresh = gp.RefreshTokenAvailable()
	p.RevocationURL, p.APIBaseURL = p.record.Spec.RevocationURL, p.record.Spec.APIBaseURL
	if k.revocation != nil {
		p.RevocationURL = or(k.revocation(a), p.RevocationURL)
	}
	if k.apiBase != nil {
		p.APIBaseURL = or(k.apiBase(a), p.APIBaseURL)
	}
	return nil
}

// checkAgainstRule repeats config's validation for callers (tests, demo) that build a
// Config by hand: a setting the type cannot honour must not be silently ignored.
func checkAgainstRule(pc *config.Provider, r config.TypeRule) error {
	if r.Spec == config.SpecNone && !reflect.ValueOf(pc.Spec).IsZero() {
		return fmt.Errorf("type %s is built on goth and takes no auth_url, profile, … (see oauthbroker providers)", pc.Type)
	}
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

// Record is the provider's type record.
func (p *Provider) Record() *Record { return p.record }

// Spec is what the provider runs with: its type's record with the providers.yaml entry's
// overrides, the placeholders filled in. Read-only.
func (p *Provider) Spec() config.Spec { return p.spec }

// RevocationForm is how RevokeGrant ends this provider's grants (one of
// config.RevocationForms), "" when it cannot.
func (p *Provider) RevocationForm() string { return p.revocationForm() }
