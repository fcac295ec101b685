package proxy

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Headers the proxy adds to a provider's answer. Their presence is how a bot tells the
// provider's answer from the broker's own (a problem+json without them).
const (
	HeaderIdentity        = "X-OAuthBroker-Identity"
	HeaderUpstreamRequest = "X-OAuthBroker-Upstream-Request-Id"
)

// userAgent is sent when the bot sends none: GitHub refuses requests without one.
const userAgent = "oauthbroker-proxy"

// requestHeaders are the bot's headers that reach the provider: content negotiation,
// conditional requests, and a few that APIs define. Everything else stays behind, above all
// the bot's Authorization (its key to the broker) and Cookie, and the X-Forwarded-* and
// Forwarded headers a provider could take for the client's address or its own host name.
var requestHeaders = canonical(
	"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Content-Type",
	"If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
	"Idempotency-Key", "Prefer", "Range", "User-Agent",
	"X-GitHub-Api-Version",
)

// RequestHeaders returns the names of the request headers the proxy passes to providers; any
// other header a caller sends stays behind.
func RequestHeaders() []string { return append([]string(nil), requestHeaders...) }

// responseHeaders are the provider's headers that reach the bot: what describes the body,
// caching, pagination and the provider's rate limits. Never Set-Cookie (a provider's session
// is not the bot's), WWW-Authenticate (the bot's credentials are for the broker), nor
// anything that would speak for the broker's own origin (HSTS, CORS, CSP, Alt-Svc).
var responseHeaders = canonical(
	"Accept-Ranges", "Age", "Cache-Control", "Content-Disposition", "Content-Encoding",
	"Content-Language", "Content-Range", "Content-Type", "Deprecation", "ETag", "Expires",
	"Last-Modified", "Retry-After", "Sunset", "Vary", "X-GitHub-Media-Type",
)

// rateLimitPrefixes pass the providers' rate limit headers (GitHub's X-RateLimit-*,
// Twitter's x-rate-limit-*, the IETF RateLimit-* fields), so a bot can pace itself.
var rateLimitPrefixes = []string{"X-Ratelimit-", "X-Rate-Limit-", "Ratelimit"}

// requestIDHeaders are where providers put their request id, in order of preference; the
// first one present is passed as HeaderUpstreamRequest. (X-Request-Id itself is the broker's
// own, set on every answer, so the provider's cannot pass under that name.)
var requestIDHeaders = canonical("X-Request-Id", "X-GitHub-Request-Id", "X-Transaction-Id",
	"X-Slack-Req-Id", "X-Amzn-RequestId", "Request-Id", "X-Correlation-Id")

func canonical(names ...string) []string {
	for i, n := range names {
		names[i] = http.CanonicalHeaderKey(n)
	}
	return names
}

// copyRequestHeaders puts the allowed headers of the bot's request on the outbound one.
func copyRequestHeaders(dst, src http.Header) {
	for _, k := range requestHeaders {
		if vs := src.Values(k); len(vs) > 0 {
			dst[k] = append([]string(nil), vs...)
		}
	}
	if dst.Get("User-Agent") == "" {
		dst.Set("User-Agent", userAgent)
	}
}

// copyResponseHeaders puts the allowed headers of the provider's answer on the bot's,
// with Location and Link pointing back into the proxy where they point into the API base.
func copyResponseHeaders(dst, src http.Header, t *target, identityID int64) {
	for k, vs := range src {
		if allowedResponse(k) {
			dst[k] = append([]string(nil), vs...)
		}
	}
	if loc := src.Get("Location"); loc != "" {
		// A redirect is never followed by the broker. One into the API base is handed back as
		// the same path under the proxy, which the bot's client can follow through the broker;
		// one elsewhere is passed as it is: the bot may go there itself, the broker will not.
		if local, ok := t.local(loc); ok {
			loc = local
		}
		dst.Set("Location", loc)
	}
	if links := src.Values("Link"); len(links) > 0 {
		dst.Del("Link")
		for _, l := range links {
			dst.Add("Link", rewriteLink(l, t))
		}
	}
	for _, k := range requestIDHeaders {
		if v := src.Get(k); v != "" {
			dst.Set(HeaderUpstreamRequest, v)
			break
		}
	}
	dst.Set(HeaderIdentity, strconv.FormatInt(identityID, 10))
}

func allowedResponse(k string) bool {
	for _, a := range responseHeaders {
		if k == a {
			return true
		}
	}
	for _, p := range rateLimitPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// linkTarget is one <URI-Reference> of an RFC 8288 Link header.
var linkTarget = regexp.MustCompile(`<([^>]*)>`)

// rewriteLink points the pagination links of an answer (GitHub's rel="next", …) into the
// proxy, so that a bot can page by following them; links elsewhere stay as they are.
func rewriteLink(v string, t *target) string {
	return linkTarget.ReplaceAllStringFunc(v, func(m string) string {
		if local, ok := t.local(m[1 : len(m)-1]); ok {
			return "<" + local + ">"
		}
		return m
	})
}
