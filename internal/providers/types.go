package providers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/auth0"
	"github.com/markbates/goth/providers/azureadv2"
	"github.com/markbates/goth/providers/cloudfoundry"
	"github.com/markbates/goth/providers/cognito"
	"github.com/markbates/goth/providers/discord"
	"github.com/markbates/goth/providers/gitea"
	"github.com/markbates/goth/providers/github"
	"github.com/markbates/goth/providers/gitlab"
	"github.com/markbates/goth/providers/influxcloud"
	"github.com/markbates/goth/providers/mastodon"
	"github.com/markbates/goth/providers/nextcloud"
	"github.com/markbates/goth/providers/okta"
	"github.com/markbates/goth/providers/paypal"
	"golang.org/x/oauth2"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// Endpoint keys, as config.Endpoints spells them in YAML.
const (
	epAuth         = "auth_url"
	epToken        = "token_url"
	epProfile      = "profile_url"
	epEmail        = "email_url"
	epRequestToken = "request_token_url"
)

// buildArgs is everything a constructor may use. A goth provider is built per call from
// them: construction is a struct literal for every type (openid-connect's discovery ran
// once in NewRegistry), and a fresh value per flow means the merged scopes of one link
// never leak into another and two bots never share anything.
type buildArgs struct {
	key, secret, callbackURL string
	scopes                   []string
	endpoints                config.Endpoints
	options                  map[string]string
	client                   *http.Client
	oidc                     *oidcConfig // openid-connect only
	sandboxURL               string      // sandbox only
}

// kind is one provider type the broker can build.
type kind struct {
	rule   config.TypeRule
	oauth1 bool
	// pkce: goth sends our code_verifier at the exchange (openid-connect, zoom: session.go
	// reads params["code_verifier"]; fitbit always forwards it). Every other goth OAuth 2
	// session calls Exchange with the code only, so a challenge in the auth URL would make
	// a PKCE-enforcing provider refuse the exchange; we send none for them.
	pkce       bool
	revocation func(*buildArgs) string // RFC 7009 endpoint; nil or "": none we can call
	// setup runs once in NewRegistry, before the trial build (openid-connect discovery).
	setup func(ctx context.Context, a *buildArgs, discoveryURL string, client *http.Client) error
	// refresh replaces goth's RefreshToken where goth would not use our client.
	refresh func(ctx context.Context, a *buildArgs, refreshToken string) (*oauth2.Token, error)
	apiBase func(*buildArgs) string // default base URL for the API proxy
	build   func(*buildArgs) (goth.Provider, error)
	// beforeProfile adjusts the provider between the exchange and FetchUser.
	beforeProfile func(goth.Provider, goth.Session)
}

// Real endpoints, as constants: goth keeps its defaults in exported package variables,
// which anything in the process could change. goth's gitlab.ProfileURL is moreover the
// /api/v3 that GitLab removed in 2018.
const (
	githubAuthURL    = "https://github.com/login/oauth/authorize"
	githubTokenURL   = "https://github.com/login/oauth/access_token"
	githubProfileURL = "https://api.github.com/user"
	githubEmailURL   = "https://api.github.com/user/emails"
	giteaAuthURL     = "https://gitea.com/login/oauth/authorize"
	giteaTokenURL    = "https://gitea.com/login/oauth/access_token"
	giteaProfileURL  = "https://gitea.com/api/v1/user"
	gitlabAuthURL    = "https://gitlab.com/oauth/authorize"
	gitlabTokenURL   = "https://gitlab.com/oauth/token"
	gitlabProfileURL = "https://gitlab.com/api/v4/user"
)

// goth's paypal.New and influxcloud.New pick their hosts from environment variables
// (PAYPAL_ENV, INFLUXCLOUD_OAUTH_DOMAIN); we use fixed defaults and let endpoints override.
const (
	paypalAuthURL    = "https://www.paypal.com/webapps/auth/protocol/openidconnect/v1/authorize"
	paypalTokenURL   = "https://www.paypal.com/webapps/auth/protocol/openidconnect/v1/tokenservice"
	paypalProfileURL = "https://www.paypal.com/webapps/auth/protocol/openidconnect/v1/userinfo"
	influxAuthURL    = "https://cloud.influxdata.com/oauth/authorize"
	influxTokenURL   = "https://cloud.influxdata.com/oauth/token"
	influxProfileURL = "https://cloud.influxdata.com/api/v1/user"
)

