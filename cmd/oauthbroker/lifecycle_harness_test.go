package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/webhook"
)

// receiver is a bot's webhook endpoint. It answers 500 to the first failFirst attempts and
// 503 while down, and keeps every delivery it accepted.
type receiver struct {
	URL    string
	secret string

	failFirst atomic.Int64
	down      atomic.Bool
	attempts  atomic.Int64

	mu  sync.Mutex
	got []delivery
}

type delivery struct {
	body      webhook.Body
	raw       []byte
	header    http.Header
	signature bool // the signature verified with the bot's secret
}

// identityID is the identity a delivery is about: an identity event's, or the last identity
// of a completed link (the one that completed it, for a link of one provider its only one).
func (d delivery) identityID() int64 {
	switch {
	case d.body.Identity != nil:
		return d.body.Identity.ID
	case d.body.Link != nil && len(d.body.Link.Identities) > 0:
		return d.body.Link.Identities[len(d.body.Link.Identities)-1].ID
	}
	return 0
}

func newReceiver(t testing.TB, secret string) *receiver {
	t.Helper()
	rc := &receiver{secret: secret}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := rc.attempts.Add(1)
		raw, _ := io.ReadAll(r.Body)
		if rc.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if n <= rc.failFirst.Load() {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		var body webhook.Body
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{body: body, raw: raw, header: r.Header.Clone(),
			signature: webhook.Verify(raw, r.Header.Get(webhook.HeaderSignature), secret)})
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/hooks/oauth"
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// waitDeliveries waits until at least n deliveries arrived.
func (rc *receiver) waitDeliveries(t testing.TB, n int, within time.Duration) []delivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := rc.deliveries(); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := rc.deliveries()
	t.Fatalf("%d deliveries within %s, want %d (attempts: %d)", len(got), within, n, rc.attempts.Load())
	return nil
}

// checkDelivery fails unless d is a well-formed, signed delivery of an event of type typ.
func checkDelivery(t testing.TB, d delivery, typ string) {
	t.Helper()
	b := d.body
	ts, err := strconv.ParseInt(d.header.Get(webhook.HeaderTimestamp), 10, 64)
	switch {
	case !d.signature:
		t.Errorf("%s: signature %q does not verify", typ, d.header.Get(webhook.HeaderSignature))
	case b.Type != typ || d.header.Get(webhook.HeaderEvent) != typ:
		t.Errorf("type %q (header %q), want %s", b.Type, d.header.Get(webhook.HeaderEvent), typ)
	case b.ID == "" || d.header.Get(webhook.HeaderEventID) != b.ID:
		t.Errorf("%s: event id %q, header %q", typ, b.ID, d.header.Get(webhook.HeaderEventID))
	case err != nil || ts != b.SentAt || time.Since(time.Unix(ts, 0)) > time.Minute:
		t.Errorf("%s: timestamp header %q, body sent_at %d", typ, d.header.Get(webhook.HeaderTimestamp), b.SentAt)
	case d.header.Get("Content-Type") != "application/json":
		t.Errorf("%s: content type %q", typ, d.header.Get("Content-Type"))
	}
	if bytes.Contains(d.raw, []byte("sbx_at_")) || bytes.Contains(d.raw, []byte("sbx_rt_")) {
		t.Errorf("%s: a token in the webhook body: %s", typ, d.raw)
	}
}

// readAllAtOnce sends readers concurrent credentials reads of one identity, spread over the
// brokers (processes or instances sharing one store), and checks that the provider saw
// exactly one refresh and every read got the refreshed token.
func readAllAtOnce(t *testing.T, f *tokenFake, brokers []*testBroker, readers int, id int64) {
	t.Helper()
	tokens, statuses := make([]string, readers), make([]int, readers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			<-start
			st, c, _, _ := brokers[i%len(brokers)].credentialsRaw("alpha", keyA, id)
			statuses[i], tokens[i] = st, c.AccessToken
		})
	}
	close(start)
	wg.Wait()
	if n := f.RefreshCalls.Load(); n != 1 {
		t.Fatalf("the provider saw %d refreshes from %d brokers sharing one store, want exactly 1", n, len(brokers))
	}
	fresh := f.LastGrant(t)
	for i := range readers {
		if statuses[i] != http.StatusOK || tokens[i] != fresh.AccessToken {
			t.Fatalf("read %d (broker %d): status %d, want 200 and the refreshed token", i, i%len(brokers), statuses[i])
		}
	}
}
