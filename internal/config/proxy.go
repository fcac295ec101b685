package config

import (
	"path"
	"strconv"
	"strings"
)

// Proxy is `server.proxy:`, the limits of the API proxy (docs/API.md, the proxy). They
// protect the broker, not the providers: each provider enforces its own rate limits, and the
// proxy passes its 429 answers through untouched.
type Proxy struct {
	// MaxRequestBody is the most a bot may send in one proxied request (default 10 MiB).
	MaxRequestBody int64
	// MaxResponseBody is the most of one provider answer passed back (default 10 MiB).
	MaxResponseBody int64
	// RateLimit is how many proxied calls one bot may make per minute (default 600); 0: no
	// limit. Counted per broker instance, like the other rate limits.
	RateLimit int
}

// Proxy defaults.
const (
	DefaultProxyMaxBody   = 10 << 20
	DefaultProxyRateLimit = 600
)

// Bounds of the proxy settings: a body cap under 1 KiB could not carry a tweet with its
// parameters, and one over 1 GiB would let a few requests exhaust the broker's memory (a
// signed OAuth 1.0a form body is held in memory whole).
const (
	minProxyBody = 1 << 10
	maxProxyBody = 1 << 30
	maxRateLimit = 1_000_000
)

func (p *parser) proxy(server *object) Proxy {
	out := Proxy{MaxRequestBody: DefaultProxyMaxBody, MaxResponseBody: DefaultProxyMaxBody, RateLimit: DefaultProxyRateLimit}
	e, ok := server.keys["proxy"]
	if !ok {
		return out
	}
	o := p.object(e.value, join(server.field, "proxy"), e.line, "max_request_body", "max_response_body", "rate_limit")
	out.MaxRequestBody = p.size(p.str(o, "max_request_body"), out.MaxRequestBody)
	out.MaxResponseBody = p.size(p.str(o, "max_response_body"), out.MaxResponseBody)
	if v := p.str(o, "rate_limit"); given(v) {
		n, err := strconv.Atoi(v.s)
		if err != nil || n < 0 || n > maxRateLimit {
			p.problem(v.line, v.field, "must be a whole number of calls per bot per minute, 0 (no limit) to %d", maxRateLimit)
		} else {
			out.RateLimit = n
		}
	}
	return out
}

// size parses an optional byte count: a whole number, optionally followed by KiB, MiB or GiB
// (`10MiB`, `512 KiB`, `1048576`), within [minProxyBody, maxProxyBody]; empty gives def.
func (p *parser) size(v value, def int64) int64 {
	if !given(v) {
		return def
	}
	s := strings.TrimSpace(v.s)
	mult := int64(1)
	for _, unit := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if rest, ok := strings.CutSuffix(s, unit.suffix); ok {
			s, mult = strings.TrimSpace(rest), unit.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > maxProxyBody/mult || n*mult < minProxyBody {
		p.problem(v.line, v.field, "must be a size from 1KiB to 1GiB, like 10MiB, 512KiB or 1048576 (bytes)")
		return def
	}
	return n * mult
}

// apiBaseURL checks a provider's optional api_base_url: the proxy sends every call for the
// provider there, signed with the user's tokens, so it must be https (http only for a
// loopback test server), and a plain base that paths are appended to: no query, no
// credentials, no fragment, no `.` or `..` segments. A trailing slash is dropped.
func (p *parser) apiBaseURL(v value) string {
	if !given(v) {
		return ""
	}
	filled := v
	filled.s = placeholder.ReplaceAllString(v.s, "x") // {subdomain} and the like, filled from options
	u, ok := p.httpURL(filled, true)
	if !ok {
		return ""
	}
	trimmed := strings.TrimRight(u.Path, "/")
	switch {
	case u.RawQuery != "" || u.ForceQuery:
		p.problem(v.line, v.field, "must not have a ?query: the proxied path and query are appended to it")
	case trimmed != "" && path.Clean(trimmed) != trimmed || strings.Contains(u.Path, "//"):
		p.problem(v.line, v.field, "must be a plain path without ., .. or empty segments, like https://ghe.example.com/api/v3")
	case u.RawPath != "":
		p.problem(v.line, v.field, "must not contain percent-encoded characters in its path")
	default:
		return strings.TrimRight(v.s, "/")
	}
	return ""
}
