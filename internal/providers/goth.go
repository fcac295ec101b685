package providers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/auth0"
	"github.com/markbates/goth/providers/azureadv2"
	"github.com/markbates/goth/providers/battlenet"
	"github.com/markbates/goth/providers/bitly"
	"github.com/markbates/goth/providers/classlink"
	"github.com/markbates/goth/providers/cloudfoundry"
	"github.com/markbates/goth/providers/cognito"
	"github.com/markbates/goth/providers/dailymotion"
	"github.com/markbates/goth/providers/deezer"
	"github.com/markbates/goth/providers/discord"
	"github.com/markbates/goth/providers/eveonline"
	"github.com/markbates/goth/providers/gitea"
	"github.com/markbates/goth/providers/github"
	"github.com/markbates/goth/providers/gitlab"
	"github.com/markbates/goth/providers/gplus"
	"github.com/markbates/goth/providers/influxcloud"
	"github.com/markbates/goth/providers/instagram"
	"github.com/markbates/goth/providers/kakao"
	"github.com/markbates/goth/providers/lark"
	"github.com/markbates/goth/providers/line"
	"github.com/markbates/goth/providers/mailru"
	"github.com/markbates/goth/providers/mastodon"
	"github.com/markbates/goth/providers/meetup"
	"github.com/markbates/goth/providers/nextcloud"
	"github.com/markbates/goth/providers/okta"
	"github.com/markbates/goth/providers/oura"
	"github.com/markbates/goth/providers/paypal"
	"github.com/markbates/goth/providers/seatalk"
	"github.com/markbates/goth/providers/slack"
	"github.com/markbates/goth/providers/soundcloud"
	"github.com/markbates/goth/providers/spotify"
	"github.com/markbates/goth/providers/stripe"
	"github.com/markbates/goth/providers/tiktok"
	"github.com/markbates/goth/providers/typetalk"
	"github.com/markbates/goth/providers/uber"
	"github.com/markbates/goth/providers/vk"
	"github.com/markbates/goth/providers/wepay"
	"github.com/markbates/goth/providers/yahoo"
	"github.com/markbates/goth/providers/yammer"
	"github.com/markbates/goth/providers/yandex"
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

