package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// limitedAPI answers the limits tests by path, under the base path /api.
func limitedAPI(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/big-known": // says how long it is: over the cap
		w.Header().Set("Content-Length", "5000")
		w.Write(bytes.Repeat([]byte("x"), 5000))
	case "/api/big-stream": // chunked, in two pieces: the second one takes it past the cap
		for range 2 {
			w.Write(bytes.Repeat([]byte("y"), 3000))
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	case "/api/exact": // chunked, exactly the cap
		for range 4 {
			w.Write(bytes.Repeat([]byte("y"), 1024))
			w.(http.Flusher).Flush()
		}
	case "/api/busy":
		w.Header().Set("Retry-After", "17")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"message":"slow down"}`)
	case "/api/slow":
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
		fmt.Fprint(w, "late")
	default:
		fmt.Fprint(w, `{"ok":true}`)
	}
}

// unsized hides a body's length, so the client sends it chunked.
type unsized struct{ io.Reader }

// TestProxyLimits: body caps both ways, the timeout, and a provider's 429 passed through;
// every call sent is counted in the identity's usage, the metrics and the admin page.
func TestProxyLimits(t *testing.T) {
	api := testenv.NewUpstream(t, limitedAPI)
	b, id := testenv.CanaryBroker(t, api, "  outbound_timeout: 1s\n  proxy:\n    max_request_body: 4KiB\n    max_response_body: 4KiB\n")
	at := func(p string) string { return testenv.ProxyPath("alpha", id, p) }
	big := bytes.Repeat([]byte("z"), 5000)
	jsonType := http.Header{"Content-Type": {"application/json"}}

	t.Run("a body over the cap is refused and not sent", func(t *testing.T) {
		for name, body := range map[string]io.Reader{"sized": bytes.NewReader(big), "chunked": unsized{bytes.NewReader(big)}} {
			r := b.Call("POST", at("echo"), testenv.KeyA, jsonType, body)
			if r.Status != http.StatusRequestEntityTooLarge || r.Problem.Code != "payload_too_large" {
				t.Errorf("%s: %d %s, want 413 payload_too_large", name, r.Status, r.Body)
			}
		}
		if n := len(api.Requests()); n != 0 {
			t.Errorf("the API saw %d requests", n)
		}
	})
	t.Run("an answer that says it is over the cap", func(t *testing.T) {
		r := b.Call("GET", at("big-known"), testenv.KeyA, nil, nil)
		if r.Status != http.StatusBadGateway || r.Problem.Code != "response_too_large" || r.Header.Get("X-OAuthBroker-Identity") != "" {
			t.Errorf("%d %s, want the broker's 502 response_too_large", r.Status, r.Body)
		}
	})
	t.Run("an answer that grows past the cap is cut off", func(t *testing.T) {
		// Not through the validating client: it would report the cut as its own error.
		req, _ := http.NewRequest("GET", b.URL+"/api/v1"+at("big-stream"), nil)
		req.Header.Set("Authorization", "Bearer "+testenv.KeyA)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err == nil || len(got) != 3000 {
			t.Errorf("%d, %d bytes, read error %v; want the first 3000 bytes, then the connection cut, never an answer ended as if whole", resp.StatusCode, len(got), err)
		}
		r := b.Call("GET", at("exact"), testenv.KeyA, nil, nil)
		if r.Status != http.StatusOK || len(r.Body) != 4096 || r.Err != nil {
			t.Errorf("an answer of exactly the cap: %d, %d bytes, %v", r.Status, len(r.Body), r.Err)
		}
	})
	t.Run("a provider's 429 goes back untouched", func(t *testing.T) {
		r := b.Call("GET", at("busy"), testenv.KeyA, nil, nil)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "17" || r.Header.Get("X-OAuthBroker-Identity") == "" ||
			string(r.Body) != `{"message":"slow down"}` {
			t.Errorf("%d Retry-After %q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	})
	t.Run("a provider slower than the timeout", func(t *testing.T) {
		start := time.Now()
		r := b.Call("GET", at("slow"), testenv.KeyA, nil, nil)
		if r.Status != http.StatusGatewayTimeout || r.Problem.Code != "provider_timeout" || time.Since(start) > 2500*time.Millisecond {
			t.Errorf("%d %s after %s, want 504 provider_timeout after about 1s", r.Status, r.Body, time.Since(start))
		}
	})

	t.Run("usage", func(t *testing.T) {
		u, err := b.App.Store.ProxyUsage(t.Context(), "alpha", id)
		// Sent: big-known, big-stream, exact, busy, slow. The refused bodies were never sent.
		if err != nil || u.Calls != 5 || u.LastStatus != http.StatusGatewayTimeout {
			t.Errorf("usage %+v (%v), want 5 calls, the last answered 504", u, err)
		}
		resp, err := http.Get(b.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`oauthbroker_proxy_calls_total{bot="alpha",provider="github",status_class="2xx"} 2`,
			`oauthbroker_proxy_calls_total{bot="alpha",provider="github",status_class="4xx"} 1`,
			`oauthbroker_proxy_calls_total{bot="alpha",provider="github",status_class="5xx"} 2`,
		} {
			if !strings.Contains(string(metrics), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		admin := testenv.NewAdminBrowser(t, b.URL)
		admin.MustLogin()
		page := admin.Get(fmt.Sprintf("/admin/bots/alpha/identities/%d", id))
		if page.Status != http.StatusOK || !strings.Contains(page.Body, "5 calls; the last") || !strings.Contains(page.Body, "answered 504") {
			t.Errorf("the identity page does not show the usage: %d\n%s", page.Status, page.Body)
		}
	})
}

// TestProxyRateLimit: past server.proxy.rate_limit a bot's calls are refused with 429 and
// Retry-After before anything is sent, while another bot keeps its own allowance.
func TestProxyRateLimit(t *testing.T) {
	api := testenv.NewUpstream(t, limitedAPI)
	b, id := testenv.CanaryBroker(t, api, "  proxy: {rate_limit: 3}\n")
	for i := range 4 {
		r := b.Call("GET", testenv.ProxyPath("alpha", id, "ok"), testenv.KeyA, nil, nil)
		switch {
		case i < 3 && r.Status != http.StatusOK:
			t.Errorf("call %d: %d %s", i, r.Status, r.Body)
		case i == 3 && (r.Status != http.StatusTooManyRequests || r.Problem.Code != "rate_limited" || r.Header.Get("Retry-After") == ""):
			t.Errorf("call %d: %d %s Retry-After %q, want 429 rate_limited", i, r.Status, r.Body, r.Header.Get("Retry-After"))
		}
	}
	if n := len(api.Requests()); n != 3 {
		t.Errorf("the API saw %d requests, want 3", n)
	}
	if r := b.Call("GET", testenv.ProxyPath("bravo", 999, "ok"), testenv.KeyB, nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("bravo: %d %s, want its own allowance (and 404 for an identity it does not have)", r.Status, r.Body)
	}
}
