package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

)

// The API proxy's tests (proxy_*_test.go) share this harness: a broker with server settings of
// their own, provider APIs that record what reaches them, and a bot's client for the proxy.

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
