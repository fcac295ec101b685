package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/client"
	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The Examples run against a real broker (internal/testenv) that TestMain starts: bot
// supportbot with providers uber (the sandbox, whose ride API the proxy calls) and twitter,
// its webhook relayed to BOT_WEBHOOK_ADDR (where ExampleReadWebhook listens), and uber linked
// for slack/U024BE7LH. The Examples read where the broker is, as a bot would, from
// BROKER_URL, BROKER_API_KEY and BROKER_WEBHOOK_SECRET.
func TestMain(m *testing.M) {
	setup := testenv.NewSetup("client examples")
	startExampleBroker(setup)
	code := testenv.Main(m)
	setup.Close()
	if setup.Failed() {
		code = 1
	}
	os.Exit(code)
}

func startExampleBroker(t *testenv.Setup) {
	const key, hookSecret = "key-for-supportbot-0123456789", "hook-secret-for-supportbot-0123"
	sb, err := sandbox.New(sandbox.Options{
		Users:       []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}},
		AutoApprove: "1001",
	})
	if err != nil {
		t.Fatal(err)
	}
	apis := sandbox.NewDemoAPIs(sb)
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v4/") {
			apis.ServeHTTP(w, r)
			return
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(provider.Close)
	r := startRelay(t)
	hooks := httptest.NewServer(r)
	t.Cleanup(hooks.Close)
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{testenv.Bot("supportbot").Key(key).Confirm("none").
			Webhook(hooks.URL+"/hooks/oauthbroker", hookSecret).
			Provider("uber", "sandbox", "uber-client", "uber-secret-0123456789",
				testenv.Scopes(sandbox.ScopeRides), testenv.APIBase(provider.URL+"/api/v4")).
			Provider("twitter", "sandbox", "twitter-client", "twitter-secret-0123456789")},
		App: app.Options{SandboxURL: provider.URL, Webhooks: testenv.FastWebhooks},
	})
	b.RunBackground()
	for _, c := range []string{"uber", "twitter"} {
		if err := sb.AddClient(sandbox.Client{ID: c + "-client", Secret: c + "-secret-0123456789",
			RedirectURIs: []string{b.URL + "/bots/supportbot/" + c + "/callback"}}); err != nil {
			t.Fatal(err)
		}
	}
	b.LinkOne("supportbot", key, "uber", "slack", "U024BE7LH")
	for k, v := range map[string]string{"BROKER_URL": b.URL, "BROKER_API_KEY": key, "BROKER_WEBHOOK_SECRET": hookSecret,
		"BOT_WEBHOOK_ADDR": r.addr} {
		os.Setenv(k, v)
	}
}

// A combined action: one link for everything missing, or every credential at once.
func ExampleClient_Require() {
	ctx := context.Background()
	c, err := client.New(os.Getenv("BROKER_URL"), "supportbot", os.Getenv("BROKER_API_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	req, err := c.Require(ctx, client.RequireRequest{Channel: "slack", User: "U024BE7LH",
		Providers: []client.Requirement{{Provider: "uber"}, {Provider: "twitter"}}})
	if err != nil {
		log.Fatal(err)
	}
	if !req.Ready {
		// One message with one link: its page connects every missing account in one visit.
		// Carry on when the link.completed webhook arrives.
		for _, m := range req.Missing {
			fmt.Printf("missing %s: %s\n", m.Provider, m.Reason)
		}
		fmt.Println("send to the user:", strings.HasPrefix(req.ConnectURL, os.Getenv("BROKER_URL")))
	}
	if req.Ready {
		fmt.Println("uber token:", req.Credentials["uber"].AccessToken != "")
	}
	// Output:
	// missing twitter: not_linked
	// send to the user: true
}

