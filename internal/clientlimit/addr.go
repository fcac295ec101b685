// Package clientlimit limits what one client may get wrong: it resolves the address of the
// client behind a request (Key), the one key every per-client limit counts against, and keeps
// a budget of failures per key (Failures). The flow limit in package server and the admin
// login limit in package admin are both built on it.
//
// Behind reverse proxies the TCP peer is the proxy, so a request from a trusted proxy is
// attributed to the address that proxy put in X-Forwarded-For; from anyone else the header
// is ignored, because a client can write anything there.
//
// It imports nothing from oauthbroker.
package clientlimit

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
)

// ValidateProxies reports an entry of trusted that is not a CIDR prefix.
func ValidateProxies(trusted []string) error {
	for _, p := range trusted {
		if _, err := netip.ParsePrefix(p); err != nil {
			return fmt.Errorf("trusted proxy %q is not a CIDR prefix such as 10.0.0.0/8 or 127.0.0.1/32", p)
		}
	}
	return nil
}

// Resolver is the middleware that resolves each request's client address for Key. trusted
// are the CIDR prefixes of the reverse proxies in front of the broker (checked with
// ValidateProxies): a request from one of them is attributed to the right-most address in
// X-Forwarded-For that is not a trusted proxy.
//
// Without any, the TCP peer is the client, and Key reads it from the request when a limit
// asks: the middleware then wraps nothing, so the requests no limit looks at (every bot API
// call) pay for no copy of the request and no context value.
func Resolver(trusted []string) func(http.Handler) http.Handler {
	if len(trusted) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return middleware.ClientIPFromXFF(trusted...)
}

// Key is the request's client as limits count it: its address, an IPv6 client by its /64
// (which one client typically controls whole). Without an address from Resolver, the TCP
// peer is the client; a peer that cannot be read is "unknown", and all such share one
// allowance.
func Key(r *http.Request) string {
	ip := middleware.GetClientIP(r.Context())
	if ip == "" {
		peer, ok := peerAddr(r.RemoteAddr)
		if !ok {
			return "unknown"
		}
		ip = peer.String()
	}
	return httprate.CanonicalizeIP(ip)
}

// peerAddr is the address of a request's TCP peer, read the way chi's ClientIPFromRemoteAddr
// reads it: host:port or a bare address, an IPv4 client of a dual-stack listener
// (::ffff:a.b.c.d) as plain IPv4, an IPv6 zone kept.
func peerAddr(remoteAddr string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}
