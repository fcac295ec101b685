package httpapi

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// The answers a bot asks for most — its credentials before every action, a user's
// identities and a new link — are encoded by hand: encoding/json's reflection, its map
// wrapper and the intermediate structs were a tenth of the broker's time in a credentials
// read and a third of createLink's own (see docs/BENCHMARKS.md). The bytes are exactly
// encoding/json's, HTML escaping and trailing newline included; handlers_json_test.go holds
// the two side by side.

// The values of writeRaw's headers, shared by every answer instead of a new slice per header
// per answer (Header.Set). Nothing changes a header's values in place: net/http copies the
// header when the status is written, and a later Add appends to a copy.
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

// writeCredentials answers 200 with c as credentialsJSON.
func writeCredentials(w http.ResponseWriter, c broker.Credentials) {
	if !encodableTime(c.ExpiresAt) {
		writeJSON(w, http.StatusOK, toCredentialsJSON(c))
		return
	}
	b := make([]byte, 0, 256)
	b = appendCredentials(b, c)
	writeRaw(w, http.StatusOK, append(b, '\n'))
}

func appendCredentials(b []byte, c broker.Credentials) []byte {
	b = append(b, `{"provider":`...)
	b = appendString(b, c.Provider)
	b = append(b, `,"token_type":`...)
	b = appendString(b, c.TokenType)
	b = append(b, `,"access_token":`...)
	b = appendString(b, c.AccessToken)
	if c.AccessTokenSecret != "" {
		b = append(b, `,"access_token_secret":`...)
		b = appendString(b, c.AccessTokenSecret)
	}
	if !c.ExpiresAt.IsZero() {
		b = append(b, `,"expires_at":`...)
		b = appendTime(b, c.ExpiresAt)
	}
	return append(b, '}')
}

// writeIdentities answers 200 with {"identities":[…]}.
func writeIdentities(w http.ResponseWriter, ids []broker.IdentityInfo) {
	for _, id := range ids {
		if !encodableTime(id.ExpiresAt) || !encodableTime(id.LinkedAt) || !encodableTime(id.UpdatedAt) {
			out := make([]identityJSON, len(ids))
			for i, id := range ids {
				out[i] = toIdentityJSON(id)
			}
			writeJSON(w, http.StatusOK, map[string][]identityJSON{"identities": out})
			return
		}
	}
	b := make([]byte, 0, 64+400*len(ids))
	b = append(b, `{"identities":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendIdentity(b, id)
	}
	writeRaw(w, http.StatusOK, append(b, "]}\n"...))
}

func appendIdentity(b []byte, id broker.IdentityInfo) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, id.ID, 10)
	for _, f := range [...]struct{ key, value string }{
		{`,"provider":`, id.Provider}, {`,"provider_user_id":`, id.ProviderUserID}, {`,"name":`, id.Name},
		{`,"nickname":`, id.NickName}, {`,"email":`, id.Email}, {`,"avatar_url":`, id.AvatarURL}, {`,"status":`, id.Status},
	} {
		b = append(b, f.key...)
		b = appendString(b, f.value)
	}
	b = append(b, `,"scopes":[`...)
	for i, s := range id.Scopes {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	b = append(b, `],"expires_at":`...)
	if id.ExpiresAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, id.ExpiresAt)
	}
	b = append(b, `,"linked_at":`...)
	b = appendTime(b, id.LinkedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, id.UpdatedAt)
	return append(b, '}')
}

// writeLink answers 201 with link as linkResponse.
func writeLink(w http.ResponseWriter, link broker.NewLink) {
	if !encodableTime(link.ExpiresAt) {
		writeJSON(w, http.StatusCreated, linkResponse{URL: link.URL, ExpiresAt: link.ExpiresAt, Providers: link.Providers})
		return
	}
	n := 80 + len(link.URL) // the keys, punctuation and the longest time
	for _, p := range link.Providers {
		n += len(p) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, `{"url":`...)
	b = appendString(b, link.URL)
	b = append(b, `,"expires_at":`...)
	b = appendTime(b, link.ExpiresAt)
	b = append(b, `,"providers":`...)
	if link.Providers == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range link.Providers {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, p)
		}
		b = append(b, ']')
	}
	writeRaw(w, http.StatusCreated, append(b, "}\n"...))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// encodableTime: time.Time's MarshalJSON refuses years outside 0–9999; such a time goes
// through encoding/json, which decides what happens.
func encodableTime(t time.Time) bool {
	y := t.Year()
	return y >= 0 && y <= 9999
}

// appendTime is time.Time's MarshalJSON.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString is encoding/json's string encoding with HTML escaping (json.Encoder's default):
// quote, backslash and control characters escaped, <, > and & as \u003c, \u003e, \u0026,
// U+2028 and U+2029 escaped, invalid UTF-8 replaced by \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
