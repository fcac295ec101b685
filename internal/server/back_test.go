package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestProviderAnswerAfterTheFlowEnded: after linking, the user presses Back to the provider's
// page and approves again, so the provider sends a second answer for a flow that is over. The
// browser that linked the account is told it is already linked (not an error); nothing is
// exchanged or stored, and the page repeats nothing of the URL. Any other browser still gets
// the refusal.
func TestProviderAnswerAfterTheFlowEnded(t *testing.T) {
	b, _, _ := twoBots(t)
	browser := testenv.NewBrowser(t)
	cb := testenv.StopAtCallback(t, browser, b.Link("alpha", testenv.KeyA, "sandbox", "c", "back-again"))
	if status, page := testenv.Visit(t, browser, cb); status != http.StatusOK || !strings.Contains(page, `data-connect="complete"`) {
		t.Fatalf("first answer: status %d, want the completed connect page:\n%s", status, page)
	}
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatal(err)
	}
	code, state := u.Query().Get("code"), u.Query().Get("state")

	b.Unchanged(t, http.StatusOK, "already linked", func() (int, string) {
		status, page := testenv.Visit(t, browser, cb)
		for _, v := range []string{code, state} {
			if v != "" && strings.Contains(page, v) {
				t.Errorf("the page repeats %q from the URL:\n%s", v, page)
			}
		}
		if strings.Contains(page, `class="badge err"`) {
			t.Errorf("the page is styled as an error:\n%s", page)
		}
		return status, page
	})
	b.Unchanged(t, http.StatusBadRequest, "did not start", func() (int, string) {
		return testenv.Visit(t, testenv.NewBrowser(t), cb)
	})
}
