package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// hookSecret is the secret of the webhook the broker delivers to.
const hookSecret = "hook-secret-0123456789"

// TestMetricsShowRealCounts drives flows (one linked, others failing), bot API calls, a token
// refresh, a webhook delivery and a store failure, then reads /metrics and finds each counted
// with bounded labels.
func TestMetricsShowRealCounts(t *testing.T) {
	rc := testenv.NewReceiver(t, hookSecret)
	f := testenv.NewTokenFake(t, false)
	f.FirstTTL.Store(30) // expires within RefreshAhead: the first credentials read refreshes
	b := testenv.StartBrokerWith(t, testenv.GlBot(f.URL, fmt.Sprintf("    webhook_url: %s\n    webhook_secret: %s\n", rc.URL, hookSecret)),
		app.Options{Webhooks: testenv.FastWebhooks})
	b.RunBackground()
	f.Register(t, b.URL+"/bots/alpha/gl/callback")

	// One linked account; then a credentials read refreshes its token.
	id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")
	if c := b.Credentials("alpha", testenv.KeyA, id.ID); c.AccessToken != f.LastGrant(t).AccessToken || f.RefreshCalls.Load() != 1 {
		t.Fatalf("credentials %+v after %d refreshes", c, f.RefreshCalls.Load())
	}
	rc.WaitDeliveries(t, 2, 5*time.Second) // identity.linked, link.completed
	// Failed flows: a tampered state, an unknown link, a made-up bot and provider.
	browser := testenv.NewBrowser(t)
	cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "gl", "slack", "U2"))
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("state", "forged")
	u.RawQuery = q.Encode()
	testenv.Visit(t, browser, u.String())
	testenv.Visit(t, testenv.NewBrowser(t), b.URL+"/bots/alpha/gl/auth?link=nope")
	testenv.Visit(t, testenv.NewBrowser(t), b.URL+"/bots/made-up-bot/gl/auth?link=nope")
	testenv.Visit(t, testenv.NewBrowser(t), b.URL+"/bots/alpha/made-up-provider/auth?link=nope")
	b.API("POST", "/bots/alpha/links", "wrong-key-0123456789abcdef", map[string]any{"provider": "gl", "channel": "c", "user": "u"}, nil)
	b.API("GET", "/bots/alpha/no-such-route", testenv.KeyA, nil, nil)
	req, _ := http.NewRequest("FROBNICATE", b.URL+"/api/v1/bots/alpha/links", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}

	fams := testenv.Scrape(t, b)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"oauthbroker_flows_started_total", map[string]string{"bot": "alpha", "provider": "gl"}, 2},
		{"oauthbroker_flows_completed_total", map[string]string{"bot": "alpha", "provider": "gl"}, 1},
		{"oauthbroker_flows_failed_total", map[string]string{"bot": "alpha", "provider": "gl", "reason": "flow_invalid"}, 1},
		{"oauthbroker_flows_failed_total", map[string]string{"bot": "alpha", "provider": "gl", "reason": "link_not_found"}, 1},
		{"oauthbroker_flows_failed_total", map[string]string{"bot": "(unknown)", "provider": "(unknown)", "reason": "unknown_bot"}, 1},
		{"oauthbroker_flows_failed_total", map[string]string{"bot": "alpha", "provider": "(unknown)", "reason": "unknown_provider"}, 1},
		{"oauthbroker_http_request_duration_seconds", map[string]string{"route": "/api/v1/bots/{bot}/links", "method": "POST", "status": "201"}, 2},
		// Refused by the key check: recorded under its route. A path that is no route of the
		// API: under the pattern matched so far.
		{"oauthbroker_http_request_duration_seconds", map[string]string{"route": "/api/v1/bots/{bot}/links", "method": "POST", "status": "401"}, 1},
		{"oauthbroker_http_request_duration_seconds", map[string]string{"route": "/api/v1/*", "method": "GET", "status": "404"}, 1},
		{"oauthbroker_http_request_duration_seconds", map[string]string{"route": "/api/v1/bots/{bot}/identities/{id}/credentials", "method": "GET", "status": "200"}, 1},
		{"oauthbroker_http_request_duration_seconds", map[string]string{"route": "/bots/{bot}/{provider}/callback", "method": "GET"}, 2},
		{"oauthbroker_http_request_duration_seconds", map[string]string{"method": "other"}, 1},
		{"oauthbroker_token_refreshes_total", map[string]string{"bot": "alpha", "outcome": "refreshed"}, 1},
		{"oauthbroker_webhook_deliveries_total", map[string]string{"bot": "alpha", "outcome": "delivered"}, 2},
		{"oauthbroker_store_errors_total", nil, 0},
	} {
		if got := testenv.ValueIn(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if testenv.ValueIn(fams, "go_goroutines", nil) == 0 || fams["process_cpu_seconds_total"] == nil {
		t.Error("the Go runtime and process metrics are missing")
	}
	// No label anywhere holds what a client made up, a chat user id or a token.
	text := metricsText(t, b)
	for _, s := range []string{"made-up", "U1", "FROBNICATE", "sbx_at_", "sbx_rt_", testenv.KeyA, "/bots/alpha/"} {
		if strings.Contains(text, s) {
			t.Errorf("/metrics contains %q", s)
		}
	}

	// A store that fails shows up as store errors, and /readyz says so.
	b.App.Store.Close()
	resp, err := http.Get(b.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed: %d", resp.StatusCode)
	}
	if n := testenv.MetricValue(t, b, "oauthbroker_store_errors_total", map[string]string{"op": "ping"}); n < 1 {
		t.Errorf("oauthbroker_store_errors_total{op=ping} = %v after a failed ping", n)
	}
}

// metricsText is the body of the broker's /metrics.
func metricsText(t *testing.T, b *testenv.Broker) string {
	t.Helper()
	resp, err := http.Get(b.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}
