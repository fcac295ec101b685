package proxy

import (
	"errors"
	"net/url"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// maxPathLen bounds the proxied path: API paths are short, and a long one is an attack or a
// mistake.
const maxPathLen = 4096

// splitPath cuts the request's path, as the bot sent it (still percent-encoded: r.URL's
// EscapedPath, not the decoded Path, so an encoded slash is seen for what it is), into the
// proxy route's own prefix, ending in "/proxy", and the rest, the path to call at the
// provider. id is the route's {id}: a bot name cannot contain "/", so the first
// "/identities/{id}/proxy/" is the route's.
func splitPath(escaped, id string) (prefix, rest string, ok bool) {
	marker := "/identities/" + id + "/proxy/"
	i := strings.Index(escaped, marker)
	if i < 0 {
		return "", "", false
	}
	cut := i + len(marker)
	return escaped[:cut-1], escaped[cut:], true
}

// checkPath decides whether rest, the percent-encoded path after /proxy/, stays inside the
// provider's API base when appended to it, and returns it decoded. The URL is always built
// from the base's scheme and host (never by pasting strings), so the host cannot change; what
// is refused here are the paths that escape the base path, or that a server, proxy or
// naive URL joiner on the way could read as another host:
//
//   - empty segments ("//evil.com/x" is a scheme-relative URL; only a trailing slash is kept);
//   - "." and ".." segments, encoded or not, also before a ";" (Tomcat reads "..;" as "..");
//   - encoded "/" and "\" (%2F, %5C), and raw backslashes, which some servers treat as "/";
//   - control characters, and malformed percent-encoding;
//   - a first segment with "@" or ":" ("@evil.com", "http:"), which reads as userinfo or a
//     scheme if the path is ever pasted after a host. Later segments may hold them: Discord's
//     API is /users/@me.
func checkPath(rest string) (string, error) {
	if len(rest) > maxPathLen {
		return "", errors.New("the path is longer than 4096 bytes")
	}
	if strings.ContainsAny(rest, `\`) {
		return "", errors.New("the path contains a backslash")
	}
	segs := strings.Split(rest, "/")
	decoded := make([]string, len(segs))
	for i, seg := range segs {
		if seg == "" {
			if i == len(segs)-1 {
				continue // a trailing slash, or the base itself
			}
			return "", errors.New("the path has an empty segment (//)")
		}
		d, err := url.PathUnescape(seg)
		if err != nil {
			return "", errors.New("the path has malformed percent-encoding")
		}
		name, _, _ := strings.Cut(d, ";")
		switch {
		case strings.ContainsAny(d, `/\`):
			return "", errors.New("the path has an encoded slash or backslash")
		case strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return "", errors.New("the path has a control character")
		case name == "." || name == "..":
			return "", errors.New("the path has a . or .. segment")
		case i == 0 && strings.ContainsAny(d, "@:"):
			return "", errors.New("the path's first segment has @ or :, which could be read as a host or scheme")
		}
		decoded[i] = d
	}
	return strings.Join(decoded, "/"), nil
}

// target is where one proxied call goes: the provider's API base plus the bot's path.
type target struct {
	base     *url.URL // the API base
	basePath string   // its escaped path, without a trailing slash
	url      *url.URL // the URL to call
	prefix   string   // the bot's route up to and including "/proxy", for rewriting URLs back
}

// newTarget builds the URL to call from the API base and the bot's path, as sent (rest) and
// as checkPath decoded it, and query.
func newTarget(baseURL, prefix, rest, decoded, rawQuery string) (*target, error) {
	base, err := url.Parse(baseURL)
	if err != nil || base.Host == "" || base.RawPath != "" {
		return nil, &broker.Error{Code: broker.CodeInternal, Message: "the provider's API base URL is not usable", Err: err}
	}
	basePath := strings.TrimSuffix(base.EscapedPath(), "/")
	u := &url.URL{
		Scheme:   base.Scheme,
		Host:     base.Host,
		Path:     strings.TrimSuffix(base.Path, "/") + "/" + decoded,
		RawPath:  basePath + "/" + rest, // the bot's own encoding: an OAuth 1.0a signature covers it
		RawQuery: rawQuery,
	}
	return &target{base: base, basePath: basePath, url: u, prefix: prefix}, nil
}

// local maps a URL the provider sent back (Location, Link) to the proxy: a URL under the API
// base becomes the same path under the bot's proxy route, so the bot's client can follow it
// through the broker; any other URL is not the broker's to reach, and ok is false.
func (t *target) local(raw string) (string, bool) {
	u, err := t.url.Parse(raw) // relative references resolve against the URL called
	if err != nil || u.User != nil || !sameOrigin(u, t.base) {
		return "", false
	}
	p := u.EscapedPath()
	rest, ok := strings.CutPrefix(p, t.basePath+"/")
	if !ok {
		if p != t.basePath {
			return "", false
		}
		rest = ""
	}
	if _, err := checkPath(rest); err != nil {
		return "", false
	}
	out := t.prefix + "/" + rest
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, true
}

// sameOrigin compares scheme, host and port, the port defaulting by scheme.
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		return map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}
