package providertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sandboxHosts are the real hosts each goth type calls, all of which the sandbox
// (internal/sandbox, the one fake OAuth 2 and OpenID Connect provider) answers at the real
// paths.
var sandboxHosts = map[string][]string{
	"google":        {"accounts.google.com", "oauth2.googleapis.com", "openidconnect.googleapis.com", "www.googleapis.com"},
	"slack-classic": {"slack.com"},
	"discord":       {"discord.com"},
	"spotify":       {"accounts.spotify.com", "api.spotify.com"},
	"uber":          {"login.uber.com", "api.uber.com"},
	"github":        {"github.com", "api.github.com"},
	"gitlab":        {"gitlab.com"},
}

// SandboxRewrites returns the rules that send every real host goth's typ provider calls to
// the sandbox served at sandboxURL (its base URL, with the mount prefix if any). The rules
// rewrite only the host: the sandbox serves each provider's real paths, and tells
// Spotify's /v1/me from Uber's by the X-Forwarded-Host that RewriteTransport sets. nil for
// a type the sandbox does not play (twitter has its own fake; openid-connect and the
// types with configurable URLs need no rewrite).
func SandboxRewrites(typ, sandboxURL string) []Rewrite {
	hosts := sandboxHosts[typ]
	if hosts == nil {
		return nil
	}
	rules := make([]Rewrite, len(hosts))
	for i, h := range hosts {
		rules[i] = Rewrite{Host: h, To: strings.TrimSuffix(sandboxURL, "/")}
	}
	return rules
}

// Canned returns a rule that answers every request for host under pathPrefix with status
// and a JSON body, from a local server that stops when the test ends: a provider's fault
// that the sandbox does not play (Slack's "ok": false for a token it just issued, say).
// Put it before SandboxRewrites' rules, which RewriteTransport would otherwise match first.
func Canned(t testing.TB, host, pathPrefix string, status int, body string) Rewrite {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return Rewrite{Host: host, PathPrefix: pathPrefix, To: srv.URL}
}
