package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// awkwardStrings are what a provider may put in a profile or token: every escape
// encoding/json makes, HTML characters, U+2028/U+2029, invalid UTF-8, multi-byte runes.
var awkwardStrings = []string{
	"", "plain", `quo"te`, `back\slash`, "tab\tnew\nline\rcr", "\b\f\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "line\u2028sep\u2029par", "bad\xffutf8\xc3", "héllo wörld 日本 🎉",
	"trailing\xe2\x80", "\u2027\u202a",
}

// The hand-built encoders answer exactly what encoding/json's Encoder (writeJSON) answers.
func TestHandEncodersMatchEncodingJSON(t *testing.T) {
	times := []time.Time{{}, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), time.UnixMilli(1_760_000_000_123).UTC(),
		time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("x", 3600)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, s := range awkwardStrings {
		for _, at := range times {
			c := broker.Credentials{Provider: "p" + s, TokenType: "bearer", AccessToken: s, AccessTokenSecret: s, ExpiresAt: at}
			compare(t, func(w *httptest.ResponseRecorder) { writeCredentials(w, c) },
				func(w *httptest.ResponseRecorder) { writeJSON(w, 200, toCredentialsJSON(c)) })

			for _, ps := range [][]string{nil, {}, {s}, {"github", s, "google"}} {
				l := broker.NewLink{URL: "https://broker.example/bots/b/connect?link=" + s, ExpiresAt: at, Providers: ps}
				compare(t, func(w *httptest.ResponseRecorder) { writeLink(w, l) },
					func(w *httptest.ResponseRecorder) {
						writeJSON(w, 201, linkResponse{URL: l.URL, ExpiresAt: l.ExpiresAt, Providers: l.Providers})
					})
			}

			id := broker.IdentityInfo{ID: 42, Provider: s, ProviderUserID: s + "1", Name: s, NickName: s, Email: s, AvatarURL: s,
				Status: "active", Scopes: []string{s, "repo"}, ExpiresAt: at, LinkedAt: times[2], UpdatedAt: at}
			for _, ids := range [][]broker.IdentityInfo{nil, {id}, {id, {ID: 7, LinkedAt: times[1], UpdatedAt: times[1]}}} {
				compare(t, func(w *httptest.ResponseRecorder) { writeIdentities(w, ids) },
					func(w *httptest.ResponseRecorder) {
						out := make([]identityJSON, len(ids))
						for i, id := range ids {
							out[i] = toIdentityJSON(id)
						}
						writeJSON(w, 200, map[string][]identityJSON{"identities": out})
					})
			}
		}
	}
}

func compare(t *testing.T, hand, std func(*httptest.ResponseRecorder)) {
	t.Helper()
	a, b := httptest.NewRecorder(), httptest.NewRecorder()
	hand(a)
	std(b)
	if a.Code != b.Code || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) ||
		a.Header().Get("Content-Type") != b.Header().Get("Content-Type") || a.Header().Get("Cache-Control") != b.Header().Get("Cache-Control") {
		t.Fatalf("hand-built answer differs from encoding/json's:\n hand %d %q\n json %d %q", a.Code, a.Body, b.Code, b.Body)
	}
	if a.Body.Len() > 0 && !json.Valid(a.Body.Bytes()) {
		t.Fatalf("not JSON: %q", a.Body)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range awkwardStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s) // json.Marshal escapes HTML like the Encoder
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, encoding/json: %s", s, got, want)
		}
	})
}
