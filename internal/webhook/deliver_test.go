package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// fakeOutbox hands out its events once and records what the deliverer says of each.
type fakeOutbox struct {
	mu     sync.Mutex
	events []store.OutboxEvent
	marks  map[int64]mark
}

type mark struct {
	state string
	next  time.Time
	err   string
}

func (f *fakeOutbox) ClaimDue(_ context.Context, _ string, _, _ time.Time, limit int) ([]store.OutboxEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := min(limit, len(f.events))
	out := f.events[:n]
	f.events = f.events[n:]
	return out, nil
}

func (f *fakeOutbox) set(id int64, m mark) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marks[id] = m
	return nil
}

func (f *fakeOutbox) MarkDelivered(_ context.Context, id int64, _ string, _ time.Time) error {
	return f.set(id, mark{state: store.OutboxDelivered})
}

func (f *fakeOutbox) MarkFailed(_ context.Context, id int64, _ string, next time.Time, err string) error {
	return f.set(id, mark{state: store.OutboxPending, next: next, err: err})
}

func (f *fakeOutbox) MarkDead(_ context.Context, id int64, _ string, _ time.Time, err string) error {
	return f.set(id, mark{state: store.OutboxDead, err: err})
}

func (f *fakeOutbox) PruneOutbox(context.Context, time.Time) (int64, error) { return 0, nil }

var now0 = time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)

func event(id int64, bot string, created time.Time, attempts int) store.OutboxEvent {
	return store.OutboxEvent{ID: id, EventID: fmt.Sprint("evt_", id), Type: store.WebhookLinked, Bot: bot,
		IdentityID: 7, Channel: "slack", User: "U1", Provider: "github", ProviderUserID: "42",
		Status: store.StatusActive, CreatedAt: created, State: store.OutboxPending, Attempts: attempts}
}

func TestSignatureIsHMACOfTheBody(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	m := hmac.New(sha256.New, []byte("s3cret-0123456789"))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := Sign(body, "s3cret-0123456789"); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	for name, ok := range map[string]bool{
		"right":          Verify(body, want, "s3cret-0123456789"),
		"wrong secret":   !Verify(body, want, "other-secret-0123"),
		"changed body":   !Verify([]byte(`{"id":"evt_2"}`), want, "s3cret-0123456789"),
		"no prefix":      !Verify(body, strings.TrimPrefix(want, "sha256="), "s3cret-0123456789"),
		"empty header":   !Verify(body, "", "s3cret-0123456789"),
		"upper-case hex": !Verify(body, strings.ToUpper(want), "s3cret-0123456789"),
	} {
		if !ok {
			t.Errorf("%s: wrong answer", name)
		}
	}
}

func TestBackoffDoublesWithJitterUpToTheCap(t *testing.T) {
	d := New(&fakeOutbox{}, nil, Options{MinBackoff: time.Second, MaxBackoff: time.Minute})
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 7: time.Minute, 100: time.Minute} {
		for range 50 {
			if got := d.backoff(n); got < want/2 || got > want {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, got, want/2, want)
			}
		}
	}
}

