package testenv

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

// Receiver is a bot's webhook endpoint. It answers 500 to the first FailFirst attempts and
// 503 while Down, and keeps every delivery it accepted.
type Receiver struct {
	URL    string
	Secret string // the bot's webhook_secret, which signatures are checked with

	FailFirst atomic.Int64 // answer 500 to this many first attempts
	Down      atomic.Bool  // answer 503 while set
	Attempts  atomic.Int64 // deliveries attempted

	mu  sync.Mutex
	got []Delivery
}

// Delivery is one webhook delivery a Receiver accepted.
type Delivery struct {
	Body      webhook.Body
	Raw       []byte
	Header    http.Header
	Signature bool // the signature verified with the bot's secret
}

// IdentityID is the identity a delivery is about: an identity event's, or the last identity
// of a completed link (the one that completed it, for a link of one provider its only one).
func (d Delivery) IdentityID() int64 {
	switch {
	case d.Body.Identity != nil:
		return d.Body.Identity.ID
	case d.Body.Link != nil && len(d.Body.Link.Identities) > 0:
		return d.Body.Link.Identities[len(d.Body.Link.Identities)-1].ID
	}
	return 0
}

func NewReceiver(t testing.TB, secret string) *Receiver {
	t.Helper()
	rc := &Receiver{Secret: secret}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := rc.Attempts.Add(1)
		raw, _ := io.ReadAll(r.Body)
		if rc.Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if n <= rc.FailFirst.Load() {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		var body webhook.Body
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, Delivery{Body: body, Raw: raw, Header: r.Header.Clone(),
			Signature: webhook.Verify(raw, r.Header.Get(webhook.HeaderSignature), secret)})
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/hooks/oauth"
	return rc
}

func (rc *Receiver) Deliveries() []Delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Delivery(nil), rc.got...)
}

// WaitDeliveries waits until at least n deliveries arrived.
func (rc *Receiver) WaitDeliveries(t testing.TB, n int, within time.Duration) []Delivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := rc.Deliveries(); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := rc.Deliveries()
	t.Fatalf("%d deliveries within %s, want %d (attempts: %d)", len(got), within, n, rc.Attempts.Load())
	return nil
}

// CheckDelivery fails unless d is a well-formed, signed Delivery of an event of type typ.
func CheckDelivery(t testing.TB, d Delivery, typ string) {
	t.Helper()
	b := d.Body
	ts, err := strconv.ParseInt(d.Header.Get(webhook.HeaderTimestamp), 10, 64)
	switch {
	case !d.Signature:
		t.Errorf("%s: signature %q does not verify", typ, d.Header.Get(webhook.HeaderSignature))
	case b.Type != typ || d.Header.Get(webhook.HeaderEvent) != typ:
		t.Errorf("type %q (header %q), want %s", b.Type, d.Header.Get(webhook.HeaderEvent), typ)
	case b.ID == "" || d.Header.Get(webhook.HeaderEventID) != b.ID:
		t.Errorf("%s: event id %q, header %q", typ, b.ID, d.Header.Get(webhook.HeaderEventID))
	case err != nil || ts != b.SentAt || time.Since(time.Unix(ts, 0)) > time.Minute:
		t.Errorf("%s: timestamp header %q, body sent_at %d", typ, d.Header.Get(webhook.HeaderTimestamp), b.SentAt)
	case d.Header.Get("Content-Type") != "application/json":
		t.Errorf("%s: content type %q", typ, d.Header.Get("Content-Type"))
	}
	if bytes.Contains(d.Raw, []byte("sbx_at_")) || bytes.Contains(d.Raw, []byte("sbx_rt_")) {
		t.Errorf("%s: a token in the webhook body: %s", typ, d.Raw)
	}
}
