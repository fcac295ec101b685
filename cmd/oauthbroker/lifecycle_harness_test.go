package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/webhook"
)

// What the token endpoint does with a refresh_token grant.
const (
	refreshOK           int32 = iota // the sandbox answers (and rotates, if asked to)
	refreshInvalidGrant              // 400 invalid_grant: the grant is gone
	refreshServerError               // 500
	refreshHang                      // no answer until the client gives up
)

// tokenFake is the strict sandbox OAuth 2 server with a switch in front of its token and
// revocation endpoints, for the failures a real provider has: it answers refresh grants with
// invalid_grant, 500 or silence on demand, fails revocations, counts every refresh grant that
// reaches it, and can shorten the lifetime it announces for the first token (so a test starts
// with a token "about to expire" without waiting an hour). Behind it the sandbox checks client
// secrets, single-use codes and rotated refresh tokens as before.
type tokenFake struct {
	*sandbox.Server
	URL string

	refreshMode  atomic.Int32
	revokeFails  atomic.Bool
	firstTTL     atomic.Int64 // expires_in announced for code exchanges; 0: the sandbox's
	refreshCalls atomic.Int64 // refreshes attempted, answered or not
	hung         chan struct{}

	// forgiveReuse makes it a provider that rotates refresh tokens without RFC 9700's reuse
	// detection: a rotated-out refresh token gets invalid_grant, and the grant lives on.
	forgiveReuse atomic.Bool
	// holds, when set, receives every refresh answer before it goes out, so a test orders
	// what the broker learns: the provider has decided (and rotated) already.
	holds atomic.Pointer[chan heldRefresh]
}

// heldRefresh is a refresh answer the fake holds until the test closes release.
type heldRefresh struct {
	presented string // the refresh token the broker sent
	status    int
	release   chan struct{}
}

func newTokenFake(t testing.TB, rotate bool) *tokenFake {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{
		Users:       []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}},
		AutoApprove: "1001", RotateRefresh: rotate,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &tokenFake{Server: sb, hung: make(chan struct{})}
	srv := httptest.NewServer(f)
	f.URL = srv.URL
	t.Cleanup(func() { close(f.hung); srv.Close() })
	return f
}

func (f *tokenFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/oauth/token":
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("grant_type") == "refresh_token" {
			// x/oauth2 sends a failed token request again with the other client
			// authentication style (Basic first, then the form): one refresh is one Basic try.
			_, _, basic := r.BasicAuth()
			if basic {
				f.refreshCalls.Add(1)
			}
			if hold := f.holds.Load(); hold != nil && basic {
				f.holdRefresh(w, r, form.Get("refresh_token"), *hold)
				return
			}
			f.answerRefresh(w, r, form.Get("refresh_token"))
			return
		}
		if ttl := f.firstTTL.Load(); ttl != 0 && form.Get("grant_type") == "authorization_code" {
			f.withExpiresIn(w, r, ttl)
			return
		}
	case r.Method == http.MethodPost && r.URL.Path == "/oauth/revoke" && f.revokeFails.Load():
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	f.Server.ServeHTTP(w, r)
}

// answerRefresh answers a refresh grant as the mode says, else as the sandbox does.
func (f *tokenFake) answerRefresh(w http.ResponseWriter, r *http.Request, presented string) {
	switch {
	case f.failRefresh(w, r):
	case f.forgiveReuse.Load() && !f.Live(presented):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"the refresh token was rotated out"}`)
	default:
		f.Server.ServeHTTP(w, r)
	}
}

// holdRefresh decides a refresh grant, hands the answer to the test on hold and sends it once
// the test releases it.
func (f *tokenFake) holdRefresh(w http.ResponseWriter, r *http.Request, presented string, hold chan heldRefresh) {
	rec := httptest.NewRecorder()
	f.answerRefresh(rec, r, presented)
	h := heldRefresh{presented: presented, status: rec.Code, release: make(chan struct{})}
	select {
	case hold <- h:
	case <-f.hung:
		return
	}
	select {
	case <-h.release:
	case <-f.hung:
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// failRefresh answers a refresh grant as the current mode says; false lets the sandbox answer.
func (f *tokenFake) failRefresh(w http.ResponseWriter, r *http.Request) bool {
	switch f.refreshMode.Load() {
	case refreshInvalidGrant:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"the refresh token was revoked"}`)
	case refreshServerError:
		http.Error(w, "upstream exploded", http.StatusInternalServerError)
	case refreshHang:
		select {
		case <-r.Context().Done():
		case <-f.hung:
		}
	default:
		return false
	}
	return true
}

