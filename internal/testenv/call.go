package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The bot's side of the API proxy: a call with the bot's key, the answer as the bot sees it.

// Reply is the proxy's answer as a bot sees it.
type Reply struct {
	Status  int
	Header  http.Header
	Body    []byte
	Problem ProblemBody // when the answer is the broker's own
	Err     error       // reading the body failed (an answer cut off)
}

// ProxyPath is the proxy route of an identity, plus path (as it is sent, still encoded).
func ProxyPath(bot string, id int64, path string) string {
	return fmt.Sprintf("/bots/%s/identities/%d/proxy/%s", bot, id, path)
}

// NoRedirects is a bot's client that validates bot API answers against the OpenAPI document
// (through Main's transport) and does not follow redirects, so tests see them.
var NoRedirects = &http.Client{
	Transport:     roundTripperFunc(func(r *http.Request) (*http.Response, error) { return http.DefaultClient.Transport.RoundTrip(r) }),
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Call sends one request to the bot API path (under /api/v1, as sent: escapes kept) with the
// bot's key, the given headers and body.
func (b *Broker) Call(method, path, key string, header http.Header, body io.Reader) Reply {
	b.T.Helper()
	req, err := http.NewRequest(method, b.URL+"/api/v1"+path, body)
	if err != nil {
		b.T.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return b.Do(req)
}

// CallRaw is call with the request-target exactly as given, for paths Go's URL type would
// re-encode (a raw backslash). These requests bypass the OpenAPI validation.
func (b *Broker) CallRaw(method, rawPath, key string) Reply {
	b.T.Helper()
	u, _ := url.Parse(b.URL)
	req, err := http.NewRequest(method, b.URL, nil)
	if err != nil {
		b.T.Fatal(err)
	}
	req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: "/api/v1" + rawPath}
	req.Header.Set("Authorization", "Bearer "+key)
	return b.Do(req)
}

func (b *Broker) Do(req *http.Request) Reply {
	b.T.Helper()
	resp, err := NoRedirects.Do(req)
	if err != nil {
		b.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	out := Reply{Status: resp.StatusCode, Header: resp.Header}
	out.Body, out.Err = io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Type") == "application/problem+json" {
		DecodeJSON(b.T, out.Body, &out.Problem)
	}
	return out
}

func DecodeJSON(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// NoSecretLogged fails if the broker's log holds any of the secrets (tokens the providers
// issued, token secrets): the proxy handles them on every call and must never write one.
func (b *Broker) NoSecretLogged(secrets ...string) {
	b.T.Helper()
	logs := b.Logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			b.T.Errorf("the log holds a secret (%.8s…)", s)
		}
	}
}
