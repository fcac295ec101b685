package clientlimit

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5/middleware"
)

func TestValidateProxies(t *testing.T) {
	if err := ValidateProxies([]string{"10.0.0.0/8", "127.0.0.1/32", "::1/128"}); err != nil {
		t.Errorf("valid prefixes: %v", err)
	}
	for _, bad := range []string{"10.0.0.1", "nonsense", "10.0.0.0/33", ""} {
		if err := ValidateProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted as a CIDR prefix", bad)
		}
	}
}

// TestKey: without trusted proxies the TCP peer is the client, whatever headers say; IPv6
// clients are keyed by their /64; a request that skipped the resolver is keyed by its peer.
func TestKey(t *testing.T) {
	for _, c := range []struct {
		name, remote, xff string
		trusted           []string
		resolved          bool
		want              string
	}{
		{"peer", "192.0.2.1:5555", "", nil, true, "192.0.2.1"},
		{"forged header ignored", "192.0.2.1:5555", "198.51.100.9", nil, true, "192.0.2.1"},
		{"ipv6 by /64", "[2001:db8:1:2:3:4:5:6]:443", "", nil, true, "2001:db8:1:2::"},
		{"ipv4-mapped ipv6", "[::ffff:192.0.2.7]:80", "", nil, true, "192.0.2.7"},
		{"behind a trusted proxy", "10.0.0.5:80", "198.51.100.9", []string{"10.0.0.0/8"}, true, "198.51.100.9"},
		{"right-most untrusted hop", "10.0.0.5:80", "203.0.113.1, 198.51.100.9", []string{"10.0.0.0/8"}, true, "198.51.100.9"},
		{"untrusted peer with a header", "192.0.2.1:80", "198.51.100.9", []string{"10.0.0.0/8"}, true, "192.0.2.1"},
		{"unparsable peer", "garbage", "", nil, true, "unknown"},
		{"without the resolver", "192.0.2.1:5555", "198.51.100.9", nil, false, "192.0.2.1"},
		{"without the resolver, ipv6", "[2001:db8:1:2:3:4:5:6]:443", "", nil, false, "2001:db8:1:2::"},
		{"without the resolver, unparsable", "garbage", "", nil, false, "unknown"},
		{"without the resolver, ipv4-mapped ipv6", "[::ffff:192.0.2.7]:80", "", nil, false, "192.0.2.7"},
		{"without the resolver, a bare address", "192.0.2.1", "", nil, false, "192.0.2.1"},
		{"without the resolver, ipv6 with a zone", "[fe80::1%eth0]:80", "", nil, false, "fe80::1%eth0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var resolver func(http.Handler) http.Handler
			if c.resolved {
				resolver = Resolver(c.trusted)
			}
			if got := keyOf(resolver, c.remote, c.xff); got != c.want {
				t.Errorf("key %q, want %q", got, c.want)
			}
		})
	}
}

// TestKeyReadsThePeerAsChiDoes: without trusted proxies Resolver wraps nothing and Key reads
// the peer itself; it must key every peer as chi's ClientIPFromRemoteAddr would have.
func TestKeyReadsThePeerAsChiDoes(t *testing.T) {
	for _, remote := range []string{
		"192.0.2.1:5555", "192.0.2.1", "[2001:db8:1:2:3:4:5:6]:443", "2001:db8::1", "[::ffff:192.0.2.7]:80",
		"[fe80::1%eth0]:80", "[::1]:8080", "127.0.0.1:0", "garbage", "", ":80", "[::ffff:192.0.2.7%x]:1",
	} {
		chi := keyOf(middleware.ClientIPFromRemoteAddr, remote, "")
		if ours := keyOf(Resolver(nil), remote, ""); ours != chi {
			t.Errorf("peer %q: key %q, chi's ClientIPFromRemoteAddr gives %q", remote, ours, chi)
		}
	}
}

// keyOf is Key of a request from remote with X-Forwarded-For xff ("": none), behind resolver
// (nil: none).
func keyOf(resolver func(http.Handler) http.Handler, remote, xff string) string {
	var got string
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = Key(r) })
	if resolver != nil {
		h = resolver(h)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remote
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	h.ServeHTTP(httptest.NewRecorder(), req)
	return got
}
