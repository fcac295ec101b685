package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLinkCreatingBot(t *testing.T) {
	for _, c := range []struct {
		method, path, bot string
		ok                bool
	}{
		{"POST", "/api/v1/bots/alpha/links", "alpha", true},
		{"POST", "/api/v1/bots/alpha/require", "alpha", true},
		{"POST", "/api/v1/bots/alpha/links/confirm", "", false},
		{"GET", "/api/v1/bots/alpha/links", "", false},
		{"POST", "/api/v1/bots/alpha/identities", "", false},
		{"POST", "/api/v1/bots//links", "", false},
		{"POST", "/api/v1/bots/alpha", "", false},
		{"POST", "/bots/alpha/links", "", false},
	} {
		bot, ok := linkCreatingBot(httptest.NewRequest(c.method, c.path, nil))
		if bot != c.bot || ok != c.ok {
			t.Errorf("%s %s: %q %v, want %q %v", c.method, c.path, bot, ok, c.bot, c.ok)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := (Limits{TrustedProxies: []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128"}}).Validate(); err != nil {
		t.Errorf("valid prefixes: %v", err)
	}
	for _, bad := range []string{"10.0.0.1", "nonsense", "10.0.0.0/33", ""} {
		if err := (Limits{TrustedProxies: []string{bad}}).Validate(); err == nil {
			t.Errorf("%q accepted as a CIDR prefix", bad)
		}
	}
}

// TestClientKey: without trusted proxies the TCP peer is the client, whatever headers say;
// IPv6 clients are keyed by their /64.
func TestClientKey(t *testing.T) {
	for _, c := range []struct {
		name, remote, xff string
		trusted           []string
		want              string
	}{
		{"peer", "192.0.2.1:5555", "", nil, "192.0.2.1"},
		{"forged header ignored", "192.0.2.1:5555", "198.51.100.9", nil, "192.0.2.1"},
		{"ipv6 by /64", "[2001:db8:1:2:3:4:5:6]:443", "", nil, "2001:db8:1:2::"},
		{"behind a trusted proxy", "10.0.0.5:80", "198.51.100.9", []string{"10.0.0.0/8"}, "198.51.100.9"},
		{"untrusted peer with a header", "192.0.2.1:80", "198.51.100.9", []string{"10.0.0.0/8"}, "192.0.2.1"},
		{"unparsable peer", "garbage", "", nil, "unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got string
			h := newLimiters(Limits{TrustedProxies: c.trusted}).clientIP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = clientKey(r) }))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = c.remote
			if c.xff != "" {
				req.Header.Set("X-Forwarded-For", c.xff)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != c.want {
				t.Errorf("client key %q, want %q", got, c.want)
			}
		})
	}
}
