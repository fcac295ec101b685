package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/seal"
)

// TestCookieSerializer: what the cookies hold comes back as it went in, through the real
// HMAC and AES codecs; a sealed value with one bit changed, one sealed under other keys and
// bytes that are not the format are refused; values other than strings are not stored.
func TestCookieSerializer(t *testing.T) {
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	codecs := securecookie.CodecsFromPairs(keys.CookieHashKey, keys.CookieBlockKey)
	useCookieSerializer(codecs)

	values := map[any]any{"flow": `{"state":"s\u0000t","link":"é"}`, "": "", "other": strings.Repeat("x", 300)}
	sealed, err := securecookie.EncodeMulti(flowCookie, values, codecs...)
	if err != nil {
		t.Fatal(err)
	}
	got := map[any]any{}
	if err := securecookie.DecodeMulti(flowCookie, sealed, &got, codecs...); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(values) {
		t.Fatalf("round trip: %v, want %v", got, values)
	}
	for k, v := range values {
		if got[k] != v {
			t.Errorf("round trip: %q = %q, want %q", k, got[k], v)
		}
	}
	var nilMap map[any]any
	if err := securecookie.DecodeMulti(flowCookie, sealed, &nilMap, codecs...); err != nil || nilMap["flow"] != values["flow"] {
		t.Errorf("into a nil map: %v, %v", nilMap, err)
	}
	page := `{"b":"browser","s":1}`
	sealedPage, err := securecookie.EncodeMulti(pageCookie, page, codecs...)
	if err != nil {
		t.Fatal(err)
	}
	var gotPage string
	if err := securecookie.DecodeMulti(pageCookie, sealedPage, &gotPage, codecs...); err != nil || gotPage != page {
		t.Fatalf("page round trip: %q, %v", gotPage, err)
	}

	// Tampered: each position of the sealed value in turn, one bit changed.
	for i := range sealed {
		v := []byte(sealed)
		v[i] ^= 1
		var m map[any]any
		if securecookie.DecodeMulti(flowCookie, string(v), &m, codecs...) == nil && string(v) != sealed {
			t.Fatalf("a value with byte %d changed decoded: %v", i, m)
		}
	}
	// Another cookie's name, other keys.
	if securecookie.DecodeMulti(pageCookie, sealed, &got, codecs...) == nil {
		t.Error("the flow cookie's value decoded as the page cookie")
	}
	other, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherCodecs := securecookie.CodecsFromPairs(other.CookieHashKey, other.CookieBlockKey)
	useCookieSerializer(otherCodecs)
	if securecookie.DecodeMulti(flowCookie, sealed, &got, otherCodecs...) == nil {
		t.Error("a value sealed under other keys decoded")
	}

	// Bytes that are not the format (were they ever to pass the MAC).
	var s cookieSerializer
	for _, bad := range [][]byte{{5, 'a'}, {1, 'a'}, {1, 'a', 3, 'b'}, {0x80}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		m := map[any]any{}
		if s.Deserialize(bad, &m) == nil {
			t.Errorf("%v deserialized: %v", bad, m)
		}
	}
	if s.Deserialize([]byte{1, 'a', 1, 'b'}, new(int)) == nil {
		t.Error("deserialized into an *int")
	}
	for _, bad := range []any{map[any]any{"flow": 1}, map[any]any{1: "x"}, 42, []byte("x")} {
		if _, err := s.Serialize(bad); err == nil {
			t.Errorf("%#v serialized", bad)
		}
	}
}

// TestGobFlowCookieFromBeforeIsRefused: a flow cookie sealed under the broker's own keys by
// the gob serializer it used before reads as no flow, and its callback is the 400 page that
// asks to start again.
func TestGobFlowCookieFromBeforeIsRefused(t *testing.T) {
	var keys seal.Keys
	fs := newFuzzServer(t, func(d *Deps) { keys = d.Keys })
	_, cookie, sent := fs.startFlow(t)
	withCookie := func(c *http.Cookie) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://broker.test/bots/a/sb/callback?"+sent.Encode(), nil)
		r.AddCookie(c)
		return r
	}
	flow := fs.srv.readFlow(withCookie(cookie))
	if flow == nil {
		t.Fatal("the genuine cookie does not read")
	}

	gob := sessions.NewCookieStore(keys.CookieHashKey, keys.CookieBlockKey) // securecookie's default: gob
	gob.MaxAge(int(broker.FlowTTL.Seconds()))
	sess := sessions.NewSession(gob, flowCookie)
	sess.Options = fs.srv.cookieOptions("a", "sb", int(broker.FlowTTL.Seconds()))
	data, _ := json.Marshal(flow)
	sess.Values["flow"] = string(data)
	rec := httptest.NewRecorder()
	if err := gob.Save(withCookie(cookie), rec, sess); err != nil {
		t.Fatal(err)
	}
	old := rec.Result().Cookies()[0]
	if fs.srv.readFlow(withCookie(old)) != nil {
		t.Fatal("a gob cookie read as a flow")
	}
	rec = httptest.NewRecorder()
	fs.srv.ServeHTTP(rec, withCookie(old))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Linking could not be completed") {
		t.Fatalf("callback with a gob cookie: %d\n%s", rec.Code, rec.Body)
	}
}
