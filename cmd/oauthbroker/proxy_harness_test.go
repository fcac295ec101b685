package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
)

// The API proxy's tests (proxy_*_test.go) share this harness: a broker with server settings of
// their own, provider APIs that record what reaches them, and a bot's client for the proxy.

// startProxyBroker is startBrokerWith with extra lines for the server: section (the proxy's
// limits, a shorter outbound_timeout), which the shared harness's fixed header does not take.
func startProxyBroker(t *testing.T, serverYAML, botsYAML string, opts app.Options) *testBroker {
	t.Helper()
	if !strings.Contains(serverYAML, "outbound_timeout") {
		serverYAML += "  outbound_timeout: 5s\n"
	}
	return startBrokerServer(t, serverYAML, botsYAML, opts)
}

// seenRequest is one request a provider API received.
type seenRequest struct {
	Method, URI string
	Header      http.Header
	Body        []byte
}

// upstream is a provider's API for the proxy to call. It records every request, then answers
// with its handler, which may forward to a fake provider (forwardTo) or answer itself.
type upstream struct {
	URL string

	mu      sync.Mutex
	seen    []seenRequest
	handler http.HandlerFunc
}

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{handler: h}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body})
		h := u.handler
		u.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

func (u *upstream) setHandler(h http.HandlerFunc) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.handler = h
}

// forwardTo passes a request on to the fake provider at base, unchanged but for the two
// X-Forwarded headers naming where the broker sent it: an OAuth 1.0a signature covers that
// URL, and the Twitter fake verifies it against them (as behind providertest.RewriteTransport).
func forwardTo(base string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := http.NewRequest(r.Method, base+r.RequestURI, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out.Header = r.Header.Clone()
		out.Header.Set("X-Forwarded-Host", r.Host)
		out.Header.Set("X-Forwarded-Proto", "http")
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}
}

// reply is the proxy's answer as a bot sees it.
type reply struct {
	status  int
	header  http.Header
	body    []byte
	problem problemBody // when the answer is the broker's own
	err     error       // reading the body failed (an answer cut off)
}

// proxyPath is the proxy route of an identity, plus path (as it is sent, still encoded).
func proxyPath(bot string, id int64, path string) string {
	return fmt.Sprintf("/bots/%s/identities/%d/proxy/%s", bot, id, path)
}

// noRedirects is a bot's client that validates bot API answers against the OpenAPI document
// (through TestMain's transport) and does not follow redirects, so tests see them.
var noRedirects = &http.Client{
	Transport:     roundTripperFunc(func(r *http.Request) (*http.Response, error) { return http.DefaultClient.Transport.RoundTrip(r) }),
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// call sends one request to the bot API path (under /api/v1, as sent: escapes kept) with the
// bot's key, the given headers and body.
func (b *testBroker) call(method, path, key string, header http.Header, body io.Reader) reply {
	b.t.Helper()
	req, err := http.NewRequest(method, b.URL+"/api/v1"+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return b.do(req)
}

// callRaw is call with the request-target exactly as given, for paths Go's URL type would
// re-encode (a raw backslash). These requests bypass the OpenAPI validation.
func (b *testBroker) callRaw(method, rawPath, key string) reply {
	b.t.Helper()
	u, _ := url.Parse(b.URL)
	req, err := http.NewRequest(method, b.URL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: "/api/v1" + rawPath}
	req.Header.Set("Authorization", "Bearer "+key)
	return b.do(req)
}

func (b *testBroker) do(req *http.Request) reply {
	b.t.Helper()
	resp, err := noRedirects.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	out := reply{status: resp.StatusCode, header: resp.Header}
	out.body, out.err = io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Type") == "application/problem+json" {
		decodeJSON(b.t, out.body, &out.problem)
	}
	return out
}

func decodeJSON(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// noSecretLogged fails if the broker's log holds any of the secrets (tokens the providers
// issued, token secrets): the proxy handles them on every call and must never write one.
func (b *testBroker) noSecretLogged(secrets ...string) {
	b.t.Helper()
	logs := b.logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			b.t.Errorf("the log holds a secret (%.8s…)", s)
		}
	}
}
