package client_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/client"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestClientProxy: client.Proxy against the real broker and the proxy harness's github API:
// the provider's answer comes back as a response whatever its status, redirects are not
// followed, and what the broker refuses is a *client.Error with its code. Its HTTP goes through
// the contract transport (testenv.ContractClient), so every exchange must match the document.
func TestClientProxy(t *testing.T) {
	evil := testenv.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "stolen") })
	canary := testenv.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/user/repos":
			w.Header().Set("Set-Cookie", "logged_in=no; Path=/")
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"query":%q,"auth":%q,"accept":%q}`, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Accept"))
		case "/api/echo":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			w.Write(body)
		case "/api/busy":
			w.Header().Set("Retry-After", "17")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"slow down"}`)
		case "/api/away":
			http.Redirect(w, r, evil.URL+"/steal", http.StatusFound)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found"}`)
		}
	})
	b, id := testenv.CanaryBroker(t, canary)
	hc, _ := testenv.ContractClient(t)
	newClient := func(bot, key string) *client.Client {
		c, err := client.New(b.URL, bot, key, client.WithHTTPClient(hc), client.WithUserAgent("client-test/1"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alpha, bravo := newClient("alpha", testenv.KeyA), newClient("bravo", testenv.KeyB)

	// answer calls Proxy and reads the whole answer, failing on an error.
	answer := func(method, path, body string, header http.Header) (*http.Response, string) {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		resp, err := alpha.Proxy(t.Context(), id, method, path, r, header)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading: %v", method, path, err)
		}
		if got := resp.Header.Get(client.HeaderIdentity); got != fmt.Sprint(id) {
			t.Errorf("%s %s: %s = %q, want %d", method, path, client.HeaderIdentity, got, id)
		}
		return resp, string(data)
	}

	t.Run("the provider's answer", func(t *testing.T) {
		resp, body := answer("GET", "user/repos?per_page=50", "", http.Header{"Accept": {"application/vnd.github+json"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"query":"per_page=50"`) ||
			!strings.Contains(body, `"auth":"Bearer sbx_at_`) || !strings.Contains(body, `"accept":"application/vnd.github+json"`) {
			t.Errorf("%d %s, want the API's answer to the identity's bearer token", resp.StatusCode, body)
		}
		if strings.Contains(body, testenv.KeyA) {
			t.Error("the bot's key reached the provider")
		}
		if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
			t.Errorf("the provider's Set-Cookie reached the bot: %q", c)
		}
		resp, body = answer("POST", "echo", `{"x":1}`, http.Header{"Content-Type": {"application/json"}})
		if resp.StatusCode != http.StatusCreated || body != `{"x":1}` {
			t.Errorf("POST: %d %s, want the body echoed with 201", resp.StatusCode, body)
		}
	})

	t.Run("the provider's refusals are responses, not errors", func(t *testing.T) {
		resp, body := answer("GET", "no/such/thing", "", nil)
		if resp.StatusCode != http.StatusNotFound || body != `{"message":"Not Found"}` {
			t.Errorf("%d %s, want the provider's 404", resp.StatusCode, body)
		}
		resp, body = answer("GET", "busy", "", nil)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "17" || body != `{"message":"slow down"}` {
			t.Errorf("%d Retry-After %q %s, want the provider's 429", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	})

	t.Run("redirects are not followed", func(t *testing.T) {
		resp, _ := answer("GET", "away", "", nil)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != evil.URL+"/steal" {
			t.Errorf("%d Location %q, want the provider's 302", resp.StatusCode, resp.Header.Get("Location"))
		}
		if n := len(evil.Requests()); n != 0 {
			t.Errorf("the other host saw %d requests", n)
		}
	})

	before := len(canary.Requests())
	t.Run("a path the broker refuses", func(t *testing.T) {
		for _, path := range []string{"..%2F..%2Fadmin", "../admin", "user/%2e%2e/%2e%2e/admin", "@evil.com/x"} {
			resp, err := alpha.Proxy(t.Context(), id, "GET", path, nil, nil)
			if resp != nil {
				resp.Body.Close()
			}
			if e := wantCode(t, err, http.StatusBadRequest, client.CodeProxyPathNotAllowed); e != nil && resp != nil {
				t.Errorf("%s: a response and an error", path)
			}
		}
	})
	t.Run("a path the client refuses", func(t *testing.T) {
		for _, path := range []string{"https://evil.example/x", "//evil.com/x", "/user/repos", "user:pw@evil.com/", "user#frag"} {
			resp, err := alpha.Proxy(t.Context(), id, "GET", path, nil, nil)
			var e *client.Error
			if resp != nil || err == nil || errors.As(err, &e) {
				t.Errorf("%q: %v, %v; want refused before anything is sent", path, resp, err)
			}
		}
	})
	t.Run("another bot's identity", func(t *testing.T) {
		_, err := bravo.Proxy(t.Context(), id, "GET", "user/repos", nil, nil)
		wantCode(t, err, http.StatusNotFound, client.CodeNotFound)
		_, err = newClient("alpha", testenv.KeyB).Proxy(t.Context(), id, "GET", "user/repos", nil, nil)
		wantCode(t, err, http.StatusUnauthorized, client.CodeUnauthorized)
		_, err = alpha.Proxy(t.Context(), id+1, "GET", "user/repos", nil, nil)
		wantCode(t, err, http.StatusNotFound, client.CodeNotFound)
	})
	if n := len(canary.Requests()) - before; n != 0 {
		t.Errorf("the API saw %d requests the broker or the client should have refused", n)
	}
}
