package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

func TestReadBody(t *testing.T) {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}
	for _, tc := range []struct {
		name       string
		body       string
		header     http.Header
		oauth1     bool
		replayable bool
		code       string // of readBody, then of signable; "" for none
	}{
		{"empty", "", nil, false, true, ""},
		{"small, held for a retry", `{"a":1}`, nil, false, true, ""},
		{"over the buffer, streams", strings.Repeat("x", bufferLimit+1), nil, false, false, ""},
		{"over the buffer, OAuth 1.0a but not a form", strings.Repeat("x", bufferLimit+1), nil, true, false, ""},
		{"an OAuth 1.0a form over the buffer", "a=" + strings.Repeat("x", bufferLimit), form, true, false, broker.CodePayloadTooLarge},
		{"an OAuth 1.0a form that is not one", "a=%zz", form, true, true, broker.CodeInvalidRequest},
		{"a form under OAuth 2 is not checked", "a=%zz", form, false, true, ""},
		{"over the cap, within the buffer", strings.Repeat("x", 3<<20), nil, false, false, broker.CodePayloadTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", struct{ io.Reader }{strings.NewReader(tc.body)}) // no length: as if chunked
			r.Header = tc.header
			if r.Header == nil {
				r.Header = http.Header{}
			}
			limit := int64(2 << 20)
			if strings.HasPrefix(tc.name, "over the cap") {
				limit = 1 << 10
			}
			b, err := readBody(httptest.NewRecorder(), r, limit)
			if err == nil {
				err = b.signable(tc.oauth1, r.Header)
			}
			if got := codeOf(err); got != tc.code {
				t.Fatalf("error %v, want code %q", err, tc.code)
			}
			if err != nil {
				return
			}
			if b.replayable() != tc.replayable {
				t.Errorf("replayable = %v", b.replayable())
			}
			out, _ := http.NewRequest("POST", "http://x/", nil)
			b.attach(out)
			got, _ := io.ReadAll(out.Body)
			if !bytes.Equal(got, []byte(tc.body)) {
				t.Errorf("attached %d bytes, want the %d sent", len(got), len(tc.body))
			}
		})
	}
}

// TestReadBodyCapWhileStreaming: a body that streams is held to the cap as it is sent.
func TestReadBodyCapWhileStreaming(t *testing.T) {
	r := httptest.NewRequest("POST", "/", struct{ io.Reader }{strings.NewReader(strings.Repeat("x", 3<<20))})
	b, err := readBody(httptest.NewRecorder(), r, 2<<20)
	if err != nil || b.replayable() {
		t.Fatalf("readBody: %v, replayable %v; want a streaming body", err, b.replayable())
	}
	out, _ := http.NewRequest("POST", "http://x/", nil)
	b.attach(out)
	n, err := io.Copy(io.Discard, out.Body)
	var tooBig *http.MaxBytesError
	if !errors.As(err, &tooBig) || n != 2<<20 {
		t.Errorf("read %d bytes, then %v; want the cap, then *http.MaxBytesError", n, err)
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return broker.ErrorCode(err)
}
