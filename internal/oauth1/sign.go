// Package oauth1 is oauthbroker's one implementation of OAuth 1.0a (RFC 5849): the HMAC-SHA1
// signer that the link flow, the API proxy and the benchmark all use, and the two token
// requests of the flow (temporary credentials, token credentials).
//
// It imports only the standard library. Its tests hold the signer to the RFC's own examples
// (providertest.RFC5849Vectors), which a verifier sharing no code with it also reproduces.
package oauth1

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxSignedForm bounds a form body Sign reads: OAuth 1.0a signs form parameters, so the
// body must be buffered.
const MaxSignedForm = 1 << 20

// ErrFormBody is returned for a form body that cannot be signed: unreadable, malformed or
// longer than MaxSignedForm.
var ErrFormBody = errors.New("oauth1: form body unreadable, malformed or too long to sign")

// Credentials are the client's and (once there is one) the token's identifiers and secrets.
type Credentials struct {
	ConsumerKey, ConsumerSecret string
	Token, TokenSecret          string // "" for the temporary-credentials request
}

// Signer signs requests. The zero value is ready to use; Now and Nonce are for tests.
type Signer struct {
	Now   func() time.Time // default time.Now
	Nonce func() string    // default 32 random bytes, base64url
}

// Sign sets req's Authorization header to an HMAC-SHA1 signature (RFC 5849 §3) over the
// method, the URL, the query, a form body (which it buffers and puts back) and the protocol
// parameters; extra are further oauth_* parameters such as oauth_callback or oauth_verifier.
func (s Signer) Sign(req *http.Request, c Credentials, extra ...[2]string) error {
	now, nonce := time.Now, randomNonce
	if s.Now != nil {
		now = s.Now
	}
	if s.Nonce != nil {
		nonce = s.Nonce
	}
	oauth := [][2]string{
		{"oauth_consumer_key", c.ConsumerKey},
		{"oauth_nonce", nonce()},
		{"oauth_signature_method", "HMAC-SHA1"},
		{"oauth_timestamp", strconv.FormatInt(now().Unix(), 10)},
	}
	if c.Token != "" {
		oauth = append(oauth, [2]string{"oauth_token", c.Token})
	}
	oauth = append(oauth, [2]string{"oauth_version", "1.0"})
	oauth = append(oauth, extra...)
	params := append([][2]string(nil), oauth...)
	for k, vs := range req.URL.Query() {
		for _, v := range vs {
			params = append(params, [2]string{k, v})
		}
	}
	form, err := formParams(req)
	if err != nil {
		return err
	}
	params = append(params, form...)
	sig := Signature(req.Method, req.URL, params, c.ConsumerSecret, c.TokenSecret)
	var h strings.Builder
	h.WriteString("OAuth ")
	for i, kv := range append(oauth, [2]string{"oauth_signature", sig}) {
		if i > 0 {
			h.WriteString(", ")
		}
		h.WriteString(PercentEncode(kv[0]) + `="` + PercentEncode(kv[1]) + `"`)
	}
	req.Header.Set("Authorization", h.String())
	return nil
}

// formParams reads a single-part form body (§3.4.1.3.1's third source) and puts it back.
func formParams(req *http.Request) ([][2]string, error) {
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" || req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxSignedForm+1))
	req.Body.Close()
	if err != nil || len(body) > MaxSignedForm {
		return nil, ErrFormBody
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, ErrFormBody
	}
	var out [][2]string
	for k, vs := range form {
		for _, v := range vs {
			out = append(out, [2]string{k, v})
		}
	}
	return out, nil
}

// Signature is RFC 5849 §3.4: the base string of method, base URI (§3.4.1.2) and sorted
// encoded parameters (§3.4.1.3.2), HMAC-SHA1 keyed with both secrets (§3.4.2).
func Signature(method string, u *url.URL, params [][2]string, consumerSecret, tokenSecret string) string {
	mac := hmac.New(sha1.New, []byte(PercentEncode(consumerSecret)+"&"+PercentEncode(tokenSecret)))
	mac.Write(baseString(method, u, params))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// BaseString is §3.4.1.1's signature base string.
func BaseString(method string, u *url.URL, params [][2]string) string {
	return string(baseString(method, u, params))
}

func baseString(method string, u *url.URL, params [][2]string) []byte {
	pairs := make([][2]string, len(params))
	size := 0
	for i, kv := range params {
		pairs[i] = [2]string{PercentEncode(kv[0]), PercentEncode(kv[1])}
		size += len(pairs[i][0]) + len(pairs[i][1]) + 2
	}
	// By encoded name, then value. (Sorting the joined "name=value" strings would not do:
	// '-', '.', '%' and digits sort below '=', putting "a-b" before "a".)
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	joined := make([]byte, 0, size)
	for i, kv := range pairs {
		if i > 0 {
			joined = append(joined, '&')
		}
		joined = append(append(append(joined, kv[0]...), '='), kv[1]...)
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	b := append([]byte(strings.ToUpper(method)), '&')
	b = append(appendPercentEncoded(b, scheme+"://"+host+u.EscapedPath()), '&')
	return appendPercentEncoded(b, joined)
}

// PercentEncode is RFC 5849 §3.6: all but unreserved characters as upper-case %XX.
func PercentEncode(s string) string {
	n := escapedLen(s)
	if n == len(s) {
		return s
	}
	return string(appendPercentEncoded(make([]byte, 0, n), s))
}

// unreserved holds RFC 3986's unreserved characters, the bytes §3.6 leaves as they are.
var unreserved = func() (set [256]bool) {
	for c := range 256 {
		set[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
	}
	return set
}()

// escapedLen is the length of s percent-encoded.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !unreserved[s[i]] {
			n += 2
		}
	}
	return n
}

// appendPercentEncoded appends s percent-encoded to b.
func appendPercentEncoded[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		if c := s[i]; unreserved[c] {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

func randomNonce() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}
