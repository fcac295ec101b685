package providertest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file verifies OAuth 1.0a HMAC-SHA1 signatures (RFC 5849) on the server side. It
// is written from the RFC, section by section, and on purpose shares no code with the
// broker's signer (internal/oauth1): a verifier built on
// the signer's code would agree with the signer's bugs. RFC5849Vectors holds the RFC's
// own examples, which both sides must reproduce.

// param is one name/value pair of a request, decoded.
type param struct{ name, value string }

// signedRequest is what a request says about itself.
type signedRequest struct {
	oauth  map[string]string // the oauth_* protocol parameters, decoded
	params []param           // the parameters the signature covers (§3.4.1.3.1)
}

// parseSigned collects the request parameters from the three sources of §3.4.1.3.1, in
// the RFC's order, and the protocol parameters wherever §3.5 lets them travel.
func parseSigned(r *http.Request) (*signedRequest, error) {
	s := &signedRequest{oauth: map[string]string{}}
	add := func(name, value string, fromHeader bool) error {
		if strings.HasPrefix(name, "oauth_") {
			// §3.5: the protocol parameters travel in one place, once.
			if _, dup := s.oauth[name]; dup {
				return fmt.Errorf("parameter %s given twice", name)
			}
			s.oauth[name] = value
		}
		// §3.4.1.3.1: "The "oauth_signature" parameter MUST be excluded", and so is the
		// header's "realm".
		if name == "oauth_signature" || fromHeader && name == "realm" {
			return nil
		}
		s.params = append(s.params, param{name, value})
		return nil
	}

	// Source 1: the query component, parsed as application/x-www-form-urlencoded.
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("bad query: %v", err)
	}
	for name, values := range query {
		for _, v := range values {
			if err := add(name, v, false); err != nil {
				return nil, err
			}
		}
	}

	// Source 2: the "OAuth" Authorization header (§3.5.1).
	if h := r.Header.Get("Authorization"); h != "" {
		pairs, err := parseAuthorization(h)
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			if err := add(p.name, p.value, true); err != nil {
				return nil, err
			}
		}
	}

	// Source 3: the entity-body, only when it is single-part and the request says
	// Content-Type: application/x-www-form-urlencoded.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body)) // the handler reads it again
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("bad form body: %v", err)
		}
		for name, values := range form {
			for _, v := range values {
				if err := add(name, v, false); err != nil {
					return nil, err
				}
			}
		}
	}
	return s, nil
}

// parseAuthorization reads §3.5.1's header: the scheme "OAuth", then name="value" pairs
// separated by commas, names and values percent-encoded (§3.6).
func parseAuthorization(h string) ([]param, error) {
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "OAuth") {
		return nil, errors.New("authorization scheme is not OAuth")
	}
	var out []param
	for _, item := range strings.Split(rest, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, quoted, ok := strings.Cut(item, "=")
		if !ok || len(quoted) < 2 || !strings.HasPrefix(quoted, `"`) || !strings.HasSuffix(quoted, `"`) {
			return nil, fmt.Errorf("malformed Authorization parameter %q", item)
		}
		n, err1 := url.PathUnescape(strings.TrimSpace(name))
		v, err2 := url.PathUnescape(quoted[1 : len(quoted)-1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad percent-encoding in %q", item)
		}
		out = append(out, param{n, v})
	}
	return out, nil
}

// signatureBaseString is §3.4.1.1: the five elements, concatenated in order.
func signatureBaseString(r *http.Request, params []param) string {
	elements := []string{
		encode(strings.ToUpper(r.Method)),   // 1. the method in uppercase; a custom one encoded
		"&",                                 // 2.
		encode(baseStringURI(r)),            // 3. the base string URI (§3.4.1.2), encoded
		"&",                                 // 4.
		encode(normalizeParameters(params)), // 5. the normalized parameters (§3.4.1.3.2), encoded
	}
	return strings.Join(elements, "")
}

// baseStringURI is §3.4.1.2: scheme "://" host [":" port] path, without query or
// fragment. Behind a RewriteTransport the client signed the real provider's URL, which
// X-Forwarded-Proto and X-Forwarded-Host carry.
func baseStringURI(r *http.Request) string {
	scheme, hostHeader := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		hostHeader = h
	}
	// 1. "The scheme and host MUST be in lowercase."
	scheme = strings.ToLower(scheme)
	// 2. "The host and port values MUST match the content of the HTTP request Host header."
	host, port, err := net.SplitHostPort(hostHeader)
	if err != nil {
		host, port = hostHeader, ""
	}
	host = strings.ToLower(host)
	// 3. "The port MUST be included if it is not the default port for the scheme, and
	//    MUST be excluded if it is the default": 80 for http, 443 for https.
	authority := host
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		authority = net.JoinHostPort(host, port)
	}
	// The path as the request line carried it, still percent-encoded.
	return scheme + "://" + authority + r.URL.EscapedPath()
}

