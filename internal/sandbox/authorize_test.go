package sandbox_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

const sandboxLabel = "Sandbox OAuth provider — not a real service"

// An invalid client or redirect URI must never cause a redirect (RFC 6749 §4.1.2.1):
// the user sees an error page instead.
func TestAuthorizeRefusesWithoutRedirect(t *testing.T) {
	tests := []struct {
		name   string
		query  url.Values
		reason sandbox.Reason
	}{
		{"unknown client", authParams("client_id", "nobody"), sandbox.ReasonUnknownClient},
		{"missing client_id", authParams("client_id", ""), sandbox.ReasonMalformed},
		{"missing redirect_uri", authParams("redirect_uri", ""), sandbox.ReasonMalformed},
		{"unregistered redirect_uri", authParams("redirect_uri", "https://evil.example/callback"), sandbox.ReasonUnregisteredURI},
		{"redirect_uri with extra path", authParams("redirect_uri", appCallback+"/../../evil"), sandbox.ReasonUnregisteredURI},
		{"redirect_uri with trailing slash", authParams("redirect_uri", appCallback+"/"), sandbox.ReasonUnregisteredURI},
		{"redirect_uri with other scheme", authParams("redirect_uri", "http://app.example/callback"), sandbox.ReasonUnregisteredURI},
		{"redirect_uri with added query", authParams("redirect_uri", appCallback+"?next=https://evil.example"), sandbox.ReasonUnregisteredURI},
		{"redirect_uri with other case", authParams("redirect_uri", "https://APP.example/callback"), sandbox.ReasonUnregisteredURI},
		{"other client's redirect_uri", authParams("redirect_uri", otherCB), sandbox.ReasonUnregisteredURI},
		{"repeated redirect_uri", func() url.Values {
			q := authParams()
			q.Add("redirect_uri", "https://evil.example/callback")
			return q
		}(), sandbox.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Auto-approve would redirect at once if the request got that far.
			f := newFixture(t, func(o *sandbox.Options) { o.AutoApprove = ada.ID })
			resp := f.get(f.browser, "/authorize", tt.query)
			if resp.status != http.StatusBadRequest || resp.location != nil {
				t.Fatalf("status %d, Location %v; want 400 and no redirect", resp.status, resp.location)
			}
			if !strings.Contains(resp.body, sandboxLabel) || !strings.Contains(resp.body, "refused") {
				t.Fatalf("error page lacks the sandbox label or the refusal:\n%s", resp.body)
			}
			wantRejected(t, f.srv, tt.reason, 1)
			if got := f.srv.Stats().Authorizations; got != 0 {
				t.Fatalf("Authorizations = %d, want 0", got)
			}
		})
	}
}

// With a trusted client and redirect URI, other errors go back to the client with the
// state (RFC 6749 §4.1.2.1, RFC 7636 §4.4.1).
func TestAuthorizeRedirectsErrorsToClient(t *testing.T) {
	tests := []struct {
		name      string
		query     url.Values
		wantError string
		reason    sandbox.Reason
	}{
		{"response_type token", authParams("response_type", "token"), "unsupported_response_type", sandbox.ReasonUnsupportedResp},
		{"missing response_type", authParams("response_type", ""), "invalid_request", sandbox.ReasonMalformed},
		{"PKCE plain method", authParams("code_challenge", challenge, "code_challenge_method", "plain"), "invalid_request", sandbox.ReasonPKCEPlain},
		{"PKCE challenge without method means plain", authParams("code_challenge", challenge), "invalid_request", sandbox.ReasonPKCEPlain},
		{"PKCE method without challenge", authParams("code_challenge_method", "S256"), "invalid_request", sandbox.ReasonMalformed},
		{"PKCE challenge not a SHA-256", authParams("code_challenge", "short", "code_challenge_method", "S256"), "invalid_request", sandbox.ReasonMalformed},
		{"scope with a quote", authParams("scope", `read "all"`), "invalid_scope", sandbox.ReasonInvalidScope},
		{"scope with double space", authParams("scope", "a  b"), "invalid_scope", sandbox.ReasonInvalidScope},
		{"repeated scope", func() url.Values { q := authParams(); q.Add("scope", "admin"); return q }(), "invalid_request", sandbox.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *sandbox.Options) { o.AutoApprove = ada.ID })
			resp := f.get(f.browser, "/authorize", tt.query)
			if resp.status != http.StatusFound || resp.location == nil {
				t.Fatalf("status %d, want 302\n%s", resp.status, resp.body)
			}
			q := resp.location.Query()
			if !strings.HasPrefix(resp.location.String(), appCallback+"?") || q.Get("error") != tt.wantError || q.Get("state") != "st-123" || q.Has("code") {
				t.Fatalf("redirected to %s, want %s?error=%s&state=st-123", resp.location, appCallback, tt.wantError)
			}
			wantRejected(t, f.srv, tt.reason, 1)
		})
	}
}

