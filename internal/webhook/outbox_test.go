package webhook_test

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
	"github.com/oauthbroker/oauthbroker/internal/webhook"
)

const hookSecret = "hook-secret-0123456789"

// webhookBroker runs bot alpha with provider gl and a webhook to rc, delivering fast.
func webhookBroker(t *testing.T, rc *testenv.Receiver, extra string, opts webhook.Options) (*testenv.Broker, *testenv.TokenFake) {
	t.Helper()
	f := testenv.NewTokenFake(t, false)
	b := testenv.StartBrokerWith(t, testenv.GlBot(f.URL, fmt.Sprintf("    webhook_url: %s\n    webhook_secret: %s\n%s", rc.URL, hookSecret, extra)),
		app.Options{Webhooks: opts})
	b.RunBackground()
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	return b, f
}

// TestWebhookRetriedUntilDelivered: a receiver that fails the first attempts gets the event
// afterwards, signed, with the same event id on every attempt; link.completed follows it.
func TestWebhookRetriedUntilDelivered(t *testing.T) {
	rc := testenv.NewReceiver(t, hookSecret)
	rc.FailFirst.Store(3)
	b, _ := webhookBroker(t, rc, "", testenv.FastWebhooks)
	id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")

	both := rc.WaitDeliveries(t, 2, 5*time.Second)
	d := both[0]
	testenv.CheckDelivery(t, d, store.WebhookLinked)
	if d.Body.Attempt != 4 || rc.Attempts.Load() != 5 {
		t.Errorf("delivered on attempt %d after %d requests, want the 4th (and one for link.completed)", d.Body.Attempt, rc.Attempts.Load())
	}
	want := webhook.Identity{ID: id.ID, Channel: "slack", User: "U1", Provider: "gl", ProviderUserID: "1001", Status: store.StatusActive}
	if d.Body.Identity == nil || *d.Body.Identity != want || d.Body.Link != nil || d.Body.Bot != "alpha" || time.Since(d.Body.CreatedAt) > time.Minute {
		t.Errorf("body %+v, want identity %+v", d.Body, want)
	}
	done := both[1]
	testenv.CheckDelivery(t, done, store.WebhookLinkCompleted)
	wantLink := webhook.Link{Channel: "slack", User: "U1", Identities: []webhook.LinkedIdentity{{ID: id.ID, Provider: "gl", ProviderUserID: "1001", Status: store.StatusActive}}}
	if done.Body.Identity != nil || done.Body.Link == nil || !reflect.DeepEqual(*done.Body.Link, wantLink) {
		t.Errorf("link.completed %+v, want link %+v", done.Body, wantLink)
	}
	evs, err := b.App.Store.OutboxEvents(t.Context(), store.OutboxQuery{Limit: 10})
	if err != nil || len(evs) != 2 || evs[1].State != store.OutboxDelivered || evs[1].Attempts != 4 || evs[1].EventID != d.Body.ID {
		t.Fatalf("outbox %+v, %v", evs, err)
	}
	// A delivery with a forged body does not verify.
	if webhook.Verify([]byte(strings.Replace(string(d.Raw), "U1", "U2", 1)), d.Header.Get(webhook.HeaderSignature), hookSecret) {
		t.Error("a changed body still verifies")
	}
}

// TestWebhookOrderPerIdentity: one identity's events arrive in the order they happened, even
// when deliveries fail and retry in between; every event type is sent.
func TestWebhookOrderPerIdentity(t *testing.T) {
	rc := testenv.NewReceiver(t, hookSecret)
	rc.FailFirst.Store(5)
	b, _ := webhookBroker(t, rc, "    confirm: code\n", testenv.FastWebhooks)

	confirmLink := func(user string) testenv.IdentityBody {
		st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "gl", "slack", user))
		m := regexp.MustCompile(`<p class="code" id="code">(\d{6})</p>`).FindStringSubmatch(page)
		if st != http.StatusOK || m == nil {
			t.Fatalf("link %s: %d\n%s", user, st, page)
		}
		if st := b.API("POST", "/bots/alpha/links/confirm", testenv.KeyA, map[string]string{"channel": "slack", "user": user, "code": m[1]}, nil); st != http.StatusOK {
			t.Fatalf("confirm %s: %d", user, st)
		}
		return b.Identities("alpha", testenv.KeyA, "slack", user)[0]
	}
	a := confirmLink("A")
	confirmLink("A") // the same account again: relinked, then confirmed
	c := confirmLink("C")
	b.Unlink("alpha", testenv.KeyA, a.ID)

	got := rc.WaitDeliveries(t, 10, 10*time.Second)
	perIdentity := map[int64][]string{}
	for _, d := range got {
		testenv.CheckDelivery(t, d, d.Body.Type)
		perIdentity[d.IdentityID()] = append(perIdentity[d.IdentityID()], d.Body.Type)
	}
	wantA := []string{store.WebhookLinked, store.WebhookConfirmed, store.WebhookLinkCompleted,
		store.WebhookRelinked, store.WebhookConfirmed, store.WebhookLinkCompleted, store.WebhookUnlinked}
	if !slices.Equal(perIdentity[a.ID], wantA) {
		t.Errorf("identity A: %v, want %v", perIdentity[a.ID], wantA)
	}
	if want := []string{store.WebhookLinked, store.WebhookConfirmed, store.WebhookLinkCompleted}; !slices.Equal(perIdentity[c.ID], want) {
		t.Errorf("identity C: %v, want %v", perIdentity[c.ID], want)
	}
	if got[0].Body.Identity.Status != store.StatusPending {
		t.Errorf("linked before confirming: status %q, want pending", got[0].Body.Identity.Status)
	}
}

// TestWebhookDeadAfterTheRetryWindow: an event nobody accepts within the window is marked
// dead, visible to operators, and the log says so.
func TestWebhookDeadAfterTheRetryWindow(t *testing.T) {
	rc := testenv.NewReceiver(t, hookSecret)
	rc.Down.Store(true)
	opts := testenv.FastWebhooks
	opts.MaxAge = 300 * time.Millisecond
	b, _ := webhookBroker(t, rc, "", opts)
	b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")

	deadline := time.Now().Add(5 * time.Second)
	var dead []store.OutboxEvent
	for time.Now().Before(deadline) && len(dead) < 2 {
		time.Sleep(20 * time.Millisecond)
		var err error
		if dead, err = b.App.Store.OutboxEvents(t.Context(), store.OutboxQuery{State: store.OutboxDead, Limit: 10}); err != nil {
			t.Fatal(err)
		}
	}
	if len(dead) != 2 || dead[1].Type != store.WebhookLinked || dead[1].Attempts < 2 || dead[0].Type != store.WebhookLinkCompleted ||
		dead[0].LastError != "answered HTTP 503" || dead[1].LastError != "answered HTTP 503" {
		t.Fatalf("dead events %+v, want the linked event after several attempts, then link.completed", dead)
	}
	if !strings.Contains(b.Logs.String(), "webhook: event is dead") {
		t.Error("the log does not say the event is dead")
	}
	n := rc.Attempts.Load()
	time.Sleep(100 * time.Millisecond)
	if rc.Attempts.Load() != n {
		t.Error("a dead event is still being sent")
	}
}
