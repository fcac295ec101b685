package testenv

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// GlBot is bot alpha with provider gl at the fake, and extra lines in its entry; it says
// confirm: none unless extra says otherwise.
func GlBot(fakeURL, extra string) string {
	if !strings.Contains(extra, "confirm:") {
		extra = "    confirm: none\n" + extra
	}
	return fmt.Sprintf("  alpha:\n    api_keys: [%q]\n%s    providers:\n%s", KeyA, extra, GitlabYAML(fakeURL))
}

// Unlink deletes an identity through the API and returns its last history event.
func (b *Broker) Unlink(bot, key string, id int64) store.Event {
	b.T.Helper()
	if st := b.API("DELETE", fmt.Sprintf("/bots/%s/identities/%d", bot, id), key, nil, nil); st != http.StatusNoContent {
		b.T.Fatalf("DELETE identity %d: %d", id, st)
	}
	if st := b.API("GET", fmt.Sprintf("/bots/%s/identities/%d/credentials", bot, id), key, nil, nil); st != http.StatusNotFound {
		b.T.Errorf("identity %d still answers after DELETE: %d", id, st)
	}
	evs, err := b.App.Store.Events(b.T.Context(), bot, id)
	if err != nil || len(evs) == 0 {
		b.T.Fatalf("history of %d: %v %v", id, evs, err)
	}
	ev := evs[len(evs)-1]
	if ev.Kind != store.EventUnlinked {
		b.T.Fatalf("last event %+v, want unlinked", ev)
	}
	for _, secret := range []string{"sbx_at_", "sbx_rt_"} {
		if strings.Contains(ev.Detail, secret) {
			b.T.Errorf("history holds a token: %q", ev.Detail)
		}
	}
	return ev
}

// StartMockOIDC starts a mockoidc issuer (with middleware around its handlers) until the
// test ends. One per test: its session store is not synchronised.
func StartMockOIDC(t testing.TB, middleware ...func(http.Handler) http.Handler) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mw := range middleware {
		if err := m.AddMiddleware(mw); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}
