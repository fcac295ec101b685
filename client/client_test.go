package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/client"
	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
	"github.com/oauthbroker/oauthbroker/internal/webhook"
)

// The Go client (package client) against the real broker: every method, every error it turns
// into *client.Error, and webhook verification of real deliveries. Its HTTP goes through the
// contract transport (testenv.ContractClient), so each of its requests the broker accepts must
// match the document too.

// clientBroker runs bot alpha (providers sandbox and gl, a webhook to a receiver of the
// test's own) and bot bravo (confirm: code), and returns a client for each.
type clientBroker struct {
	*testenv.Broker
	fake         *testenv.TokenFake
	clock        *testenv.Clock
	alpha, bravo *client.Client
	hooks        *hookInbox
}

const clientHookSecret = "hook-secret-for-alpha-0123456789"

func startClientBroker(t *testing.T) *clientBroker {
	t.Helper()
	clk := testenv.NewClock()
	f := testenv.NewTokenFake(t, false)
	inbox := newHookInbox(t, clientHookSecret)
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{
			testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Webhook(inbox.URL, clientHookSecret).
				Provider("sandbox", "sandbox", "client-a", "secret-a-0123456789").Gitlab(f.URL),
			testenv.Bot("bravo").Key(testenv.KeyB).Confirm("code").
				Provider("sandbox", "sandbox", "client-b", "secret-b-0123456789"),
		},
		App: app.Options{SandboxURL: f.URL, Now: clk.Now, RefreshWait: 300 * time.Millisecond, Webhooks: testenv.FastWebhooks},
	})
	b.RunBackground()
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	testenv.AddSandboxClients(t, f, b.URL)
	hc, _ := testenv.ContractClient(t)
	newClient := func(bot, key string) *client.Client {
		c, err := client.New(b.URL, bot, key, client.WithHTTPClient(hc), client.WithUserAgent("client-test/1"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return &clientBroker{Broker: b, fake: f, clock: clk, alpha: newClient("alpha", testenv.KeyA), bravo: newClient("bravo", testenv.KeyB), hooks: inbox}
}

// wantCode fails unless err is a *client.Error with this status and code.
func wantCode(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code || !client.IsCode(err, code) {
		t.Fatalf("error %v, want HTTP %d %s", err, status, code)
	}
	if e.Detail == "" {
		t.Errorf("%s without a detail", code)
	}
	return e
}

func TestClient(t *testing.T) {
	cb := startClientBroker(t)
	ctx := context.Background()

	t.Run("links, identities, credentials", func(t *testing.T) {
		l, err := cb.alpha.CreateLink(ctx, client.LinkRequest{Provider: "sandbox", Channel: "slack", User: "U1", TTL: 90 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Until(l.ExpiresAt); !strings.HasPrefix(l.URL, cb.URL+"/bots/alpha/connect?link=") || d < 80*time.Second || d > 100*time.Second ||
			!slices.Equal(l.Providers, []string{"sandbox"}) {
			t.Errorf("link %+v (expires in %s), want one of 90 s", l, d)
		}
		if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), l.URL); st != http.StatusOK {
			t.Fatalf("%d %s", st, page)
		}
		ids, err := cb.alpha.Identities(ctx, "slack", "U1", "")
		if err != nil || len(ids) != 1 {
			t.Fatalf("identities %+v, %v", ids, err)
		}
		id := ids[0]
		if id.Provider != "sandbox" || id.ProviderUserID != "1001" || id.NickName != "ada" || id.Status != client.StatusActive || id.ExpiresAt == nil || id.LinkedAt.IsZero() {
			t.Errorf("identity %+v", id)
		}
		c, err := cb.alpha.Credentials(ctx, id.ID)
		if err != nil || c.AccessToken != cb.fake.LastGrant(t).AccessToken || c.TokenType != "bearer" || c.ExpiresAt == nil {
			t.Errorf("credentials %+v, %v", c, err)
		}
		if ids, err := cb.alpha.Identities(ctx, "slack", "U1", "gl"); err != nil || len(ids) != 0 {
			t.Errorf("identities of gl: %+v, %v", ids, err)
		}
		ev := cb.hooks.wait(t, func(e client.Event) bool { return e.Type == client.EventLinked && e.Identity.ID == id.ID })
		if ev.Bot != "alpha" || ev.Identity.Channel != "slack" || ev.Identity.User != "U1" || ev.Identity.Provider != "sandbox" || ev.Attempt < 1 || ev.Link != nil {
			t.Errorf("identity.linked event %+v", ev)
		}
		done := cb.hooks.wait(t, func(e client.Event) bool { return e.Type == client.EventLinkCompleted && e.Link.User == "U1" })
		if l := done.Link; l.Channel != "slack" || len(l.Identities) != 1 || l.Identities[0].ID != id.ID || l.Identities[0].Provider != "sandbox" ||
			l.Identities[0].Status != client.StatusActive || done.Identity != (client.EventIdentity{}) {
			t.Errorf("link.completed event %+v", done)
		}

		if err := cb.alpha.Unlink(ctx, id.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, cb.alpha.Unlink(ctx, id.ID), 404, client.CodeNotFound)
		_, err = cb.alpha.Credentials(ctx, id.ID)
		wantCode(t, err, 404, client.CodeNotFound)
		cb.hooks.wait(t, func(e client.Event) bool { return e.Type == client.EventUnlinked && e.Identity.ID == id.ID })
	})

	t.Run("require: one link for what is missing, then every credential", func(t *testing.T) {
		req := client.RequireRequest{Channel: "slack", User: "U2", UserLabel: "Ursula (@u2)",
			Providers: []client.Requirement{{Provider: "sandbox"}, {Provider: "gl", Scopes: []string{"read_user"}}}}
		r, err := cb.alpha.Require(ctx, req)
		if err != nil || r.Ready || len(r.Missing) != 2 || r.Missing[0].Reason != client.ReasonNotLinked || r.Missing[1].Provider != "gl" ||
			len(r.Credentials) != 0 || r.ConnectURL == "" || r.ConnectExpiresAt == nil {
			t.Fatalf("nothing linked: %+v, %v", r, err)
		}
		st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), r.ConnectURL)
		if st != http.StatusOK || !testenv.IsComplete(page) || !strings.Contains(page, "Ursula (@u2)") {
			t.Fatalf("connect_url: %d %s", st, page)
		}
		done := cb.hooks.wait(t, func(e client.Event) bool { return e.Type == client.EventLinkCompleted && e.Link.User == "U2" })
		if ids := done.Link.Identities; len(ids) != 2 || ids[0].Provider != "sandbox" || ids[1].Provider != "gl" {
			t.Errorf("link.completed %+v", done.Link)
		}
		r, err = cb.alpha.Require(ctx, req)
		if err != nil || !r.Ready || len(r.Missing) != 0 || r.ConnectURL != "" || r.Credentials["sandbox"].AccessToken == "" || r.Credentials["gl"].AccessToken == "" {
			t.Fatalf("all linked: %+v, %v", r, err)
		}
		r, err = cb.alpha.Require(ctx, client.RequireRequest{Channel: "slack", User: "U2", Providers: []client.Requirement{{Provider: "gl", Scopes: []string{"api"}}}})
		if err != nil || r.Ready || len(r.Missing) != 1 || r.Missing[0].Reason != client.ReasonMissingScopes {
			t.Fatalf("a scope not granted: %+v, %v", r, err)
		}
	})

	t.Run("the provider refuses the refresh: relink_required", func(t *testing.T) {
		cb.fake.FirstTTL.Store(30)
		defer cb.fake.FirstTTL.Store(0)
		id := cb.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U3")
		cb.fake.RefreshMode.Store(testenv.RefreshInvalidGrant)
		defer cb.fake.RefreshMode.Store(testenv.RefreshOK)
		_, err := cb.alpha.Credentials(ctx, id.ID)
		wantCode(t, err, 409, client.CodeRelinkRequired)
		r, err := cb.alpha.Require(ctx, client.RequireRequest{Channel: "slack", User: "U3", Providers: []client.Requirement{{Provider: "gl"}}})
		if err != nil || r.Ready || len(r.Missing) != 1 || r.Missing[0].Reason != client.ReasonRelinkRequired {
			t.Fatalf("require after invalid_grant: %+v, %v", r, err)
		}
		ev := cb.hooks.wait(t, func(e client.Event) bool { return e.Type == client.EventRelinkRequired && e.Identity.ID == id.ID })
		if ev.Reason != "invalid_grant" || ev.Identity.Status != client.StatusRelinkRequired {
			t.Errorf("relink_required event %+v", ev)
		}
	})

	t.Run("the provider is down and the token expired: RetryAfter", func(t *testing.T) {
		cb.fake.FirstTTL.Store(30)
		defer cb.fake.FirstTTL.Store(0)
		id := cb.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U4")
		cb.fake.RefreshMode.Store(testenv.RefreshServerError)
		defer cb.fake.RefreshMode.Store(testenv.RefreshOK)
		cb.clock.Advance(31 * time.Second)
		_, err := cb.alpha.Credentials(ctx, id.ID)
		if e := wantCode(t, err, 503, client.CodeRefreshUnavailable); e.RetryAfter < time.Second {
			t.Errorf("RetryAfter %s", e.RetryAfter)
		}
	})

	t.Run("confirm: code", func(t *testing.T) {
		_, page := testenv.ConnectAll(t, testenv.NewBrowser(t), mustLink(t, cb.bravo, "sandbox", "slack", "U5"))
		m := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no code on the page:\n%s", page)
		}
		ids, err := cb.bravo.Identities(ctx, "slack", "U5", "sandbox")
		if err != nil || len(ids) != 1 || ids[0].Status != client.StatusPending {
			t.Fatalf("before confirming: %+v %v", ids, err)
		}
		_, err = cb.bravo.Credentials(ctx, ids[0].ID)
		wantCode(t, err, 409, client.CodeIdentityPending)
		wrong := "000000"
		if m[1] == wrong {
			wrong = "111111"
		}
		_, err = cb.bravo.Confirm(ctx, "slack", "U5", wrong)
		wantCode(t, err, 422, client.CodeWrongCode)
		confirmed, err := cb.bravo.Confirm(ctx, "slack", "U5", m[1])
		if err != nil || len(confirmed) != 1 || confirmed[0].Status != client.StatusActive || confirmed[0].ID != ids[0].ID {
			t.Fatalf("confirm: %+v %v", confirmed, err)
		}
		_, err = cb.bravo.Confirm(ctx, "slack", "U5", m[1])
		wantCode(t, err, 422, client.CodeNoPendingConfirmation)
		_, err = cb.alpha.Confirm(ctx, "slack", "U5", m[1])
		wantCode(t, err, 400, client.CodeConfirmNotEnabled)
	})

	t.Run("errors", func(t *testing.T) {
		_, err := cb.alpha.CreateLink(ctx, client.LinkRequest{Provider: "nosuch", Channel: "slack", User: "U1"})
		wantCode(t, err, 404, client.CodeUnknownProvider)
		_, err = cb.alpha.CreateLink(ctx, client.LinkRequest{Provider: "sandbox", Channel: "slack", User: "U1", RedirectURL: "https://evil.example/"})
		wantCode(t, err, 400, client.CodeRedirectNotAllowed)
		_, err = cb.alpha.Identities(ctx, "a/b", "U1", "")
		wantCode(t, err, 400, client.CodeInvalidRequest)
		_, err = cb.alpha.Require(ctx, client.RequireRequest{Channel: "slack", User: "U1"})
		wantCode(t, err, 400, client.CodeInvalidRequest)

		wrongKey, _ := client.New(cb.URL, "alpha", testenv.KeyB)
		_, err = wrongKey.Identities(ctx, "slack", "U1", "")
		wantCode(t, err, 401, client.CodeUnauthorized)
		noBot, _ := client.New(cb.URL, "nosuch", testenv.KeyA)
		_, err = noBot.Identities(ctx, "slack", "U1", "")
		wantCode(t, err, 401, client.CodeUnauthorized) // as if the key were wrong: bot names cannot be probed
		// A bot name that is not a path segment stays one: escaped, not a route of its own.
		odd, _ := client.New(cb.URL, "../../openapi.yaml?", testenv.KeyA)
		_, err = odd.Identities(ctx, "slack", "U1", "")
		if !client.IsCode(err, client.CodeRouteNotFound) && !client.IsCode(err, client.CodeUnauthorized) {
			t.Errorf("odd bot name: %v", err)
		}

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := cb.alpha.Identities(cancelled, "slack", "U1", ""); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled context: %v", err)
		}

		for _, u := range []string{"", "ftp://x", "http://", "http://h/?q=1", "no scheme"} {
			if _, err := client.New(u, "alpha", testenv.KeyA); err == nil {
				t.Errorf("New(%q) accepted", u)
			}
		}
		if _, err := client.New(cb.URL, "alpha", ""); err == nil {
			t.Error("New without a key accepted")
		}
	})

	t.Run("an answer that is not problem+json", func(t *testing.T) {
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		}))
		defer gw.Close()
		c, _ := client.New(gw.URL+"/prefix/", "alpha", testenv.KeyA)
		_, err := c.Credentials(ctx, 1)
		var e *client.Error
		if !errors.As(err, &e) || e.Status != 502 || e.Code != "" || e.RetryAfter != 7*time.Second || !strings.Contains(e.Error(), "502") {
			t.Errorf("got %#v", err)
		}
	})

	t.Run("OpenAPI", func(t *testing.T) {
		doc, err := cb.alpha.OpenAPI(ctx)
		if err != nil || !bytes.Equal(doc, httpapi.OpenAPI()) {
			t.Errorf("OpenAPI: %d bytes, %v", len(doc), err)
		}
	})
}

