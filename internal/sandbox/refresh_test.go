package sandbox_test

import (
	"net/http"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

func TestRefreshWithoutRotation(t *testing.T) {
	f := autoFixture(t, nil)
	oldAccess, refresh := f.tokens(f.autoCode(authParams()))

	status, body := f.tokenCall(refreshForm(refresh))
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if _, ok := body["refresh_token"]; ok {
		t.Errorf("answer has a refresh_token without rotation: %v (the client keeps its own)", body)
	}
	newAccess := body["access_token"].(string)
	if newAccess == oldAccess || !f.srv.Live(newAccess) || !f.srv.Live(refresh) {
		t.Fatal("want a new live access token and the refresh token still live")
	}
	if status, body := f.tokenCall(refreshForm(refresh)); status != http.StatusOK {
		t.Fatalf("second refresh with the same token: %d %v", status, body)
	}
	g := f.srv.Issued()
	if len(g) != 3 || g[1].GrantType != "refresh_token" || g[1].RefreshToken != refresh || g[1].AccessToken != newAccess {
		t.Fatalf("Issued() = %+v", g)
	}
	if f.srv.Stats().Refreshes != 2 {
		t.Fatalf("Refreshes = %d, want 2", f.srv.Stats().Refreshes)
	}
}

func TestRefreshWithRotation(t *testing.T) {
	f := autoFixture(t, func(o *sandbox.Options) { o.RotateRefresh = true })
	_, first := f.tokens(f.autoCode(authParams()))

	status, body := f.tokenCall(refreshForm(first))
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	second, _ := body["refresh_token"].(string)
	access := body["access_token"].(string)
	if second == "" || second == first || f.srv.Live(first) || !f.srv.Live(second) {
		t.Fatalf("want a new refresh token and the old one retired: %v", body)
	}

	// RFC 9700 §4.14.2: the retired token presented again is refused, and the whole grant
	// dies, because one of the two holders is an attacker.
	status, body = f.tokenCall(refreshForm(first))
	wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
	wantRejected(t, f.srv, sandbox.ReasonRefreshTokenReused, 1)
	if f.srv.Live(second) || f.srv.Live(access) {
		t.Fatal("reuse of a rotated refresh token left the grant alive")
	}
	status, body = f.tokenCall(refreshForm(second))
	wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
}

func TestRefreshRefusals(t *testing.T) {
	tests := []struct {
		name      string
		form      func(refresh string) map[string][]string
		status    int
		wantError string
		reason    sandbox.Reason
	}{
		{"unknown refresh token", func(string) map[string][]string { return refreshForm("sbx_rt_made-up") }, 400, "invalid_grant", sandbox.ReasonUnknownRefreshToken},
		{"missing refresh token", func(string) map[string][]string { return refreshForm("") }, 400, "invalid_request", sandbox.ReasonMalformed},
		{"access token as refresh token", nil, 400, "invalid_grant", sandbox.ReasonUnknownRefreshToken},
		{"other client", func(rt string) map[string][]string {
			return refreshForm(rt, "client_id", otherID, "client_secret", otherSecret)
		}, 400, "invalid_grant", sandbox.ReasonWrongClient},
		{"wrong secret", func(rt string) map[string][]string { return refreshForm(rt, "client_secret", "guess") }, 401, "invalid_client", sandbox.ReasonBadClientSecret},
		{"scope wider than granted", func(rt string) map[string][]string { return refreshForm(rt, "scope", "read:user repo") }, 400, "invalid_scope", sandbox.ReasonInvalidScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := autoFixture(t, nil)
			access, refresh := f.tokens(f.autoCode(authParams()))
			form := refreshForm(access)
			if tt.form != nil {
				form = tt.form(refresh)
			}
			status, body := f.tokenCall(form)
			wantOAuthError(t, status, body, tt.status, tt.wantError)
			wantRejected(t, f.srv, tt.reason, 1)
		})
	}

	t.Run("narrower scope", func(t *testing.T) {
		f := autoFixture(t, nil)
		_, refresh := f.tokens(f.autoCode(authParams()))
		status, body := f.tokenCall(refreshForm(refresh, "scope", "read:user"))
		if status != http.StatusOK || body["scope"] != "read:user" {
			t.Fatalf("%d %v, want scope read:user", status, body)
		}
	})
}

// RFC 7009.
func TestRevoke(t *testing.T) {
	revoke := func(f *fixture, token string, extra ...string) response {
		form := refreshForm("", "token", token)
		form.Del("grant_type")
		form.Del("refresh_token")
		for i := 0; i+1 < len(extra); i += 2 {
			form.Set(extra[i], extra[i+1])
		}
		return f.postForm(http.DefaultClient, "/revoke", form)
	}

	t.Run("access token: only it dies", func(t *testing.T) {
		f := autoFixture(t, nil)
		access, refresh := f.tokens(f.autoCode(authParams()))
		if resp := revoke(f, access); resp.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", resp.status, resp.body)
		}
		if f.srv.Live(access) || !f.srv.Live(refresh) {
			t.Fatal("want the access token revoked and the refresh token live")
		}
		if resp := f.getProfile("/user", access); resp.status != http.StatusUnauthorized {
			t.Fatalf("profile: %d, want 401", resp.status)
		}
		if f.srv.Stats().Revocations != 1 {
			t.Fatalf("Revocations = %d", f.srv.Stats().Revocations)
		}
	})
	t.Run("refresh token: the whole grant dies", func(t *testing.T) {
		f := autoFixture(t, nil)
		access, refresh := f.tokens(f.autoCode(authParams()))
		if resp := revoke(f, refresh, "token_type_hint", "access_token"); resp.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", resp.status, resp.body)
		}
		if f.srv.Live(access) || f.srv.Live(refresh) {
			t.Fatal("grant still live")
		}
		status, body := f.tokenCall(refreshForm(refresh))
		wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
		wantRejected(t, f.srv, sandbox.ReasonRevokedRefreshToken, 1)
	})
	t.Run("unknown token answers 200", func(t *testing.T) {
		f := autoFixture(t, nil)
		if resp := revoke(f, "sbx_at_unknown"); resp.status != http.StatusOK {
			t.Fatalf("status %d", resp.status)
		}
		if f.srv.Stats().Revocations != 0 {
			t.Fatal("counted a revocation of nothing")
		}
	})
	refusals := []struct {
		name   string
		extra  []string
		status int
		reason sandbox.Reason
	}{
		{"other client's token", []string{"client_id", otherID, "client_secret", otherSecret}, 400, sandbox.ReasonWrongClient},
		{"wrong client secret", []string{"client_secret", "guess"}, 401, sandbox.ReasonBadClientSecret},
		{"token missing", []string{"token", ""}, 400, sandbox.ReasonMalformed},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			f := autoFixture(t, nil)
			access, _ := f.tokens(f.autoCode(authParams()))
			resp := revoke(f, access, tt.extra...)
			if resp.status != tt.status || !f.srv.Live(access) {
				t.Fatalf("status %d, live %v; want %d and the token untouched", resp.status, f.srv.Live(access), tt.status)
			}
			wantRejected(t, f.srv, tt.reason, 1)
		})
	}
}