// withExpiresIn lets the sandbox answer, then changes the announced lifetime.
func (f *tokenFake) withExpiresIn(w http.ResponseWriter, r *http.Request, ttl int64) {
	rec := httptest.NewRecorder()
	f.Server.ServeHTTP(rec, r)
	var answer map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &answer) != nil {
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	answer["expires_in"] = ttl
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

// gitlabYAML is a gitlab-type provider entry named gl pointing at the fake: refresh through
// goth's gitlab provider, RFC 7009 revocation at /oauth/revoke.
func gitlabYAML(fakeURL string) string {
	return fmt.Sprintf(`      gl:
        type: gitlab
        key: gl-client
        secret: gl-secret-0123456789
        endpoints:
          auth_url: %[1]s/oauth/authorize
          token_url: %[1]s/oauth/token
          profile_url: %[1]s/api/v4/user
`, fakeURL)
}

// register adds the broker's gl client (with every callback given) to the fake.
func (f *tokenFake) register(t testing.TB, callbacks ...string) {
	t.Helper()
	if err := f.AddClient(sandbox.Client{ID: "gl-client", Secret: "gl-secret-0123456789", RedirectURIs: callbacks}); err != nil {
		t.Fatal(err)
	}
}

// lastGrant is the newest token set the fake issued.
func (f *tokenFake) lastGrant(t testing.TB) sandbox.Grant {
	t.Helper()
	g := f.Issued()
	if len(g) == 0 {
		t.Fatal("the provider issued nothing")
	}
	return g[len(g)-1]
}

// linkOne links the sandbox's account for one chat user through the browser flow and returns
// the identity.
func (b *testBroker) linkOne(bot, key, provider, channel, user string) identityBody {
	b.t.Helper()
	if st, page := connectAll(b.t, newBrowser(b.t), b.link(bot, key, provider, channel, user)); st != http.StatusOK {
		b.t.Fatalf("link %s for %s/%s: %d\n%s", provider, channel, user, st, page)
	}
	ids := b.identities(bot, key, channel, user)
	if len(ids) == 0 {
		b.t.Fatalf("no identity for %s/%s after linking", channel, user)
	}
	return ids[len(ids)-1]
}

// credentialsRaw reads credentials and returns the status, the body and the Retry-After header.
func (b *testBroker) credentialsRaw(bot, key string, id int64) (int, credentialsBody, problemBody, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/bots/%s/identities/%d/credentials", b.URL, bot, id), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var c credentialsBody
	var p problemBody
	if resp.StatusCode == http.StatusOK {
		json.Unmarshal(data, &c)
	} else {
		json.Unmarshal(data, &p)
	}
	return resp.StatusCode, c, p, resp.Header.Get("Retry-After")
}

// fastWebhooks are delivery settings that retry in milliseconds, for tests.
var fastWebhooks = webhook.Options{Poll: 10 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}

// runBackground starts the broker's webhook delivery until the test ends.
func (b *testBroker) runBackground() {
	stop := b.app.StartBackground(context.Background())
	b.t.Cleanup(stop)
}

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
	if n := f.refreshCalls.Load(); n != 1 {
		t.Fatalf("the provider saw %d refreshes from %d brokers sharing one store, want exactly 1", n, len(brokers))
	}
	fresh := f.lastGrant(t)
	for i := range readers {
		if statuses[i] != http.StatusOK || tokens[i] != fresh.AccessToken {
			t.Fatalf("read %d (broker %d): status %d, want 200 and the refreshed token", i, i%len(brokers), statuses[i])
		}
	}
}
