package providers_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
)

func TestTypesHasRequired(t *testing.T) {
	t.Parallel()
	types := providers.Types()
	for _, name := range []string{"twitter", "twitterv2", "github", "gitlab", "google", "slack", "discord", "spotify", "uber", "openid-connect", "sandbox", "gitea", "okta"} {
		if _, ok := types[name]; !ok {
			t.Errorf("Types() lacks %s", name)
		}
	}
	if len(types) < 100 {
		t.Errorf("Types() has %d types, want the catalog and every goth type with a usable constructor", len(types))
	}
	checks := []struct {
		typ  string
		ok   func(config.TypeRule) bool
		want string
	}{
		{"twitter", func(r config.TypeRule) bool { return slices.Contains(r.Endpoints, "request_token_url") }, "request_token_url override"},
		{"github", func(r config.TypeRule) bool { return slices.Contains(r.Endpoints, "email_url") }, "email_url override"},
		{"openid-connect", func(r config.TypeRule) bool { return r.DiscoveryURL }, "discovery_url"},
		{"sandbox", func(r config.TypeRule) bool { return r.NoCredentials }, "no credentials"},
		{"google", func(r config.TypeRule) bool { return slices.Contains(r.Options, "prompt") }, "prompt option"},
		{"spotify", func(r config.TypeRule) bool { return len(r.Endpoints) == 0 && len(r.Options) == 0 }, "no overrides"},
	}
	for _, c := range checks {
		if !c.ok(types[c.typ]) {
			t.Errorf("%s: want %s, rule is %+v", c.typ, c.want, types[c.typ])
		}
	}
	// The map is a copy: changing it changes nothing for the next caller.
	types["github"] = config.TypeRule{}
	if !slices.Contains(providers.Types()["github"].Endpoints, "auth_url") {
		t.Error("Types() returned the package's own table")
	}
}

// needs gives each type what it cannot start without.
func needs(typ string) *config.Provider {
	p := &config.Provider{Name: "p", Type: typ, Key: "client-id", Secret: "client-secret-value"}
	for _, name := range providers.Types()[typ].RequiredOptions {
		if p.Options == nil {
			p.Options = map[string]string{}
		}
		p.Options[name] = "acme"
	}
	switch typ {
	case "okta", "cognito", "cloudfoundry", "nextcloud":
		p.Options = map[string]string{"base_url": "https://id.example"}
	case "auth0":
		p.Options = map[string]string{"domain": "tenant.example"}
	case "openid-connect":
		p.Endpoints = config.Endpoints{AuthURL: "https://id.example/auth", TokenURL: "https://id.example/token"}
		p.Options = map[string]string{"issuer": "https://id.example"}
	case "oauth2", "oauth1":
		p.Spec = config.Spec{RequestTokenURL: "https://id.example/rt", AuthURL: "https://id.example/auth", TokenURL: "https://id.example/token",
			UserInfoURL: "https://id.example/me", Profile: config.Profile{ID: "/id"}}
	case "sandbox":
		p.Key, p.Secret = "", ""
	}
	return p
}

// Every OAuth 2 type builds and produces an auth URL carrying our state and callback,
// without any network; and no rendering of a Provider shows its secret.
func TestEveryTypeBegins(t *testing.T) {
	t.Parallel()
	for typ, rule := range providers.Types() {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			p := only(t, needs(typ), providers.Options{SandboxURL: "https://sandbox.test"})
			for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", *p)} {
				if strings.Contains(s, "client-secret-value") {
					t.Fatalf("formatting the provider shows its secret: %s", s)
				}
			}
			if p.OAuth1 || rule.NoCredentials && typ != "sandbox" {
				return // twitter needs a server for its request token: see twitter_test.go
			}
			authURL, session, err := p.Begin("state-xyz", []string{"extra.scope"}, "")
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			if session == "" || !strings.Contains(authURL, "state-xyz") || !strings.Contains(authURL, url.QueryEscape(callbackOf("b", "p"))) {
				t.Fatalf("auth URL %s: want state and callback", authURL)
			}
			// goth's dropbox and intercom send no scope at all (scopes are set in the app).
			if typ != "dropbox" && typ != "intercom" && !strings.Contains(authURL, "extra.scope") {
				t.Fatalf("auth URL %s lacks the link's extra scope", authURL)
			}
		})
	}
}
