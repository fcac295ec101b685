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
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// This file verifies OAuth 1.0a (RFC 5849) HMAC-SHA1 signatures on the server side. It is
// written from the RFC, independently of mrjones/oauth, so that a bug in the client's
// signing shows up as a rejected request instead of being mirrored here.

// signedRequest is what a request said about itself in its OAuth parameters.
type signedRequest struct {
	oauth  map[string]string // every oauth_* protocol parameter, decoded
	params [][2]string       // all parameters that enter the signature base string
}

// parseSigned collects the protocol parameters from the Authorization header (§3.5.1),
// the form body (§3.5.2) and the query (§3.5.3), and every parameter that is signed
// (§3.4.1.3.1): query, form body, and the header's oauth_* parameters except
// oauth_signature and realm.
func parseSigned(r *http.Request) (*signedRequest, error) {
	s := &signedRequest{oauth: map[string]string{}}
	add := func(k, v string, fromHeader bool) error {
		if strings.HasPrefix(k, "oauth_") {
			if _, dup := s.oauth[k]; dup {
				return fmt.Errorf("parameter %s given twice", k)
			}
			s.oauth[k] = v
		}
		if k != "oauth_signature" && !(fromHeader && k == "realm") {
			s.params = append(s.params, [2]string{k, v})
		}
		return nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "OAuth") {
			return nil, errors.New("authorization scheme is not OAuth")
		}
		for _, part := range strings.Split(rest, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			k, v, ok := strings.Cut(part, "=")
			if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
				return nil, fmt.Errorf("malformed Authorization parameter %q", part)
			}
			// §3.5.1: names and values are percent-encoded, values in double quotes.
			key, err1 := url.PathUnescape(k)
			val, err2 := url.PathUnescape(v[1 : len(v)-1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("bad percent-encoding in %q", part)
			}
			if err := add(key, val, true); err != nil {
				return nil, err
			}
		}
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("bad query: %v", err)
	}
	for k, vs := range query {
		for _, v := range vs {
			if err := add(k, v, false); err != nil {
				return nil, err
			}
		}
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("bad form body: %v", err)
		}
		for k, vs := range form {
			for _, v := range vs {
				if err := add(k, v, false); err != nil {
					return nil, err
				}
			}
		}
	}
	return s, nil
}

// baseString builds the signature base string (§3.4.1).
func baseString(r *http.Request, params [][2]string) string {
	enc := make([]string, len(params))
	sorted := make([][2]string, len(params))
	for i, p := range params {
		sorted[i] = [2]string{percentEncode(p[0]), percentEncode(p[1])}
	}
	// §3.4.1.3.2: sort by encoded name, then by encoded value.
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i][0] != sorted[j][0] {
			return sorted[i][0] < sorted[j][0]
		}
		return sorted[i][1] < sorted[j][1]
	})
	for i, p := range sorted {
		enc[i] = p[0] + "=" + p[1]
	}
	return strings.ToUpper(r.Method) + "&" + percentEncode(baseURI(r)) + "&" + percentEncode(strings.Join(enc, "&"))
}

// baseURI is §3.4.1.2's base string URI: lower-case scheme and host, the port only when
// it is not the scheme's default, the path, no query. Behind a RewriteTransport the
// client signed the real provider's URL, which X-Forwarded-Proto/-Host carry.
func baseURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = h
	}
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return scheme + "://" + host + r.URL.EscapedPath()
}

// sign computes §3.4.2's HMAC-SHA1 signature.
func sign(base, consumerSecret, tokenSecret string) string {
	mac := hmac.New(sha1.New, []byte(percentEncode(consumerSecret)+"&"+percentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// percentEncode is §3.6: everything but ALPHA, DIGIT, '-', '.', '_', '~' as %XX, upper case.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
