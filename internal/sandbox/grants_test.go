package sandbox_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

func TestGitHubDeleteGrant(t *testing.T) {
	f := autoFixture(t, nil)
	first, firstRefresh := f.tokens(f.autoCode(authParams()))
	second, _ := f.tokens(f.autoCode(authParams()))
	del := func(clientID, secret, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodDelete, f.base+"/applications/"+clientID+"/grant", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(clientID, secret)
		return f.do(http.DefaultClient, req).status
	}
	for name, code := range map[string]int{
		"wrong secret":          del(appID, "guess", `{"access_token":"`+first+`"}`),
		"token of another app":  del(otherID, otherSecret, `{"access_token":"`+first+`"}`),
		"unknown token":         del(appID, appSecret, `{"access_token":"sbx_at_made-up"}`),
		"no token":              del(appID, appSecret, `{}`),
		"unknown client in URL": del("nobody", appSecret, `{"access_token":"`+first+`"}`),
	} {
		if code == http.StatusNoContent || !f.srv.Live(first) {
			t.Errorf("%s: status %d, token live %v: want a refusal that changes nothing", name, code, f.srv.Live(first))
		}
	}
	if code := del(appID, appSecret, `{"access_token":"`+first+`"}`); code != http.StatusNoContent {
		t.Fatalf("status %d, want 204", code)
	}
	// The whole authorization goes: both grants of ada to the app.
	if f.srv.Live(first) || f.srv.Live(firstRefresh) || f.srv.Live(second) {
		t.Fatal("tokens of the deleted authorization still live")
	}
	if f.srv.Stats().Revocations != 1 {
		t.Fatalf("Revocations = %d, want 1", f.srv.Stats().Revocations)
	}
}

func TestSlackRevoke(t *testing.T) {
	f := autoFixture(t, nil)
	access, refresh := f.tokens(f.autoCode(authParams()))
	_, body := f.postAs("/api/auth.revoke", access)
	if body["ok"] != true || body["revoked"] != true || f.srv.Live(access) || !f.srv.Live(refresh) {
		t.Fatalf("answer %v; access live %v, refresh live %v: want only the access token revoked", body, f.srv.Live(access), f.srv.Live(refresh))
	}
	if _, body := f.postAs("/api/auth.revoke", access); body["ok"] != false || body["error"] != "token_revoked" {
		t.Fatalf("second revocation: %v, want ok:false token_revoked", body)
	}
	wantRejected(t, f.srv, sandbox.ReasonRevokedToken, 1)
}

func (f *fixture) postAs(path, token string) (response, map[string]any) {
	f.t.Helper()
	resp := f.postForm(http.DefaultClient, path, nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) })
	var body map[string]any
	if err := jsonObject(resp.body, &body); err != nil {
		f.t.Fatalf("POST %s: %d %s", path, resp.status, resp.body)
	}
	return resp, body
}
