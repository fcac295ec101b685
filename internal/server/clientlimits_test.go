package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/admin"
	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestAdminLoginBehindATrustedProxy: behind a reverse proxy every login comes from the proxy's
// address, so the limit counts the client the proxy forwarded. An attacker's wrong passwords
// lock out the attacker only: the operator behind the same proxy logs in every time, and a
// correct password never spends anything.
func TestAdminLoginBehindATrustedProxy(t *testing.T) {
	sb, sbURL := testenv.InteractiveSandbox(t)
	limits := server.DefaultLimits()
	limits.TrustedProxies = []string{"127.0.0.1/32"}
	b := testenv.StartAdminBroker(t, sb, sbURL, "", app.Options{Getenv: testenv.AdminEnv(testenv.AdminPassword), Limits: &limits})
	attacker, operator := testenv.NewAdminBrowser(t, b.URL), testenv.NewAdminBrowser(t, b.URL)
	attacker.XFF, operator.XFF = "203.0.113.66", "198.51.100.10"

	// The operator logs in more often than the failure budget: successes cost nothing.
	for range admin.LoginBurst + 2 {
		operator.MustLogin()
	}
	for i := range admin.LoginBurst {
		if p := attacker.Login(fmt.Sprintf("guess-%d", i)); p.Status != http.StatusUnauthorized {
			t.Fatalf("attacker's guess %d: %d, want 401", i+1, p.Status)
		}
	}
	for i := range 3 {
		if p := attacker.Login("guess-more"); p.Status != http.StatusTooManyRequests {
			t.Fatalf("attacker past the limit (%d): %d, want 429", i+1, p.Status)
		}
		// Interleaved with the attacker's refused guesses, the operator is never refused.
		operator.MustLogin()
	}
	// The attacker cannot get around the limit by writing its own X-Forwarded-For: the proxy
	// appends the address it saw, and that right-most one is the client.
	attacker.XFF = "198.51.100.10, 203.0.113.66"
	if p := attacker.Login(testenv.AdminPassword); p.Status != http.StatusTooManyRequests {
		t.Errorf("attacker with a forged hop: %d, want 429", p.Status)
	}
}