func TestRoundOutcomes(t *testing.T) {
	type request struct {
		method, path string
		header       http.Header
	}
	var (
		mu   sync.Mutex
		seen []request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, request{r.Method, r.URL.Path, r.Header.Clone()})
		mu.Unlock()
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusNoContent)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	targets := map[string]Target{
		"ok":    {URL: srv.URL + "/ok", Secret: "s-ok-0123456789abc"},
		"fails": {URL: srv.URL + "/fails?token=bot-secret-in-the-url", Secret: "s"},
		"moved": {URL: srv.URL + "/moved", Secret: "s"},
		"slow":  {URL: srv.URL + "/slow", Secret: "s"},
	}
	out := &fakeOutbox{marks: map[int64]mark{}, events: []store.OutboxEvent{
		event(1, "ok", now0, 0),
		event(2, "fails", now0.Add(-time.Hour), 2),
		event(3, "fails", now0.Add(-24*time.Hour), 30), // past the window
		event(4, "moved", now0, 0),
		event(5, "slow", now0, 0),
		event(6, "gone", now0, 0), // a bot without webhook_url (any more)
		event(7, "fails", now0.Add(-24*time.Hour+time.Second), 30),
	}}
	d := New(out, targets, Options{Now: func() time.Time { return now0 }, Timeout: 100 * time.Millisecond, MinBackoff: time.Second, MaxBackoff: time.Hour})
	if n, err := d.round(t.Context()); n != 7 || err != nil {
		t.Fatalf("round: %d, %v", n, err)
	}
	want := map[int64]mark{
		1: {state: store.OutboxDelivered},
		2: {state: store.OutboxPending, err: "answered HTTP 500"},
		3: {state: store.OutboxDead, err: "answered HTTP 500"},
		4: {state: store.OutboxPending, err: "answered HTTP 302"},
		5: {state: store.OutboxPending, err: "no answer within 100ms"},
		6: {state: store.OutboxDead, err: "the bot has no webhook_url configured"},
		7: {state: store.OutboxPending, err: "answered HTTP 500"},
	}
	for id, w := range want {
		got := out.marks[id]
		if got.state != w.state || got.err != w.err {
			t.Errorf("event %d: %+v, want %+v", id, got, w)
		}
	}
	// The third attempt waits 2–4 s; the last retry lands on the window's end, not past it.
	if next := out.marks[2].next; next.Before(now0.Add(2*time.Second)) || next.After(now0.Add(4*time.Second)) {
		t.Errorf("event 2 next attempt at %s, want 2–4 s after %s", next, now0)
	}
	if next := out.marks[7].next; !next.Equal(now0.Add(time.Second)) {
		t.Errorf("event 7 next attempt at %s, want the window's end %s", next, now0.Add(time.Second))
	}

	mu.Lock()
	defer mu.Unlock()
	var ok *request
	for _, r := range seen {
		if r.path == "/ok" && r.header.Get(HeaderEventID) == "evt_1" {
			ok = &r
		}
	}
	if ok == nil {
		t.Fatal("event 1 never reached its receiver")
	}
	if ok.header.Get(HeaderTimestamp) != fmt.Sprint(now0.Unix()) || ok.header.Get(HeaderEvent) != store.WebhookLinked ||
		!strings.HasPrefix(ok.header.Get(HeaderSignature), "sha256=") || ok.method != http.MethodPost {
		t.Errorf("headers %v", ok.header)
	}
	for id, m := range out.marks {
		if strings.Contains(m.err, "bot-secret-in-the-url") || strings.Contains(m.err, srv.URL) {
			t.Errorf("event %d: the error %q names the webhook URL", id, m.err)
		}
	}
}

// TestRenderedBody: an identity event carries its identity; link.completed carries the link's
// chat user and identities, and no "identity".
func TestRenderedBody(t *testing.T) {
	relink := event(9, "supportbot", now0, 2)
	relink.Type, relink.Reason, relink.Status = store.WebhookRelinkRequired, "invalid_grant", store.StatusRelinkRequired
	done := event(10, "supportbot", now0, 0)
	done.Type, done.Provider, done.ProviderUserID, done.Status = store.WebhookLinkCompleted, "", "", ""
	done.Identities = []store.LinkedIdentity{{ID: 7, Provider: "github", ProviderUserID: "42", Status: "active"}, {ID: 8, Provider: "uber", ProviderUserID: "u-9", Status: "active"}}
	for _, c := range []struct {
		e    store.OutboxEvent
		want string
	}{
		{relink, `{"attempt":3,"bot":"supportbot","created_at":"2031-03-14T15:09:26Z","id":"evt_9",` +
			`"identity":{"channel":"slack","id":7,"provider":"github","provider_user_id":"42","status":"relink_required","user":"U1"},` +
			`"reason":"invalid_grant","sent_at":1931267426,"type":"identity.relink_required"}`},
		{done, `{"attempt":1,"bot":"supportbot","created_at":"2031-03-14T15:09:26Z","id":"evt_10",` +
			`"link":{"channel":"slack","identities":[{"id":7,"provider":"github","provider_user_id":"42","status":"active"},` +
			`{"id":8,"provider":"uber","provider_user_id":"u-9","status":"active"}],"user":"U1"},` +
			`"sent_at":1931267426,"type":"link.completed"}`},
	} {
		raw, err := Render(c.e, now0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if canon, _ := json.Marshal(got); string(canon) != c.want {
			t.Errorf("%s body\n%s\nwant\n%s", c.e.Type, canon, c.want)
		}
	}
}

// TestShutdownFinishesTheAttemptInFlight: when the loop's context ends mid-delivery (SIGTERM),
// the attempt completes and is recorded, Run returns after it, and nothing new is claimed.
func TestShutdownFinishesTheAttemptInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		close(arrived)
		<-release
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock() // before srv.Close, which waits for the handler
	out := &fakeOutbox{events: []store.OutboxEvent{event(1, "alpha", now0, 0)}, marks: map[int64]mark{}}
	d := New(out, map[string]Target{"alpha": {URL: srv.URL, Secret: "s3cret-0123456789"}}, Options{Now: func() time.Time { return now0 }, Batch: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()

	<-arrived
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while a delivery was still in flight")
	case <-time.After(100 * time.Millisecond):
	}
	unblock()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the attempt finished")
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if out.marks[1].state != store.OutboxDelivered || calls.Load() != 1 {
		t.Errorf("after shutdown: mark %+v, %d calls", out.marks[1], calls.Load())
	}
}