func TestConsentPage(t *testing.T) {
	f := newFixture(t, nil)
	_, resp := f.consentPage(authParams("scope", "read:user <b>bold</b>"))
	for _, want := range []string{
		sandboxLabel,
		"Test App", "<code>app</code>", appCallback,
		"<li>read:user</li>", "&lt;b&gt;bold&lt;/b&gt;", // scopes come from the request: escaped
		`action="/sandbox/authorize"`, `method="post"`,
		`value="1001" checked`, "Ada Lovelace", `value="1002"`,
		`value="authorize">Authorize</button>`, `value="deny">Deny</button>`,
	} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(resp.body, "<script") || strings.Contains(resp.body, "<b>bold") {
		t.Errorf("consent page has a script or unescaped markup:\n%s", resp.body)
	}
	for header, want := range map[string]string{
		"Cache-Control":           "no-store",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "frame-ancestors 'none'",
	} {
		if !strings.Contains(resp.header.Get(header), want) {
			t.Errorf("%s = %q, want it to contain %q", header, resp.header.Get(header), want)
		}
	}
	if c := resp.header.Get("Set-Cookie"); !strings.Contains(c, "sbx_browser=") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") || !strings.Contains(c, "Path=/sandbox/") {
		t.Errorf("browser cookie %q", c)
	}
}

func TestConsentAuthorize(t *testing.T) {
	f := newFixture(t, nil)
	code := f.code(authParams(), grace.ID)
	access, _ := f.tokens(code)
	if g := f.srv.Issued(); len(g) != 1 || g[0].UserID != grace.ID || g[0].AccessToken != access {
		t.Fatalf("Issued() = %+v, want one grant for user %s", g, grace.ID)
	}

	t.Run("redirect URI keeps its own query", func(t *testing.T) {
		q := authParams("redirect_uri", "https://app.example/cb?tenant=7")
		token, _ := f.consentPage(q)
		resp := f.postForm(f.browser, "/authorize", url.Values{"form_token": {token}, "user": {ada.ID}, "decision": {"authorize"}})
		codeFrom(t, resp, q.Get("redirect_uri"), "st-123")
		if resp.location.Query().Get("tenant") != "7" {
			t.Fatalf("redirect %s lost tenant=7", resp.location)
		}
	})
}

func TestConsentDeny(t *testing.T) {
	f := newFixture(t, nil)
	token, _ := f.consentPage(authParams())
	resp := f.postForm(f.browser, "/authorize", url.Values{"form_token": {token}, "user": {ada.ID}, "decision": {"deny"}})
	if resp.status != http.StatusFound || resp.location == nil {
		t.Fatalf("status %d, want 302", resp.status)
	}
	q := resp.location.Query()
	if q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Get("state") != "st-123" || q.Has("code") {
		t.Fatalf("redirected to %s, want error=access_denied with description and state", resp.location)
	}
	if st := f.srv.Stats(); st.Denials != 1 || st.Authorizations != 0 {
		t.Fatalf("Stats = %+v, want 1 denial and no authorization", st)
	}
}

