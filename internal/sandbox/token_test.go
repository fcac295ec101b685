package sandbox_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// autoFixture auto-approves as ada, so a code is one GET away.
func autoFixture(t testing.TB, modify func(*sandbox.Options)) *fixture {
	t.Helper()
	return newFixture(t, func(o *sandbox.Options) {
		o.AutoApprove = ada.ID
		if modify != nil {
			modify(o)
		}
	})
}

func (f *fixture) autoCode(q url.Values) string {
	f.t.Helper()
	return codeFrom(f.t, f.get(f.browser, "/authorize", q), q.Get("redirect_uri"), q.Get("state"))
}

func TestTokenAnswer(t *testing.T) {
	f := autoFixture(t, nil)
	resp := f.postForm(http.DefaultClient, "/token", exchangeForm(f.autoCode(authParams())))
	if resp.status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store (RFC 6749 §5.1)", cc)
	}
	_, body := f.tokenCall(exchangeForm(f.autoCode(authParams())))
	at, _ := body["access_token"].(string)
	rt, _ := body["refresh_token"].(string)
	if !strings.HasPrefix(at, "sbx_at_") || len(at) < len("sbx_at_")+43 || !strings.HasPrefix(rt, "sbx_rt_") {
		t.Errorf("tokens %q, %q: want sbx_at_/sbx_rt_ and 32 random bytes", at, rt)
	}
	if body["token_type"] != "bearer" || body["expires_in"] != float64(3600) || body["scope"] != "read:user user:email" {
		t.Errorf("answer %v: want token_type bearer, expires_in 3600, the requested scope", body)
	}
	g := f.srv.Issued()
	if len(g) != 2 || g[1].AccessToken != at || g[1].RefreshToken != rt || g[1].ClientID != appID ||
		g[1].GrantType != "authorization_code" || !g[1].ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
		t.Errorf("Issued()[1] = %+v", g[len(g)-1])
	}
}

// Both client authentication methods of RFC 6749 §2.3.1 work; anything else is refused.
func TestTokenClientAuthentication(t *testing.T) {
	basic := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
	}
	tests := []struct {
		name       string
		form       []string // changes to exchangeForm
		mutate     func(*http.Request)
		wantStatus int
		wantError  string
		reason     sandbox.Reason
	}{
		{"client_secret_post", nil, nil, 200, "", ""},
		{"HTTP Basic", []string{"client_id", "", "client_secret", ""}, basic(appID, appSecret), 200, "", ""},
		{"HTTP Basic with client_id in the body", []string{"client_secret", ""}, basic(appID, appSecret), 200, "", ""},
		{"wrong secret in body", []string{"client_secret", "guess"}, nil, 401, "invalid_client", sandbox.ReasonBadClientSecret},
		{"missing secret", []string{"client_secret", ""}, nil, 401, "invalid_client", sandbox.ReasonBadClientSecret},
		{"other client's secret", []string{"client_secret", otherSecret}, nil, 401, "invalid_client", sandbox.ReasonBadClientSecret},
		{"wrong secret in Basic", []string{"client_id", "", "client_secret", ""}, basic(appID, "guess"), 401, "invalid_client", sandbox.ReasonBadClientSecret},
		{"unknown client", []string{"client_id", "nobody"}, nil, 401, "invalid_client", sandbox.ReasonUnknownClient},
		{"no client at all", []string{"client_id", "", "client_secret", ""}, nil, 401, "invalid_client", sandbox.ReasonUnknownClient},
		{"Basic and client_secret together", nil, basic(appID, appSecret), 400, "invalid_request", sandbox.ReasonMalformed},
		{"Basic user differs from client_id", []string{"client_id", otherID, "client_secret", ""}, basic(appID, appSecret), 400, "invalid_request", sandbox.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := autoFixture(t, nil)
			var mutate []func(*http.Request)
			if tt.mutate != nil {
				mutate = append(mutate, tt.mutate)
			}
			resp := f.postForm(http.DefaultClient, "/token", exchangeForm(f.autoCode(authParams()), tt.form...), mutate...)
			if resp.status != tt.wantStatus || (tt.wantError != "" && !strings.Contains(resp.body, `"error":"`+tt.wantError+`"`)) {
				t.Fatalf("status %d %s, want %d %s", resp.status, resp.body, tt.wantStatus, tt.wantError)
			}
			if tt.mutate != nil && tt.wantStatus == 401 && !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 to a Basic attempt without a Basic challenge (RFC 6749 §5.2)")
			}
			if tt.reason != "" {
				wantRejected(t, f.srv, tt.reason, 1)
			}
		})
	}

	t.Run("secret with reserved characters over Basic", func(t *testing.T) {
		const secret = "s3cr+t/:%&é"
		f := autoFixture(t, func(o *sandbox.Options) { o.Clients[0].Secret = secret })
		form := exchangeForm(f.autoCode(authParams()), "client_id", "", "client_secret", "")
		if resp := f.postForm(http.DefaultClient, "/token", form, basic(appID, secret)); resp.status != 200 {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
	})
}

