package providers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// This file reads what providers answer: token answers (JSON, or form-encoded where older
// providers still send that), profiles by JSON pointer, ID token claims, granted scopes.

// decodeAnswer parses an answer body into a JSON object. Numbers stay json.Number, so a
// 64-bit account id keeps every digit.
func decodeAnswer(body []byte, contentType string) (map[string]any, error) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-www-form-urlencoded" || mt == "text/plain" && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		vals, err := url.ParseQuery(strings.TrimSpace(string(body)))
		if err != nil {
			return nil, fmt.Errorf("answer is neither JSON nor a form")
		}
		out := make(map[string]any, len(vals))
		for k := range vals {
			out[k] = vals.Get(k)
		}
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, fmt.Errorf("answer is not a JSON object")
	}
	return doc, nil
}

// lookup resolves an RFC 6901 JSON pointer ("" is the whole document).
func lookup(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) || strconv.Itoa(i) != tok {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// text is a string or number at ptr; anything else (null, absent, an object) is "".
func text(doc any, ptr string) string {
	if ptr == "" {
		return ""
	}
	v, _ := lookup(doc, ptr)
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// accountID is text, except that a numeric 0 is no id: no provider numbers an account 0,
// and a decoder that defaults a missing number would produce it.
func accountID(doc any, ptr string) string {
	id := text(doc, ptr)
	if v, _ := lookup(doc, ptr); id == "0" {
		if _, isNum := v.(json.Number); isNum {
			return ""
		}
	}
	return id
}

// disguisedError reports an error a provider answered with a 2xx status: GitHub's token
// endpoint answers 200 {"error":"bad_verification_code"}, Slack's Web API 200 {"ok":false},
// GraphQL 200 {"errors":[…]}. The code is kept only when it has RFC 6749's shape.
func disguisedError(doc map[string]any) (code string, isError bool) {
	if e, ok := doc["error"]; ok && e != nil && e != "" {
		s, _ := e.(string)
		if rfc6749Code.MatchString(s) {
			return s, true
		}
		return "", true
	}
	if ok, present := doc["ok"]; present && ok == false {
		return "", true
	}
	if errs, ok := doc["errors"].([]any); ok && len(errs) > 0 {
		return "", true
	}
	return "", false
}

// expiresIn reads expires_in: a number of seconds or (some providers) a numeric string.
// 0 or absent: the token does not expire.
func expiresIn(tok map[string]any, now time.Time) time.Time {
	var secs int64
	switch v := tok["expires_in"].(type) {
	case json.Number:
		f, err := v.Float64()
		if err == nil {
			secs = int64(f)
		}
	case string:
		secs, _ = strconv.ParseInt(v, 10, 64)
	}
	if secs <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(secs) * time.Second)
}

// splitScopes reads a scope member: a string (space-, comma- or sep-separated) or a list
// (Twitch sends one). ok is false when the member is absent or null.
func splitScopes(v any, sep string) (scopes []string, ok bool) {
	switch v := v.(type) {
	case string:
		f := func(r rune) bool { return r == ' ' || r == ',' || string(r) == sep }
		return strings.FieldsFunc(v, f), true
	case []any:
		for _, s := range v {
			if s, ok := s.(string); ok && s != "" {
				scopes = append(scopes, s)
			}
		}
		return scopes, true
	}
	return nil, false
}

// answerScopes is the scope of a raw token answer, for the goth types (see scopeTap).
func answerScopes(body []byte, contentType string) ([]string, bool) {
	doc, err := decodeAnswer(body, contentType)
	if err != nil {
		return nil, false
	}
	return splitScopes(doc["scope"], "")
}

// grantedScopes is what to store for a flow that requested requested: RFC 6749 §5.1 omits
// scope when the grant is what was asked; otherwise the answer's scopes, under the names
// the bot asks for (aliases; scopes the provider grants without listing them), compared
// without regard to case (Microsoft echoes "User.Read" as "user.read").
func grantedScopes(requested, answer []string, answered bool, spec config.Spec) []string {
	if !answered || spec.GrantedScopes == config.GrantedRequested {
		return slices.Clone(requested)
	}
	names := make([]string, 0, len(answer))
	for _, s := range answer {
		if alias, ok := spec.ScopeAliases[s]; ok {
			s = alias
		}
		names = append(names, s)
	}
	var out []string
	has := func(list []string, s string) bool {
		return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
	}
	for _, r := range requested {
		if has(names, r) || has(spec.UnlistedScopes, r) {
			out = append(out, r)
		}
	}
	for _, n := range names {
		if !has(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// idTokenClaims decodes an ID token's claims and checks what makes it this client's and
// current: aud (OpenID Connect Core §3.1.3.7 step 3), exp (step 9), and iss where the entry
// names the issuer (step 2). The signature is not verified: the token comes straight from
// the token endpoint over TLS, authenticated with the client secret, which §3.1.3.7 step 6
// accepts in its place; state and PKCE bind the code to this browser.
func idTokenClaims(raw, clientID, issuer string, now time.Time) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("id_token is not a JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("id_token payload is not base64url")
	}
	claims, err := decodeAnswer(payload, "application/json")
	if err != nil {
		return nil, fmt.Errorf("id_token payload is not a JSON object")
	}
	audOK := false
	switch aud := claims["aud"].(type) {
	case string:
		audOK = aud == clientID
	case []any:
		audOK = slices.Contains(aud, any(clientID))
	}
	if !audOK {
		return nil, fmt.Errorf("id_token is not for this client (aud)")
	}
	exp, _ := claims["exp"].(json.Number)
	secs, err := exp.Int64()
	if err != nil || !now.Before(time.Unix(secs, 0).Add(5*time.Minute)) {
		return nil, fmt.Errorf("id_token has expired or has no exp")
	}
	if iss, _ := claims["iss"].(string); issuer != "" && iss != issuer {
		return nil, fmt.Errorf("id_token is from another issuer")
	}
	return claims, nil
}