var kinds = func() map[string]*kind {
	k := map[string]*kind{
		"twitter": {
			rule: rule(eps(epRequestToken, epAuth, epToken, epProfile)), oauth1: true,
			apiBase: fixed("https://api.twitter.com"),
			build:   func(a *buildArgs) (goth.Provider, error) { return newTwitterProvider(a, false), nil },
		},
		"twitterv2": {
			rule: rule(eps(epRequestToken, epAuth, epToken, epProfile)), oauth1: true,
			apiBase: fixed("https://api.twitter.com"),
			build:   func(a *buildArgs) (goth.Provider, error) { return newTwitterProvider(a, true), nil },
		},
		"github": {
			rule:    rule(eps(epAuth, epToken, epProfile, epEmail)),
			apiBase: apiFromProfile("https://api.github.com"),
			build: func(a *buildArgs) (goth.Provider, error) {
				e := a.endpoints
				return github.NewCustomisedURL(a.key, a.secret, a.callbackURL, or(e.AuthURL, githubAuthURL),
					or(e.TokenURL, githubTokenURL), or(e.ProfileURL, githubProfileURL), or(e.EmailURL, githubEmailURL), a.scopes...), nil
			},
		},
		"gitlab": {
			rule: rule(eps(epAuth, epToken, epProfile)),
			// Doorkeeper's RFC 7009 endpoint sits next to its token endpoint.
			revocation: func(a *buildArgs) string {
				return siblingOf(or(a.endpoints.TokenURL, gitlabTokenURL), "/token", "/revoke")
			},
			apiBase: apiFromProfile("https://gitlab.com/api/v4"),
			build: func(a *buildArgs) (goth.Provider, error) {
				e := a.endpoints
				return gitlab.NewCustomisedURL(a.key, a.secret, a.callbackURL, or(e.AuthURL, gitlabAuthURL),
					or(e.TokenURL, gitlabTokenURL), or(e.ProfileURL, gitlabProfileURL), a.scopes...), nil
			},
		},
		"gitea": {
			rule:    rule(eps(epAuth, epToken, epProfile)),
			apiBase: apiFromProfile("https://gitea.com/api/v1"),
			build: func(a *buildArgs) (goth.Provider, error) {
				e := a.endpoints
				return gitea.NewCustomisedURL(a.key, a.secret, a.callbackURL, or(e.AuthURL, giteaAuthURL),
					or(e.TokenURL, giteaTokenURL), or(e.ProfileURL, giteaProfileURL), a.scopes...), nil
			},
		},
		"google": {
			// Built on goth's openid-connect provider with Google's published endpoints, not
			// on goth's google package: that one imports golang.org/x/oauth2/google and so
			// cloud.google.com/go/compute/metadata (not in go.mod), reads the shared package
			// variable google.Endpoint, and cannot send a PKCE verifier. The endpoints (and
			// the issuer the ID token must carry) can be overridden, for tests and proxies.
			rule:          rule(eps(epAuth, epToken, epProfile), "prompt", "hosted_domain", "login_hint", "issuer"),
			pkce:          true,
			setup:         setupGoogle,
			revocation:    fixed("https://oauth2.googleapis.com/revoke"),
			apiBase:       fixed("https://www.googleapis.com"),
			refresh:       refreshOIDC,
			build:         buildGoogle,
			beforeProfile: acceptLegacyGoogleIssuer,
		},
		"discord": {
			rule:       rule(nil, "permissions"),
			revocation: fixed("https://discord.com/api/oauth2/token/revoke"),
			apiBase:    fixed("https://discord.com/api"),
			build: func(a *buildArgs) (goth.Provider, error) {
				p := discord.New(a.key, a.secret, a.callbackURL, a.scopes...)
				p.SetPermissions(a.options["permissions"])
				return p, nil
			},
		},
		"openid-connect": {
			rule: config.TypeRule{DiscoveryURL: true, Endpoints: eps(epAuth, epToken, epProfile),
				Options: []string{"issuer", "revocation_url"}},
			pkce:       true,
			setup:      setupOIDC,
			revocation: func(a *buildArgs) string { return a.oidc.Revocation },
			refresh:    refreshOIDC,
			apiBase:    fixed(""),
			build:      buildOIDC,
		},
		"sandbox": {
			// The demo's in-process server; `oauthbroker demo` registers the client (see
			// Registry.SandboxClients), so the config needs no key or secret.
			rule:       config.TypeRule{NoCredentials: true},
			revocation: func(a *buildArgs) string { return a.sandboxURL + "/revoke" },
			apiBase:    func(a *buildArgs) string { return a.sandboxURL + "/api/v4" },
			build: func(a *buildArgs) (goth.Provider, error) {
				if a.sandboxURL == "" {
					return nil, errors.New("type sandbox needs the demo's sandbox server (Options.SandboxURL)")
				}
				u := a.sandboxURL
				return gitlab.NewCustomisedURL(a.key, a.secret, a.callbackURL, u+"/authorize", u+"/token", u+"/api/v4/user", a.scopes...), nil
			},
		},
		"okta": {
			// base_url is the org URL; issuer selects a custom authorization server.
			rule: rule(eps(epAuth, epToken, epProfile), "base_url", "issuer"),
			build: func(a *buildArgs) (goth.Provider, error) {
				iss := a.options["issuer"]
				if iss == "" {
					base, err := required(a, "base_url")
					if err != nil {
						return nil, err
					}
					iss = strings.TrimSuffix(base, "/") + "/oauth2/default"
				}
				e := a.endpoints
				return okta.NewCustomisedURL(a.key, a.secret, a.callbackURL, or(e.AuthURL, iss+"/v1/authorize"),
					or(e.TokenURL, iss+"/v1/token"), iss, or(e.ProfileURL, iss+"/v1/userinfo"), a.scopes...), nil
			},
		},
		"cognito": {
			// base_url is the user pool's domain.
			rule: rule(eps(epAuth, epToken, epProfile), "base_url", "issuer"),
			build: func(a *buildArgs) (goth.Provider, error) {
				base, err := required(a, "base_url")
				if err != nil {
					return nil, err
				}
				base = strings.TrimSuffix(base, "/")
				e := a.endpoints
				return cognito.NewCustomisedURL(a.key, a.secret, a.callbackURL, or(e.AuthURL, base+"/oauth2/authorize"),
					or(e.TokenURL, base+"/oauth2/token"), or(a.options["issuer"], base+"/oauth2/default"),
					or(e.ProfileURL, base+"/oauth2/userInfo"), a.scopes...), nil
			},
		},
		"auth0": {
			rule: rule(nil, "domain"),
			build: func(a *buildArgs) (goth.Provider, error) {
				d, err := required(a, "domain")
				return auth0.New(a.key, a.secret, a.callbackURL, d, a.scopes...), err
			},
		},
		"cloudfoundry": {
			rule: rule(nil, "base_url"),
			build: func(a *buildArgs) (goth.Provider, error) {
				u, err := required(a, "base_url")
				return cloudfoundry.New(u, a.key, a.secret, a.callbackURL, a.scopes...), err
			},
		},
		"mastodon": {
			rule: rule(nil, "base_url"),
			build: func(a *buildArgs) (goth.Provider, error) {
				return mastodon.NewCustomisedURL(a.key, a.secret, a.callbackURL, or(a.options["base_url"], "https://mastodon.social"), a.scopes...), nil
			},
		},
		"nextcloud": {
			rule: rule(eps(epAuth, epToken, epProfile), "base_url"),
			build: func(a *buildArgs) (goth.Provider, error) {
				base := strings.TrimSuffix(a.options["base_url"], "/")
				e := a.endpoints
				auth, tok, prof := or(e.AuthURL, base+"/apps/oauth2/authorize"), or(e.TokenURL, base+"/apps/oauth2/api/v1/token"), or(e.ProfileURL, base+"/ocs/v2.php/cloud/user?format=json")
				if base == "" && (e.AuthURL == "" || e.TokenURL == "" || e.ProfileURL == "") {
					return nil, errors.New("nextcloud has no public default: set options.base_url or all three endpoints")
				}
				return nextcloud.NewCustomisedURL(a.key, a.secret, a.callbackURL, auth, tok, prof, a.scopes...), nil
			},
		},
		"paypal": {
			rule: rule(eps(epAuth, epToken, epProfile)),
			build: func(a *buildArgs) (goth.Provider, error) {
				e := a.endpoints
				return paypal.NewCustomisedURL(a.key, a.secret, a.callbackURL, or(e.AuthURL, paypalAuthURL),
					or(e.TokenURL, paypalTokenURL), or(e.ProfileURL, paypalProfileURL), a.scopes...), nil
			},
		},
		"influxcloud": {
			rule: rule(eps(epAuth, epToken, epProfile)),
			build: func(a *buildArgs) (goth.Provider, error) {
				e := a.endpoints
				return influxcloud.NewCustomisedURL(a.key, a.secret, a.callbackURL, or(e.AuthURL, influxAuthURL),
					or(e.TokenURL, influxTokenURL), or(e.ProfileURL, influxProfileURL), a.scopes...), nil
			},
		},
		"azureadv2": {
			rule: rule(nil, "tenant"),
			build: func(a *buildArgs) (goth.Provider, error) {
				scopes := a.scopes
				if len(scopes) == 0 {
					// goth's defaults lack offline_access, so Azure would issue no refresh token.
					scopes = []string{"openid", "profile", "email", "offline_access", "User.Read"}
				}
				st := make([]azureadv2.ScopeType, len(scopes))
				for i, s := range scopes {
					st[i] = azureadv2.ScopeType(s)
				}
				return azureadv2.New(a.key, a.secret, a.callbackURL, azureadv2.ProviderOptions{
					Scopes: st, Tenant: azureadv2.TenantType(a.options["tenant"])}), nil
			},
		},
	}
	for name, pk := range plainKinds {
		if _, dup := k[name]; !dup {
			k[name] = pk
		}
	}
	return k
}()