func TestTokenExchangeRefusals(t *testing.T) {
	pkce := authParams("code_challenge", challenge, "code_challenge_method", "S256")
	tests := []struct {
		name      string
		query     url.Values
		before    func(f *fixture)
		form      []string
		wantError string
		reason    sandbox.Reason
	}{
		{"redirect_uri differs", authParams(), nil, []string{"redirect_uri", "https://app.example/cb?tenant=7"}, "invalid_grant", sandbox.ReasonRedirectMismatch},
		{"redirect_uri missing", authParams(), nil, []string{"redirect_uri", ""}, "invalid_request", sandbox.ReasonRedirectMismatch},
		{"unknown code", authParams(), nil, []string{"code", "sbx_code_made-up"}, "invalid_grant", sandbox.ReasonUnknownCode},
		{"code missing", authParams(), nil, []string{"code", ""}, "invalid_request", sandbox.ReasonMalformed},
		{"code of another client", authParams(), nil, []string{"client_id", otherID, "client_secret", otherSecret, "redirect_uri", otherCB}, "invalid_grant", sandbox.ReasonWrongClient},
		{"code expired after 60s", authParams(), func(f *fixture) { f.clock.Advance(sandbox.CodeTTL) }, nil, "invalid_grant", sandbox.ReasonCodeExpired},
		{"PKCE verifier missing", pkce, nil, nil, "invalid_request", sandbox.ReasonPKCEMissingVerifier},
		{"PKCE verifier wrong", pkce, nil, []string{"code_verifier", strings.Repeat("a", 43)}, "invalid_grant", sandbox.ReasonPKCEWrongVerifier},
		{"PKCE verifier is the challenge", pkce, nil, []string{"code_verifier", challenge}, "invalid_grant", sandbox.ReasonPKCEWrongVerifier},
		{"PKCE verifier too short", pkce, nil, []string{"code_verifier", verifier[:42]}, "invalid_grant", sandbox.ReasonPKCEWrongVerifier},
		{"PKCE verifier without challenge", authParams(), nil, []string{"code_verifier", verifier}, "invalid_request", sandbox.ReasonPKCEUnexpectedVerifier},
		{"unsupported grant type", authParams(), nil, []string{"grant_type", "password"}, "unsupported_grant_type", sandbox.ReasonUnsupportedGrant},
		{"grant type missing", authParams(), nil, []string{"grant_type", ""}, "invalid_request", sandbox.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := autoFixture(t, nil)
			code := f.autoCode(tt.query)
			if tt.before != nil {
				tt.before(f)
			}
			status, body := f.tokenCall(exchangeForm(code, tt.form...))
			wantOAuthError(t, status, body, http.StatusBadRequest, tt.wantError)
			wantRejected(t, f.srv, tt.reason, 1)
			if len(f.srv.Issued()) != 0 {
				t.Fatalf("tokens issued: %+v", f.srv.Issued())
			}
		})
	}

	t.Run("repeated parameter", func(t *testing.T) {
		f := autoFixture(t, nil)
		form := exchangeForm(f.autoCode(authParams()))
		form.Add("redirect_uri", "https://evil.example/")
		status, body := f.tokenCall(form)
		wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_request")
	})
	t.Run("JSON body", func(t *testing.T) {
		f := autoFixture(t, nil)
		resp := f.postForm(http.DefaultClient, "/token", exchangeForm(f.autoCode(authParams())), func(r *http.Request) { r.Header.Set("Content-Type", "application/json") })
		if resp.status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.status)
		}
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		f := autoFixture(t, nil)
		if resp := f.get(http.DefaultClient, "/token", exchangeForm(f.autoCode(authParams()))); resp.status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d, want 405", resp.status)
		}
	})
}