// normalizeParameters is §3.4.1.3.2.
func normalizeParameters(params []param) string {
	// 1. "the name and value of each parameter are encoded"
	encoded := make([]param, 0, len(params))
	for _, p := range params {
		encoded = append(encoded, param{encode(p.name), encode(p.value)})
	}
	// 2. "sorted by name, using ascending byte value ordering. If two or more parameters
	//    share the same name, they are sorted by their value."
	slices.SortFunc(encoded, func(a, b param) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	// 3. "The name of each parameter is concatenated to its corresponding value using an
	//    "=" character ... even if the value is empty."
	pairs := make([]string, len(encoded))
	for i, p := range encoded {
		pairs[i] = p.name + "=" + p.value
	}
	// 4. "concatenated together into a single string by using an "&" character".
	return strings.Join(pairs, "&")
}

// hmacSHA1 is §3.4.2: HMAC-SHA1 over the base string, keyed with the encoded client
// secret, "&" (present even when a secret is empty) and the encoded token secret; the
// digest base64-encoded.
func hmacSHA1(baseString, clientSecret, tokenSecret string) string {
	key := encode(clientSecret) + "&" + encode(tokenSecret)
	mac := hmac.New(sha1.New, []byte(key))
	mac.Write([]byte(baseString))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// encode is §3.6: the bytes of the UTF-8 string, unreserved characters (ALPHA, DIGIT,
// "-", ".", "_", "~") as they are, every other byte as "%" and two upper-case hex digits.
func encode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	out := make([]byte, 0, len(s))
	for _, c := range []byte(s) {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			out = append(out, c)
		default:
			out = append(out, '%', hexDigits[c>>4], hexDigits[c&0x0f])
		}
	}
	return string(out)
}

// maxSkew is how far a request's oauth_timestamp may be from the fake's clock.
const maxSkew = 5 * time.Minute

// verifier checks a signed request as an OAuth 1.0a provider does: a known consumer,
// HMAC-SHA1, version 1.0, a timestamp within maxSkew, a nonce never seen before, the right
// token secret, and the signature over the request as received. The fakes share it; callers
// hold their own lock.
type verifier struct {
	consumers map[string]string // key → secret
	now       func() time.Time
	nonces    *nonceLog
}

// nonceLog remembers the nonces seen, with their timestamps. §3.3 lets a server forget a
// nonce once its timestamp is outside the window it accepts, since the timestamp check then
// refuses the request anyway; the log does so, so that a fake serving a long load test (the
// benchmark's) does not grow with every request it ever verified.
type nonceLog struct {
	seen    map[string]int64 // nonce key → its oauth_timestamp
	sweepAt int              // the size at which the next sweep runs
}

func newNonceLog() *nonceLog { return &nonceLog{seen: map[string]int64{}, sweepAt: minSweep} }

// minSweep is the log's size at its first sweep of the expired nonces. Each later sweep runs
// when the log has doubled since the one before, so sweeping costs a constant per nonce
// however many requests the window holds.
const minSweep = 4096

// add records a nonce with its timestamp; false if it was seen before.
func (l *nonceLog) add(key string, ts int64, now time.Time) bool {
	if _, seen := l.seen[key]; seen {
		return false
	}
	l.seen[key] = ts
	if len(l.seen) >= l.sweepAt {
		oldest := now.Add(-maxSkew).Unix()
		for k, t := range l.seen {
			if t < oldest {
				delete(l.seen, k)
			}
		}
		l.sweepAt = max(2*len(l.seen), minSweep)
	}
	return true
}

// verify returns the request's parameters, or (with whatever it could parse) why it is
// refused. tokenSecret looks up the secret of the request's token; nil means the request
// must carry no token (a request-token call).
func (v verifier) verify(r *http.Request, tokenSecret func(consumer, token string) (string, bool)) (*signedRequest, string) {
	s, err := parseSigned(r)
	if err != nil {
		return nil, err.Error()
	}
	consumer, token := s.oauth["oauth_consumer_key"], s.oauth["oauth_token"]
	consumerSecret, ok := v.consumers[consumer]
	switch {
	case !ok:
		return s, "unknown consumer key"
	case s.oauth["oauth_signature_method"] != "HMAC-SHA1":
		return s, "signature method is not HMAC-SHA1"
	case s.oauth["oauth_version"] != "" && s.oauth["oauth_version"] != "1.0":
		return s, "oauth_version is not 1.0"
	case s.oauth["oauth_nonce"] == "":
		return s, "no nonce"
	}
	ts, err := strconv.ParseInt(s.oauth["oauth_timestamp"], 10, 64)
	if d := v.now().Sub(time.Unix(ts, 0)); err != nil || d > maxSkew || d < -maxSkew {
		return s, "timestamp missing or more than 5 minutes off"
	}
	secret := ""
	if tokenSecret == nil {
		if token != "" {
			return s, "unexpected oauth_token"
		}
	} else if secret, ok = tokenSecret(consumer, token); !ok {
		return s, "unknown token, or a token of another consumer"
	}
	want := hmacSHA1(signatureBaseString(r, s.params), consumerSecret, secret)
	if !hmac.Equal([]byte(want), []byte(s.oauth["oauth_signature"])) {
		return s, "bad signature"
	}
	// §3.3: a nonce is unique per timestamp, consumer and token; the time window bounds
	// how long it must be remembered.
	nonce := consumer + "\x00" + token + "\x00" + s.oauth["oauth_timestamp"] + "\x00" + s.oauth["oauth_nonce"]
	if !v.nonces.add(nonce, ts, v.now()) {
		return s, "nonce reused"
	}
	return s, ""
}
