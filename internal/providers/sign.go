package providers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxSignedForm bounds a form body SignRequest reads: OAuth 1.0a signs form parameters,
// so the body must be buffered.
const maxSignedForm = 1 << 20

// SignRequest authorizes req as the identity holding the given tokens, for the API proxy:
// OAuth 1.0a types get an HMAC-SHA1 Authorization header (RFC 5849 §3, signed with this
// bot's consumer secret and the access token secret, covering the query and a form body);
// OAuth 2 types get "Bearer <accessToken>". req is sent by the caller, with any client.
func (p *Provider) SignRequest(req *http.Request, accessToken, accessTokenSecret string) error {
	if accessToken == "" {
		return fmt.Errorf("%w: %s: empty access token", ErrInvalidInput, p)
	}
	if !p.OAuth1 {
		req.Header.Set("Authorization", "Bearer "+accessToken)
		return nil
	}
	oauth := [][2]string{
		{"oauth_consumer_key", p.args.key},
		{"oauth_nonce", randomSecret()},
		{"oauth_signature_method", "HMAC-SHA1"},
		{"oauth_timestamp", strconv.FormatInt(time.Now().Unix(), 10)},
		{"oauth_token", accessToken},
		{"oauth_version", "1.0"},
	}
	params := append([][2]string(nil), oauth...)
	for k, vs := range req.URL.Query() {
		for _, v := range vs {
			params = append(params, [2]string{k, v})
		}
	}
	if ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" && req.Body != nil {
		body, err := io.ReadAll(io.LimitReader(req.Body, maxSignedForm+1))
		req.Body.Close()
		if err != nil || len(body) > maxSignedForm {
			return fmt.Errorf("%w: %s: form body unreadable or over %d bytes", ErrInvalidInput, p, maxSignedForm)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return fmt.Errorf("%w: %s: malformed form body", ErrInvalidInput, p)
		}
		for k, vs := range form {
			for _, v := range vs {
				params = append(params, [2]string{k, v})
			}
		}
	}
	sig := oauth1Signature(req.Method, req.URL, params, p.args.secret, accessTokenSecret)
	var h strings.Builder
	h.WriteString("OAuth ")
	for _, kv := range append(oauth, [2]string{"oauth_signature", sig}) {
		if h.Len() > len("OAuth ") {
			h.WriteString(", ")
		}
		h.WriteString(percentEncode(kv[0]) + `="` + percentEncode(kv[1]) + `"`)
	}
	req.Header.Set("Authorization", h.String())
	return nil
}

// oauth1Signature is RFC 5849 §3.4: the base string of method, base URI (§3.4.1.2) and
// sorted encoded parameters (§3.4.1.3.2), HMAC-SHA1 keyed with both secrets.
func oauth1Signature(method string, u *url.URL, params [][2]string, consumerSecret, tokenSecret string) string {
	pairs := make([][2]string, len(params))
	for i, kv := range params {
		pairs[i] = [2]string{percentEncode(kv[0]), percentEncode(kv[1])}
	}
	// By encoded name, then value. (Sorting the joined "name=value" strings would not do:
	// '-', '.', '%' and digits sort below '=', putting "a-b" before "a".)
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	enc := make([]string, len(pairs))
	for i, kv := range pairs {
		enc[i] = kv[0] + "=" + kv[1]
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	base := strings.ToUpper(method) + "&" + percentEncode(scheme+"://"+host+u.EscapedPath()) + "&" + percentEncode(strings.Join(enc, "&"))
	mac := hmac.New(sha1.New, []byte(percentEncode(consumerSecret)+"&"+percentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// percentEncode is RFC 5849 §3.6: all but unreserved characters as upper-case %XX.
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