func TestTokenExchangeSucceeds(t *testing.T) {
	t.Run("PKCE S256 with the right verifier", func(t *testing.T) {
		f := autoFixture(t, nil)
		f.tokens(f.autoCode(authParams("code_challenge", challenge, "code_challenge_method", "S256")), "code_verifier", verifier)
	})
	t.Run("code just before it expires", func(t *testing.T) {
		f := autoFixture(t, nil)
		code := f.autoCode(authParams())
		f.clock.Advance(sandbox.CodeTTL - time.Second)
		f.tokens(code)
	})
	t.Run("a failed attempt does not burn the code", func(t *testing.T) {
		f := autoFixture(t, nil)
		code := f.autoCode(authParams())
		f.tokenCall(exchangeForm(code, "client_secret", "guess"))
		f.tokens(code)
	})
}

// RFC 6749 §10.5: a code is used once; a second use is refused and revokes its tokens.
func TestCodeReuseRevokesTokens(t *testing.T) {
	f := autoFixture(t, nil)
	code := f.autoCode(authParams())
	access, refresh := f.tokens(code)

	status, body := f.tokenCall(exchangeForm(code))
	wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
	wantRejected(t, f.srv, sandbox.ReasonCodeReused, 1)

	if f.srv.Live(access) || f.srv.Live(refresh) {
		t.Fatal("tokens from a reused code are still live")
	}
	if resp := f.getProfile("/user", access); resp.status != http.StatusUnauthorized {
		t.Fatalf("profile with the first access token: %d, want 401", resp.status)
	}
	status, body = f.tokenCall(refreshForm(refresh))
	wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
}

// Two concurrent exchanges of one code: exactly one wins.
func TestCodeExchangeIsAtomic(t *testing.T) {
	f := autoFixture(t, nil)
	code := f.autoCode(authParams())
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() { // no t.Fatal off the test goroutine: a plain client call
			resp, err := http.PostForm(f.base+"/token", exchangeForm(code))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	if ok != 1 || f.srv.Stats().CodeExchanges != 1 {
		t.Fatalf("statuses %v, %d exchanges; want exactly one success", statuses, f.srv.Stats().CodeExchanges)
	}
}

func refreshForm(refresh string, extra ...string) url.Values {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {appID}, "client_secret": {appSecret}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return form
}

// TestRetainForgetsTheOldest: with Retain 2, the server keeps the newest two to four codes,
// access tokens, refresh tokens and grants, and forgets the rest oldest first; a forgotten
// code or token answers as an unknown one. Without Retain nothing is forgotten.
func TestRetainForgetsTheOldest(t *testing.T) {
	if _, err := sandbox.New(sandbox.Options{Users: []sandbox.User{ada}, Retain: -1}); err == nil {
		t.Error("a negative Retain was accepted")
	}
	for _, retain := range []int{0, 2} {
		f := autoFixture(t, func(o *sandbox.Options) { o.Retain = retain })
		unused := f.autoCode(authParams()) // never exchanged
		var access, refresh []string
		for range 5 {
			a, r := f.tokens(f.autoCode(authParams()))
			access, refresh = append(access, a), append(refresh, r)
		}
		issued := f.srv.Issued()
		newest := f.getProfile("/user", access[4])
		oldest := f.getProfile("/user", access[0])
		status, body := f.tokenCall(exchangeForm(unused))
		refreshed, _ := f.tokenCall(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh[0]},
			"client_id": {appID}, "client_secret": {appSecret}})
		if newest.status != http.StatusOK || issued[len(issued)-1].AccessToken != access[4] {
			t.Fatalf("Retain %d: the newest token does not work (%d) or is not the last grant", retain, newest.status)
		}
		if retain == 0 {
			if status != http.StatusOK || oldest.status != http.StatusOK || refreshed != http.StatusOK || len(issued) != 5 {
				t.Errorf("Retain 0 forgot something: unused code %d, oldest token %d, oldest refresh %d, %d grants",
					status, oldest.status, refreshed, len(issued))
			}
			continue
		}
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("Retain 2: the oldest code, forgotten, answered %d %v; want 400 invalid_grant", status, body)
		}
		if oldest.status != http.StatusUnauthorized {
			t.Errorf("Retain 2: the oldest access token, forgotten, answered %d; want 401", oldest.status)
		}
		if refreshed != http.StatusBadRequest {
			t.Errorf("Retain 2: the oldest refresh token, forgotten, answered %d; want 400", refreshed)
		}
		if len(issued) < 2 || len(issued) > 4 {
			t.Errorf("Retain 2: %d grants kept, want 2 to 4", len(issued))
		}
	}
}