// TestClientErrorCodesAreTheDocumented: the client names every code the document lists.
func TestClientErrorCodesAreTheDocumented(t *testing.T) {
	c, err := testenv.NewContract(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, e := range c.Doc.Components.Schemas["Problem"].Value.Properties["code"].Value.Enum {
		documented = append(documented, fmt.Sprint(e))
	}
	named := []string{client.CodeInvalidRequest, client.CodeRedirectNotAllowed, client.CodeConfirmNotEnabled,
		client.CodeUnauthorized, client.CodeUnknownProvider, client.CodeNotFound,
		client.CodeRouteNotFound, client.CodeMethodNotAllowed, client.CodeRelinkRequired, client.CodeIdentityPending,
		client.CodeWrongCode, client.CodeNoPendingConfirmation, client.CodeTokenUnreadable, client.CodeInternal,
		client.CodeRefreshUnavailable, client.CodeRateLimited,
		client.CodeProxyPathNotAllowed, client.CodePayloadTooLarge, client.CodeProxyNotConfigured, // the proxy's: client/proxy.go
		client.CodeProviderError, client.CodeResponseTooLarge, client.CodeProviderTimeout}
	slices.Sort(documented)
	slices.Sort(named)
	if !slices.Equal(documented, named) {
		t.Errorf("codes in the document: %v\ncodes the client names: %v", documented, named)
	}
}

// TestVerifyWebhook: the client accepts what the broker signs, and nothing else.
func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"identity.linked"}`)
	sig := webhook.Sign(body, "s3cret")
	if err := client.VerifyWebhook("s3cret", sig, body); err != nil {
		t.Fatalf("the broker's own signature: %v", err)
	}
	for name, c := range map[string]struct {
		secret, sig string
		body        []byte
	}{
		"other secret":      {"other", sig, body},
		"changed body":      {"s3cret", sig, append(bytes.Clone(body), ' ')},
		"no prefix":         {"s3cret", strings.TrimPrefix(sig, "sha256="), body},
		"uppercase scheme":  {"s3cret", "SHA256=" + strings.TrimPrefix(sig, "sha256="), body},
		"not hex":           {"s3cret", "sha256=zz", body},
		"truncated":         {"s3cret", sig[:len(sig)-2], body},
		"empty":             {"s3cret", "", body},
		"empty secret":      {"", webhook.Sign(body, ""), body},
		"sha1 of same body": {"s3cret", "sha1=" + strings.TrimPrefix(sig, "sha256="), body},
	} {
		if err := client.VerifyWebhook(c.secret, c.sig, c.body); !errors.Is(err, client.ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}

	old := []byte(fmt.Sprintf(`{"id":"evt_2","type":"identity.linked","sent_at":%d}`, time.Now().Add(-time.Hour).Unix()))
	req := httptest.NewRequest("POST", "/hook", bytes.NewReader(old))
	req.Header.Set(client.HeaderSignature, webhook.Sign(old, "s3cret"))
	if _, err := client.ReadWebhook("s3cret", req); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Errorf("an hour-old delivery: %v", err)
	}
}

// hookInbox is a bot's webhook endpoint written with the client: it keeps every event that
// verifies, and answers 401 to anything else. Every delivery must match the document's
// identityEvent webhook.
type hookInbox struct {
	URL    string
	mu     sync.Mutex
	events []client.Event
	bad    int
}

func newHookInbox(t *testing.T, secret string) *hookInbox {
	t.Helper()
	c, err := testenv.NewContract(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	in := &hookInbox{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if err := c.CheckEvent(r.Header, raw); err != nil {
			t.Errorf("webhook delivery %s: %v", raw, err)
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		ev, err := client.ReadWebhook(secret, r)
		in.mu.Lock()
		defer in.mu.Unlock()
		if err != nil {
			in.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.Header.Get(client.HeaderEventID) != ev.ID || r.Header.Get(client.HeaderEvent) != ev.Type || r.Header.Get(client.HeaderTimestamp) != fmt.Sprint(ev.SentAt) {
			in.bad++
			http.Error(w, "headers do not match the body", http.StatusBadRequest)
			return
		}
		in.events = append(in.events, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	in.URL = srv.URL + "/hooks/oauthbroker"
	return in
}

// wait returns the first event that matches, waiting up to five seconds for it.
func (in *hookInbox) wait(t *testing.T, match func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		in.mu.Lock()
		for _, e := range in.events {
			if match(e) {
				in.mu.Unlock()
				return e
			}
		}
		bad, n := in.bad, len(in.events)
		in.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no matching event within 5 s (%d events, %d refused)", n, bad)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustLink(t *testing.T, c *client.Client, provider, channel, user string) string {
	t.Helper()
	l, err := c.CreateLink(context.Background(), client.LinkRequest{Provider: provider, Channel: channel, User: user})
	if err != nil {
		t.Fatal(err)
	}
	return l.URL
}