// gothKind is the code of one goth-backed type; its facts (title, PKCE, refresh, revocation,
// API base, id handling) are in its catalog record.
type gothKind struct {
	rule config.TypeRule
	// setup runs once in NewRegistry, before the trial build (openid-connect discovery).
	setup func(ctx context.Context, a *buildArgs, discoveryURL string, client *http.Client) error
	// refresh replaces goth's RefreshToken where goth would not use our client.
	refresh func(ctx context.Context, a *buildArgs, refreshToken string) (*oauth2.Token, error)
	// revocation and apiBase replace the record's URLs where they follow the configuration
	// (a self-hosted GitLab, a discovered OpenID Connect issuer, the demo's sandbox).
	revocation func(*buildArgs) string
	apiBase    func(*buildArgs) string
	build      func(*buildArgs) (goth.Provider, error)
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

// gothKinds are the goth-backed types. Each has a catalog record with implementation: goth.
var gothKinds = func() map[string]*gothKind {
	k := map[string]*gothKind{
		"github": {
			rule:    rule(eps(epAuth, epToken, epProfile, epEmail)),
			apiBase: apiFromProfile,
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
			apiBase: apiFromProfile,
			build: func(a *buildArgs) (goth.Provider, error) {
				e := a.endpoints
				return gitlab.NewCustomisedURL(a.key, a.secret, a.callbackURL, or(e.AuthURL, gitlabAuthURL),
					or(e.TokenURL, gitlabTokenURL), or(e.ProfileURL, gitlabProfileURL), a.scopes...), nil
			},
		},
		"gitea": {
			rule:    rule(eps(epAuth, epToken, epProfile)),
			apiBase: apiFromProfile,
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
			setup:         setupGoogle,
			refresh:       refreshOIDC,
			build:         buildGoogle,
			beforeProfile: acceptLegacyGoogleIssuer,
		},
		"discord": {
			rule: rule(nil, "permissions"),
			build: func(a *buildArgs) (goth.Provider, error) {
				p := discord.New(a.key, a.secret, a.callbackURL, a.scopes...)
				p.SetPermissions(a.options["permissions"])
				return p, nil
			},
		},
		"openid-connect": {
			rule: config.TypeRule{DiscoveryURL: true, Endpoints: eps(epAuth, epToken, epProfile),
				Options: []string{"issuer", "revocation_url"}},
			setup:      setupOIDC,
			revocation: func(a *buildArgs) string { return a.oidc.Revocation },
			refresh:    refreshOIDC,
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
	for name, build := range plainKinds {
		k[name] = &gothKind{build: build}
	}
	return k
}()

// plainKinds are the goth types built by `New(key, secret, callbackURL, scopes...)` with
// no knobs: hard-coded endpoints, the authorization-code flow with `code` alone. They are
// configuration only: nothing in the tests drives them (see their records' notes).
//
// Left out on purpose: apple (a signed-JWT client secret, a cross-site POST callback, and
// lestrrat-go/jwx, which is not in go.mod), microsoftonline (imports markbates/going, not
// in go.mod; the catalog's microsoft covers Microsoft accounts), lastfm, steam, shopify,
// wechat and wecom (their callbacks carry other parameters than code/oauth_verifier, or
// need per-shop state; the catalog has shopify), naver. Types the catalog runs itself
// (dropbox, box, zoom, hubspot, salesforce, linkedin, twitch, strava, …) are not built on
// goth any more: goth hard-codes their URLs, drops what their token answers say (granted
// scopes, nested tokens), or uses endpoints the providers have retired.
var plainKinds = map[string]func(*buildArgs) (goth.Provider, error){
	"battlenet":     plain(battlenet.New),
	"bitly":         plain(bitly.New),
	"classlink":     plain(classlink.New),
	"dailymotion":   plain(dailymotion.New),
	"deezer":        plain(deezer.New),
	"eveonline":     plain(eveonline.New),
	"gplus":         plain(gplus.New),
	"instagram":     plain(instagram.New),
	"kakao":         plain(kakao.New),
	"lark":          plain(lark.New),
	"line":          plain(line.New),
	"mailru":        plain(mailru.New),
	"meetup":        plain(meetup.New),
	"oura":          plain(oura.New),
	"seatalk":       plain(seatalk.New),
	"slack-classic": plain(slack.New),
	"soundcloud":    plain(soundcloud.New),
	"spotify":       plain(spotify.New),
	"stripe":        plain(stripe.New),
	"tiktok":        plain(tiktok.New),
	"typetalk":      plain(typetalk.New),
	"uber":          plain(uber.New),
	"vk":            plain(vk.New),
	"wepay":         plain(wepay.New),
	"yahoo":         plain(yahoo.New),
	"yammer":        plain(yammer.New),
	"yandex":        plain(yandex.New),
}

// plain adapts a goth constructor; the type parameter lets one helper take every
// package's New, each returning its own *Provider.
func plain[P goth.Provider](newFn func(key, secret, callbackURL string, scopes ...string) P) func(*buildArgs) (goth.Provider, error) {
	return func(a *buildArgs) (goth.Provider, error) {
		return newFn(a.key, a.secret, a.callbackURL, a.scopes...), nil
	}
}

func rule(endpoints []string, options ...string) config.TypeRule {
	return config.TypeRule{Endpoints: endpoints, Options: options}
}

func eps(keys ...string) []string { return keys }

// apiFromProfile derives a self-hosted API base from a configured profile URL ending in
// /user (GitHub Enterprise …/api/v3/user, GitLab …/api/v4/user, Gitea …/api/v1/user); ""
// keeps the record's.
func apiFromProfile(a *buildArgs) string {
	if p := a.endpoints.ProfileURL; strings.HasSuffix(p, "/user") {
		return strings.TrimSuffix(p, "/user")
	}
	return ""
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