// Acting as the user: the broker calls the provider with the identity's tokens, which the
// bot never holds. The provider's answer comes back whatever its status; an *Error means the
// broker refused the call.
func ExampleClient_Proxy() {
	ctx := context.Background()
	c, err := client.New(os.Getenv("BROKER_URL"), "supportbot", os.Getenv("BROKER_API_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	ids, err := c.Identities(ctx, "slack", "U024BE7LH", "uber")
	if err != nil || len(ids) == 0 {
		log.Fatal("no uber account linked: ", err)
	}
	resp, err := c.Proxy(ctx, ids[0].ID, http.MethodPost, "rides", strings.NewReader(`{"destination":"the station"}`),
		http.Header{"Content-Type": {"application/json"}})
	var e *client.Error
	switch {
	case client.IsCode(err, client.CodeRelinkRequired):
		// send the user a new link (Require makes one)
	case errors.As(err, &e):
		log.Printf("the broker refused: %s (retry after %s)", e.Code, e.RetryAfter)
	case err != nil:
		log.Print(err) // the broker could not be reached
	default:
		defer resp.Body.Close()
		ride, _ := io.ReadAll(resp.Body)
		fmt.Println("uber answered", resp.StatusCode, strings.Contains(string(ride), `"status":"booked"`)) // a 4xx here is Uber's own
	}
	// Output: uber answered 201 true
}

// Error answers carry the stable code, and Retry-After where there is one.
func ExampleError() {
	c, _ := client.New(os.Getenv("BROKER_URL"), "supportbot", os.Getenv("BROKER_API_KEY"))
	_, err := c.Credentials(context.Background(), 42)
	var e *client.Error
	switch {
	case client.IsCode(err, client.CodeRelinkRequired):
		// send the user a new link (Require makes one)
	case errors.As(err, &e) && e.Code == client.CodeRefreshUnavailable:
		time.Sleep(e.RetryAfter)
	case errors.As(err, &e):
		fmt.Println("the broker refused:", e.Status, e.Code)
	}
	// Output: the broker refused: 404 not_found
}

// A webhook endpoint: verify, refuse stale deliveries, handle each event id once.
func ExampleReadWebhook() {
	var mu sync.Mutex
	seen := map[string]bool{} // in a real bot: a store shared by its instances
	got := make(chan string, 8)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/oauthbroker", func(w http.ResponseWriter, r *http.Request) {
		ev, err := client.ReadWebhook(os.Getenv("BROKER_WEBHOOK_SECRET"), r)
		if err != nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		first := !seen[ev.ID]
		seen[ev.ID] = true
		mu.Unlock()
		if first {
			switch ev.Type {
			case client.EventLinked:
				got <- fmt.Sprintf("%s/%s linked %s", ev.Identity.Channel, ev.Identity.User, ev.Identity.Provider)
			case client.EventLinkCompleted:
				// Everything the link was for is linked: carry on with the user's action.
				got <- fmt.Sprintf("%s/%s finished a link of %d account(s)", ev.Link.Channel, ev.Link.User, len(ev.Link.Identities))
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", os.Getenv("BOT_WEBHOOK_ADDR"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	// The broker retries what it could not deliver before: the events of the uber link
	// arrive now (in either order).
	lines := []string{<-got, <-got}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// slack/U024BE7LH finished a link of 1 account(s)
	// slack/U024BE7LH linked uber
}

// relay stands between the broker and ExampleReadWebhook's server. It takes each delivery
// (answering the broker 204, so the broker's own order and retries are untouched) and sends
// every delivery it took, as the broker signed it, to addr again and again until the
// Examples end. So each run of the Example (go test -count=N) gets the events, repeats
// included, as a bot gets at-least-once delivery; between runs nothing listens at addr and
// the sends fail.
type relay struct {
	addr string
	mu   sync.Mutex
	got  []relayed
}

type relayed struct {
	header http.Header
	body   []byte
}

func startRelay(t *testenv.Setup) *relay {
	r := &relay{addr: testenv.FreeAddr(t)} // the bot listens itself
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		c := &http.Client{Timeout: time.Second}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			r.mu.Lock()
			got := slices.Clone(r.got)
			r.mu.Unlock()
			for _, d := range got {
				req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/hooks/oauthbroker", bytes.NewReader(d.body))
				req.Header = d.header.Clone()
				if resp, err := c.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return r
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.got = append(r.got, relayed{header: req.Header.Clone(), body: body})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