// The decision must come from the page this browser was shown: a one-time form token in
// the POST body, matching the browser's cookie.
func TestConsentRefusesForgedDecisions(t *testing.T) {
	decision := func(token string) url.Values {
		return url.Values{"form_token": {token}, "user": {ada.ID}, "decision": {"authorize"}}
	}
	tests := []struct {
		name       string
		send       func(f *fixture, token string) response
		wantStatus int
		reason     sandbox.Reason
	}{
		{"no form token", func(f *fixture, _ string) response {
			return f.postForm(f.browser, "/authorize", url.Values{"user": {ada.ID}, "decision": {"authorize"}})
		}, 400, sandbox.ReasonBadFormToken},
		{"wrong form token", func(f *fixture, token string) response {
			return f.postForm(f.browser, "/authorize", decision(token+"x"))
		}, 400, sandbox.ReasonBadFormToken},
		{"form token used twice", func(f *fixture, token string) response {
			f.postForm(f.browser, "/authorize", decision(token))
			return f.postForm(f.browser, "/authorize", decision(token))
		}, 400, sandbox.ReasonBadFormToken},
		{"form token expired", func(f *fixture, token string) response {
			f.clock.Advance(11 * time.Minute)
			return f.postForm(f.browser, "/authorize", decision(token))
		}, 400, sandbox.ReasonBadFormToken},
		{"other browser without the cookie", func(f *fixture, token string) response {
			return f.postForm(newBrowser(f.t), "/authorize", decision(token))
		}, 400, sandbox.ReasonBadFormToken},
		{"other browser with its own cookie", func(f *fixture, token string) response {
			other := newBrowser(f.t)
			f.get(other, "/authorize", authParams())
			return f.postForm(other, "/authorize", decision(token))
		}, 400, sandbox.ReasonBadFormToken},
		{"cross-site POST", func(f *fixture, token string) response {
			return f.postForm(f.browser, "/authorize", decision(token), func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") })
		}, 403, sandbox.ReasonBadFormToken},
		{"form token in the URL, not the body", func(f *fixture, token string) response {
			req, _ := http.NewRequest(http.MethodPost, f.base+"/authorize?"+decision(token).Encode(), strings.NewReader(""))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return f.do(f.browser, req)
		}, 400, sandbox.ReasonBadFormToken},
		{"not a form", func(f *fixture, token string) response {
			return f.postForm(f.browser, "/authorize", decision(token), func(r *http.Request) { r.Header.Set("Content-Type", "application/json") })
		}, 400, sandbox.ReasonMalformed},
		{"unknown user", func(f *fixture, token string) response {
			return f.postForm(f.browser, "/authorize", url.Values{"form_token": {token}, "user": {"999"}, "decision": {"authorize"}})
		}, 400, sandbox.ReasonUnknownUser},
		{"no decision", func(f *fixture, token string) response {
			return f.postForm(f.browser, "/authorize", url.Values{"form_token": {token}, "user": {ada.ID}})
		}, 400, sandbox.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			token, _ := f.consentPage(authParams())
			resp := tt.send(f, token)
			if resp.status != tt.wantStatus || resp.location != nil {
				t.Fatalf("status %d, Location %v; want %d and no redirect", resp.status, resp.location, tt.wantStatus)
			}
			wantRejected(t, f.srv, tt.reason, 1)
			// Only the "used twice" case may have authorized once, with its first POST.
			if n := f.srv.Stats().Authorizations; n > 1 || (n == 1 && tt.name != "form token used twice") {
				t.Fatalf("Authorizations = %d", n)
			}
		})
	}

	t.Run("GET with decision parameters only shows the page", func(t *testing.T) {
		f := newFixture(t, nil)
		resp := f.get(f.browser, "/authorize", authParams("decision", "authorize", "user", ada.ID))
		if resp.status != http.StatusOK || resp.location != nil || f.srv.Stats().Authorizations != 0 {
			t.Fatalf("status %d, Location %v, %d authorizations; want the page and no code", resp.status, resp.location, f.srv.Stats().Authorizations)
		}
	})
}

func TestAutoApprove(t *testing.T) {
	f := newFixture(t, func(o *sandbox.Options) { o.AutoApprove = ada.ID })
	resp := f.get(f.browser, "/authorize", authParams())
	code := codeFrom(t, resp, appCallback, "st-123")
	if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("redirect with a code has Cache-Control %q, want no-store", cc)
	}
	f.tokens(code)
	if g := f.srv.Issued(); len(g) != 1 || g[0].UserID != ada.ID {
		t.Fatalf("Issued() = %+v, want one grant for %s", g, ada.ID)
	}
}

func TestRealProviderPaths(t *testing.T) {
	f := newFixture(t, func(o *sandbox.Options) { o.AutoApprove = ada.ID })
	for _, path := range []string{"/login/oauth/authorize", "/oauth/authorize", "/o/oauth2/auth", "/o/oauth2/v2/auth", "/api/oauth2/authorize"} {
		t.Run(path, func(t *testing.T) {
			codeFrom(t, f.get(f.browser, path, authParams()), appCallback, "st-123")
		})
	}
	for _, path := range []string{"/login/oauth/access_token", "/oauth/token", "/api/oauth.access", "/api/oauth2/token", "/api/token"} {
		t.Run(path, func(t *testing.T) {
			code := codeFrom(t, f.get(f.browser, "/authorize", authParams()), appCallback, "st-123")
			if resp := f.postForm(http.DefaultClient, path, exchangeForm(code)); resp.status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.status, resp.body)
			}
		})
	}
	for _, path := range []string{"/oauth/revoke", "/api/oauth2/token/revoke", "/oauth/v2/revoke"} {
		t.Run(path, func(t *testing.T) {
			access, _ := f.tokens(codeFrom(t, f.get(f.browser, "/authorize", authParams()), appCallback, "st-123"))
			form := url.Values{"token": {access}, "client_id": {appID}, "client_secret": {appSecret}}
			if resp := f.postForm(http.DefaultClient, path, form); resp.status != http.StatusOK || f.srv.Live(access) {
				t.Fatalf("status %d, token live afterwards: %v", resp.status, f.srv.Live(access))
			}
		})
	}
}