// Types lists every provider type the broker can build, with what its config may set.
// config uses it to validate providers.yaml; the map is a copy.
func Types() map[string]config.TypeRule {
	out := make(map[string]config.TypeRule, len(kinds))
	for name, k := range kinds {
		r := k.rule
		r.Endpoints = append([]string(nil), r.Endpoints...)
		r.Options = append([]string(nil), r.Options...)
		out[name] = r
	}
	return out
}

func rule(endpoints []string, options ...string) config.TypeRule {
	return config.TypeRule{Endpoints: endpoints, Options: options}
}

func eps(keys ...string) []string { return keys }

func fixed(s string) func(*buildArgs) string { return func(*buildArgs) string { return s } }

// apiFromProfile derives a self-hosted API base from a configured profile URL ending in
// /user (GitHub Enterprise …/api/v3/user, GitLab …/api/v4/user, Gitea …/api/v1/user).
func apiFromProfile(def string) func(*buildArgs) string {
	return func(a *buildArgs) string {
		if p := a.endpoints.ProfileURL; strings.HasSuffix(p, "/user") {
			return strings.TrimSuffix(p, "/user")
		}
		return def
	}
}

// siblingOf replaces the suffix old of u by new; "" when u does not end in old.
func siblingOf(u, old, new string) string {
	if !strings.HasSuffix(u, old) {
		return ""
	}
	return strings.TrimSuffix(u, old) + new
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func required(a *buildArgs, option string) (string, error) {
	v := a.options[option]
	if v == "" {
		return "", errors.New("options." + option + " is required for this type")
	}
	return v, nil
}