// TestFlowLimitCountsRefusalsOnly: many people behind one address (an office NAT) sign in
// through the connect page without holding each other up, however many they are; someone at
// that address making requests that are not a real user's next step — links that are not
// valid, spent or cancelled, the page's form posted from another site or without the page's
// cookie, callbacks without a flow or with a wrong state — is refused after the allowance,
// with the default limit, while viewing the page of a valid link never counts.
func TestFlowLimitCountsRefusalsOnly(t *testing.T) {
	limits := server.DefaultLimits()
	clk := testenv.NewClock() // the allowance refills only when the test says so, however slow the machine
	b, sb := testenv.StartLimitedBrokerWith(t, limits, "", clk.Now)
	const (
		signIns = 300
		// The connect page, its button (a POST), the callback, and the page it returns to.
		requestsPerSignIn = 4
	)
	if signIns*requestsPerSignIn <= limits.FlowPerClient {
		t.Fatalf("%d sign-ins make %d flow requests, within the limit of %d: the test would prove nothing",
			signIns, signIns*requestsPerSignIn, limits.FlowPerClient)
	}
	links := make([]string, signIns)
	for i := range links {
		links[i] = b.Link("alpha", testenv.KeyA, "sandbox", "c", fmt.Sprintf("user-%d", i))
		if i%2 == 1 { // half of them through the older address of a link, which opens the same page
			links[i] = strings.Replace(links[i], "/connect?", "/sandbox/auth?", 1)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, signIns)
	for w := range 4 { // four at a time, from the one loopback address
		wg.Go(func() {
			for i := w; i < signIns; i += 4 {
				if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), links[i]); st != http.StatusOK || !testenv.IsComplete(page) {
					errs <- fmt.Sprintf("sign-in %d: %d", i, st)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := b.Count("identities"); n != signIns {
		t.Fatalf("%d identities after %d sign-ins", n, signIns)
	}
	flowRequests := 0.0
	for _, route := range []string{"/bots/{bot}/connect", "/bots/{bot}/{provider}/auth", "/bots/{bot}/{provider}/callback"} {
		flowRequests += testenv.MetricValue(t, b, "oauthbroker_http_request_duration_seconds", map[string]string{"route": route})
	}
	if flowRequests != signIns*requestsPerSignIn {
		t.Errorf("%v flow requests for %d sign-ins, want %d each", flowRequests, signIns, requestsPerSignIn)
	}
	if n := testenv.MetricValue(t, b, "oauthbroker_rate_limited_total", map[string]string{"limit": "flow"}); n != 0 {
		t.Errorf("successful sign-ins were rate-limited %v times", n)
	}

	// What the refusals use: a valid link whose page a victim's browser loaded, a link
	// cancelled on its page, a spent one, and a sign-in waiting for its callback.
	victim := testenv.NewBrowser(t)
	valid := b.Link("alpha", testenv.KeyA, "sandbox", "c", "victim")
	_, page := testenv.Visit(t, victim, valid)
	form := testenv.FormFor(t, page, "sandbox")
	canceller := testenv.NewBrowser(t)
	cancelled := b.Link("alpha", testenv.KeyA, "sandbox", "c", "not-me")
	_, page = testenv.Visit(t, canceller, cancelled)
	if st, page := testenv.Click(t, canceller, page, ""); st != http.StatusOK || !strings.Contains(page, `data-connect="cancelled"`) {
		t.Fatalf("cancelling a link: %d\n%s", st, page)
	}
	midFlow := testenv.NewBrowser(t)
	callback, err := url.Parse(testenv.StopAtCallback(t, midFlow, b.Link("alpha", testenv.KeyA, "sandbox", "c", "mid-flow")))
	if err != nil {
		t.Fatal(err)
	}
	q := callback.Query()
	q.Set("state", "forged")
	callback.RawQuery = q.Encode()
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": b.URL}
	bogus := 0
	refusals := []struct {
		status int
		send   func() (int, string)
	}{
		{http.StatusNotFound, func() (int, string) { // a guessed link
			bogus++
			return testenv.Visit(t, testenv.NewBrowser(t), fmt.Sprintf("%s/bots/alpha/connect?link=bogus-%d", b.URL, bogus))
		}},
		{http.StatusGone, func() (int, string) { return testenv.Visit(t, testenv.NewBrowser(t), links[0]) }},  // spent
		{http.StatusGone, func() (int, string) { return testenv.Visit(t, testenv.NewBrowser(t), cancelled) }}, // cancelled
		{http.StatusForbidden, func() (int, string) { // the victim's page's form, posted from another site
			return post(t, victim, form.Action, form.Fields, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
		}},
		{http.StatusForbidden, func() (int, string) { return post(t, testenv.NewBrowser(t), form.Action, form.Fields, sameOrigin) }}, // no page cookie
		{http.StatusBadRequest, func() (int, string) { // a callback without a flow
			return testenv.Visit(t, testenv.NewBrowser(t), b.URL+"/bots/alpha/sandbox/callback?code=x&state=y")
		}},
		{http.StatusBadRequest, func() (int, string) { return testenv.Visit(t, midFlow, callback.String()) }}, // a wrong state
	}

	// 200 refused requests from the same address, every kind in turn: the first FlowPerClient
	// get their own answer, the rest 429. Views of the valid link's page in between are
	// answered and do not count. Nothing reaches the store or the provider either way.
	before, calls := b.Snapshot(), sb.Requests.Load()
	for i := range 200 {
		r := refusals[i%len(refusals)]
		want := r.status
		if i >= limits.FlowPerClient {
			want = http.StatusTooManyRequests
		}
		if st, page := r.send(); st != want {
			t.Fatalf("refused request %d: %d, want %d\n%s", i+1, st, want, page)
		}
		if i%4 == 0 && i < limits.FlowPerClient {
			if st, page := testenv.Visit(t, victim, valid); st != http.StatusOK || testenv.ProviderState(page, "sandbox") != "not_linked" {
				t.Fatalf("the valid link's page after %d refused requests: %d", i+1, st)
			}
		}
	}
	if b.Snapshot() != before {
		t.Error("refused requests changed the store")
	}
	if n := sb.Requests.Load() - calls; n != 0 {
		t.Errorf("refused requests reached the provider %d times", n)
	}
	if n := testenv.MetricValue(t, b, "oauthbroker_rate_limited_total", map[string]string{"limit": "flow"}); n != 200-float64(limits.FlowPerClient) {
		t.Errorf("oauthbroker_rate_limited_total{limit=flow} = %v, want %d", n, 200-limits.FlowPerClient)
	}

	// Now even a valid link from that address waits; another address is not affected.
	link := b.Link("alpha", testenv.KeyA, "sandbox", "c", "late")
	if st, _ := testenv.Visit(t, testenv.NewBrowser(t), link); st != http.StatusTooManyRequests {
		t.Errorf("a valid link from the limited address: %d, want 429", st)
	}
	other := testenv.FromAddress("127.0.0.2")
	other.Jar = testenv.NewBrowser(t).Jar
	other.CheckRedirect = nil
	if st, page := testenv.ConnectAll(t, other, link); st != http.StatusOK || !testenv.IsComplete(page) {
		t.Errorf("the same link from another address: %d, want it linked", st)
	}
	// The allowance refills with time: two refused requests a second at the default.
	clk.Advance(time.Second)
	if st, _ := testenv.Visit(t, testenv.NewBrowser(t), b.URL+"/bots/alpha/connect?link=bogus-again"); st != http.StatusNotFound {
		t.Errorf("a second later, the limited address: %d, want 404 (refilled)", st)
	}
}
