package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestFlowCookieOnHTTPS: on an https public_url the flow cookie is Secure (a network observer
// on plain http never sees it), HttpOnly (no script reads it), SameSite=Lax (another site
// cannot make the browser send it with a sub-request, while the provider's top-level redirect
// back still carries it), scoped to its provider's path, and sealed: the state, verifier and
// session it carries are not readable in it.
func TestFlowCookieOnHTTPS(t *testing.T) {
	fs := newFuzzServer(t)
	_, c, sent := fs.startFlow(t)
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/bots/a/sb/" || c.MaxAge <= 0 || c.MaxAge > 3600 {
		t.Errorf("flow cookie %+v", c)
	}
	if state := sent.Get("state"); state == "" || strings.Contains(c.Value, state) {
		t.Errorf("the cookie carries the state in the clear")
	}
}
