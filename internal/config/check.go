package config

import (
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The checks below report through p and never quote the value they reject: URLs may carry
// credentials and keys are secrets. The field and line say which value is meant.

// required reports an empty or missing v; hint says what to put there.
func (p *parser) required(v value, hint string) bool {
	if v.bad {
		return false
	}
	if v.s == "" {
		p.problem(v.line, v.field, "required: %s", hint)
		return false
	}
	return true
}

// given reports whether an optional v holds something to check.
func given(v value) bool { return !v.bad && v.s != "" }

// namePattern is the bot and provider name syntax (docs/DESIGN.md, the words): it appears in URL paths and
// metric labels unescaped.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (p *parser) name(line int, field, what string, name string) {
	if !namePattern.MatchString(name) {
		p.problem(line, field, "invalid %s name: use 1-63 lowercase letters, digits, _ or -, starting with a letter or digit", what)
	}
}

// duration parses an optional Go duration in [lo, hi] (hi 0: no upper bound); empty gives def.
// ok is false when a problem has been reported, so comparisons with other settings can skip it.
func (p *parser) duration(v value, def, lo, hi time.Duration) (d time.Duration, ok bool) {
	if !given(v) {
		return def, !v.bad
	}
	d, err := time.ParseDuration(v.s)
	switch {
	case err != nil:
		p.problem(v.line, v.field, "must be a duration like 30s, 10m or 24h")
	case d < lo || (hi > 0 && d > hi):
		if hi > 0 {
			p.problem(v.line, v.field, "must be between %s and %s", lo, hi)
		} else {
			p.problem(v.line, v.field, "must be at least %s", lo)
		}
	default:
		return d, true
	}
	return def, false
}

// httpURL checks v is an absolute http(s) URL with a host and no credentials or fragment.
// secure refuses plain http except to a loopback host: these URLs carry codes, tokens or client
// secrets, and only a local test fake may see them in clear.
func (p *parser) httpURL(v value, secure bool) (*url.URL, bool) {
	u, err := url.Parse(v.s)
	switch {
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Opaque != "":
		p.problem(v.line, v.field, "must be an absolute URL starting with https:// or http://, like https://host/path")
	case u.Host == "" || u.Hostname() == "":
		p.problem(v.line, v.field, "must name a host, like https://host/path")
	case u.User != nil:
		p.problem(v.line, v.field, "must not contain user:password@ (URLs end up in logs)")
	case u.Fragment != "" || strings.Contains(v.s, "#"):
		p.problem(v.line, v.field, "must not have a #fragment")
	case !validPort(u.Port()):
		p.problem(v.line, v.field, "has an invalid port: use 1-65535")
	case secure && u.Scheme == "http" && !isLoopback(u.Hostname()):
		p.problem(v.line, v.field, "must use https (http is allowed only for localhost, 127.0.0.1 and [::1])")
	default:
		return u, true
	}
	return nil, false
}

// origin checks and normalises a redirect origin: scheme://host[:port] in lower case without the
// default port, the form a browser sends, so the broker can compare origins as strings. Plain
// http is allowed only for a loopback host, where a bot under development runs.
func (p *parser) origin(v value) (string, bool) {
	u, ok := p.httpURL(v, true)
	if !ok {
		return "", false
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery {
		p.problem(v.line, v.field, "must be an origin, scheme://host[:port], without a path or query")
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && port != map[string]string{"http": "80", "https": "443"}[u.Scheme] {
		host += ":" + port
	}
	return u.Scheme + "://" + host, true
}

func validPort(s string) bool {
	if s == "" {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isBcrypt checks the shape of a bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost 04-31, and
// 53 characters of bcrypt's base64. Checking the shape here turns a pasted password or a
// truncated hash into a start-up error rather than an admin login that can never succeed.
func isBcrypt(s string) bool {
	if len(s) != 60 || !slices.Contains([]string{"$2a$", "$2b$", "$2y$"}, s[:4]) || s[6] != '$' {
		return false
	}
	if cost, err := strconv.Atoi(s[4:6]); err != nil || cost < 4 || cost > 31 {
		return false
	}
	for _, c := range []byte(s[7:]) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// sqliteDir is the directory of a SQLite DSN (a path or a file: URI), where the key file lives
// by default so the database and the key that opens its tokens are backed up together.
func sqliteDir(dsn string) string {
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if path == "" || strings.HasPrefix(path, ":memory:") {
		return "."
	}
	return filepath.Dir(path)
}

// envHint turns a bot or provider name into the variable name an example suggests
// (work-gitlab → WORK_GITLAB).
func envHint(parts ...string) string {
	s := strings.ToUpper(strings.Join(parts, "_"))
	return strings.Map(func(r rune) rune {
		if r == '-' {
			return '_'
		}
		return r
	}, s)
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// unknownKey names the key, the keys allowed there and, for a near miss, the one meant.
func unknownKey(key string, allowed []string) string {
	msg := "unknown key " + strconv.Quote(key)
	if len(allowed) == 0 {
		return msg + ": nothing is allowed here"
	}
	if s := closest(key, allowed); s != "" {
		msg += " (did you mean " + s + "?)"
	}
	return msg + "; allowed: " + strings.Join(allowed, ", ")
}

// closest returns the option within edit distance 2 of s (a typo), or "". Short options need
// a closer match, so "x" does not suggest "uber".
func closest(s string, options []string) string {
	best, bestDist := "", 3
	for _, o := range options {
		if d := editDistance(s, o); d < bestDist && 2*d < len(o) {
			best, bestDist = o, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
