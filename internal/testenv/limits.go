package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/server"
)

// StartLimitedBroker runs bots alpha (with extraAlpha in its entry) and bravo, each with the
// auto-approving sandbox as provider "sandbox", under the given rate limits.
func StartLimitedBroker(t testing.TB, limits server.Limits, extraAlpha string) *Broker {
	t.Helper()
	b, _ := StartLimitedBrokerWith(t, limits, extraAlpha, nil)
	return b
}

// StartLimitedBrokerWith is StartLimitedBroker on the Clock now (nil: time.Now); it returns
// the sandbox too, which counts the requests it gets.
func StartLimitedBrokerWith(t testing.TB, limits server.Limits, extraAlpha string, now func() time.Time) (*Broker, *CountedSandbox) {
	t.Helper()
	sb := NewCountedSandbox(t)
	if !strings.Contains(extraAlpha, "confirm:") {
		extraAlpha = "    confirm: none\n" + extraAlpha
	}
	b := StartBrokerWith(t, fmt.Sprintf(`  alpha:
    api_keys: [%q]
%s    providers:
      sandbox: {type: sandbox, key: client-a, secret: secret-a-0123456789}
  bravo:
    api_keys: [%q]
    confirm: none
    providers:
      sandbox: {type: sandbox, key: client-b, secret: secret-b-0123456789}
`, KeyA, extraAlpha, KeyB), app.Options{SandboxURL: sb.URL, Limits: &limits, Now: now})
	for _, c := range []struct{ id, secret, bot string }{{"client-a", "secret-a-0123456789", "alpha"}, {"client-b", "secret-b-0123456789", "bravo"}} {
		if err := sb.AddClient(sandbox.Client{ID: c.id, Secret: c.secret, RedirectURIs: []string{b.URL + "/bots/" + c.bot + "/sandbox/callback"}}); err != nil {
			t.Fatal(err)
		}
	}
	return b, sb
}

// FromAddress is a client whose connections come from the given loopback address (Linux
// routes all of 127.0.0.0/8 to the loopback interface).
func FromAddress(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// GetWithXFF GETs u with c, with X-Forwarded-For set when xff is not empty.
func GetWithXFF(t testing.TB, c *http.Client, u, xff string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// CountedSandbox is the auto-approving sandbox behind a counter of every request it gets.
type CountedSandbox struct {
	*sandbox.Server
	URL      string
	Requests atomic.Int64 // every request it got
}

func NewCountedSandbox(t testing.TB) *CountedSandbox {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{
		Users:       []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}},
		AutoApprove: "1001",
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &CountedSandbox{Server: sb}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}
