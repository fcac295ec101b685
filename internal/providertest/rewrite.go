package providertest

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Rewrite sends the requests for one real host, optionally only those under one path
// prefix, to a local server.
type Rewrite struct {
	Host string // the real host, e.g. "oauth2.googleapis.com" (a port is ignored)
	// PathPrefix limits the rule to paths equal to it or below it ("/api" matches "/api"
	// and "/api/x", not "/apix"); the matched prefix is replaced by To's path.
	PathPrefix string
	To         string // base URL of the local server, e.g. srv.URL or srv.URL+"/v1/userinfo"
}

// RewriteTransport is an http.RoundTripper for goth types with hard-coded URLs: it maps
// real provider hosts to httptest servers, and refuses any other non-loopback host so that
// a test can never reach the internet by accident. The rewritten request carries the
// original host and scheme in X-Forwarded-Host and X-Forwarded-Proto (the Twitter fake
// verifies OAuth 1.0a signatures, which cover the URL the client signed, against them).
//
// Prefer putting it into the *http.Client a provider is given. Where goth ignores that
// client (discord's exchange, seatalk, …) it must go into http.DefaultTransport with
// Install, and then the tests that rely on it must not run in parallel with each other or
// with tests that change http.DefaultTransport.
type RewriteTransport struct {
	Rules []Rewrite
	// Base carries the rewritten requests. NewRewriteTransport sets it to the
	// http.DefaultTransport of that moment, so that installing the RewriteTransport as
	// http.DefaultTransport does not make it call itself.
	Base http.RoundTripper
}

// NewRewriteTransport returns a RewriteTransport with the given rules.
func NewRewriteTransport(rules ...Rewrite) *RewriteTransport {
	return &RewriteTransport{Rules: rules, Base: http.DefaultTransport}
}

// Client returns a client that sends everything through rt.
func (rt *RewriteTransport) Client() *http.Client { return &http.Client{Transport: rt} }

// Install makes rt http.DefaultTransport until the test ends. Not for parallel tests.
func (rt *RewriteTransport) Install(t testing.TB) {
	t.Helper()
	prev := http.DefaultTransport
	http.DefaultTransport = rt
	t.Cleanup(func() { http.DefaultTransport = prev })
}

// RoundTrip rewrites req when a rule matches, passes loopback requests through untouched,
// and fails every other request.
func (rt *RewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := rt.Base
	if base == nil || base == http.RoundTripper(rt) {
		return nil, fmt.Errorf("providertest: RewriteTransport has no Base")
	}
	host := hostOnly(req.URL.Host)
	for _, r := range rt.Rules {
		if !strings.EqualFold(host, hostOnly(r.Host)) || !underPrefix(req.URL.Path, r.PathPrefix) {
			continue
		}
		to, err := url.Parse(r.To)
		if err != nil {
			return nil, fmt.Errorf("providertest: rewrite %s: %w", r.Host, err)
		}
		out := req.Clone(req.Context())
		u := *req.URL
		u.Scheme, u.Host = to.Scheme, to.Host
		u.Path = strings.TrimSuffix(to.Path, "/") + strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(r.PathPrefix, "/"))
		u.RawPath = ""
		out.URL, out.Host = &u, ""
		out.Header.Set("X-Forwarded-Host", req.URL.Host)
		out.Header.Set("X-Forwarded-Proto", req.URL.Scheme)
		return base.RoundTrip(out)
	}
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return base.RoundTrip(req)
	}
	return nil, fmt.Errorf("providertest: no rewrite for %s://%s%s; tests must not reach the internet", req.URL.Scheme, req.URL.Host, req.URL.Path)
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func underPrefix(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}
