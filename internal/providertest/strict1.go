package providertest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// StrictOAuth1 is an OAuth 1.0a provider (RFC 5849) that enforces what its Entry declares:
// every request signed (HMAC-SHA1, verified by the same verifier as the Twitter fake, from
// the RFC), oauth_callback on the request token, the request token single-use and bound to
// the verifier, the entry's authorization parameters and scope, its headers, its
// revocation form. Safe for concurrent use.
type StrictOAuth1 struct {
	srv *httptest.Server
	e   Entry

	ledger
	v        verifier
	requests map[string]*oauth1Request // request token → its state
	access   map[string]string         // access token → secret
}

type oauth1Request struct {
	secret, callback, verifier string
	used                       bool
}

// NewStrictOAuth1 starts the fake; it stops when the test ends.
func NewStrictOAuth1(t testing.TB, e Entry) *StrictOAuth1 {
	t.Helper()
	f := &StrictOAuth1{e: e, requests: map[string]*oauth1Request{}, access: map[string]string{},
		v: verifier{consumers: map[string]string{e.ClientID: e.ClientSecret}, now: time.Now, nonces: newNonceLog()}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// Rewrites sends every host of the entry's URLs to the fake.
func (f *StrictOAuth1) Rewrites() []Rewrite { return hostRewrites(f.srv.URL, f.e.urls()...) }

// Live reports whether an access token would be accepted now.
func (f *StrictOAuth1) Live(token string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.access[token]
	return ok
}

func (f *StrictOAuth1) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ep := f.e.endpoint(r)
	reason := f.e.checkHeaders(r, ep)
	if reason == "" {
		switch ep {
		case "request_token":
			reason = f.requestToken(w, r)
		case "authorize":
			reason = f.authorize(w, r)
		case "token":
			reason = f.accessToken(w, r)
		case "userinfo", "api", "revoke":
			reason = f.resource(w, r, ep)
		default:
			reason = "no endpoint of the entry at " + r.Method + " " + r.URL.Path
		}
	}
	f.calls = append(f.calls, StrictCall{Endpoint: ep, Rejected: reason})
	if reason != "" {
		http.Error(w, reason, http.StatusUnauthorized)
	}
}

func (f *StrictOAuth1) requestToken(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodPost {
		return "request token: POST expected"
	}
	s, reason := f.v.verify(r, nil)
	if reason != "" {
		return reason
	}
	cb := s.oauth["oauth_callback"]
	if cb != f.e.RedirectURI {
		return "oauth_callback is not the registered callback"
	}
	token, secret := "rq-"+random(), "rqs-"+random()
	f.requests[token] = &oauth1Request{secret: secret, callback: cb}
	formAnswer(w, url.Values{"oauth_token": {token}, "oauth_token_secret": {secret}, "oauth_callback_confirmed": {"true"}})
	return ""
}

// authorize approves at once: a redirect to the callback with the token and a verifier.
func (f *StrictOAuth1) authorize(w http.ResponseWriter, r *http.Request) string {
	q := r.URL.Query()
	rq := f.requests[q.Get("oauth_token")]
	if rq == nil || rq.used || rq.verifier != "" {
		return "unknown or spent request token"
	}
	for k, v := range f.e.Spec.AuthParams {
		if q.Get(k) != v {
			return "authorization parameter " + k + " missing or wrong"
		}
	}
	if len(f.e.ScopesRequested) > 0 && q.Get(or(f.e.Spec.ScopeParam, "scope")) != strings.Join(f.e.ScopesRequested, or(f.e.Spec.ScopeSeparator, " ")) {
		return "scope missing or not separated as declared"
	}
	rq.verifier = "vf-" + random()
	to, _ := url.Parse(rq.callback)
	back := to.Query()
	back.Set("oauth_token", q.Get("oauth_token"))
	back.Set("oauth_verifier", rq.verifier)
	to.RawQuery = back.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
	return ""
}

func (f *StrictOAuth1) accessToken(w http.ResponseWriter, r *http.Request) string {
	var rq *oauth1Request
	s, reason := f.v.verify(r, func(_, token string) (string, bool) {
		rq = f.requests[token]
		if rq == nil || rq.used {
			return "", false
		}
		return rq.secret, true
	})
	if reason != "" {
		return reason
	}
	rq.used = true
	if rq.verifier == "" || s.oauth["oauth_verifier"] != rq.verifier {
		return "wrong or missing oauth_verifier"
	}
	token, secret := "ac-"+random(), "acs-"+random()
	f.access[token] = secret
	f.issued = append(f.issued, StrictGrant{GrantType: "oauth1", AccessToken: token, RefreshToken: secret})
	formAnswer(w, url.Values{"oauth_token": {token}, "oauth_token_secret": {secret}})
	return ""
}

// resource serves the profile, the API and the revocation, each signed with a live access token.
func (f *StrictOAuth1) resource(w http.ResponseWriter, r *http.Request, ep string) string {
	s, reason := f.v.verify(r, func(_, token string) (string, bool) {
		secret, ok := f.access[token]
		return secret, ok
	})
	if reason != "" {
		return reason
	}
	switch ep {
	case "userinfo":
		for k, v := range f.e.Spec.UserInfoParams {
			if r.URL.Query().Get(k) != v {
				return "userinfo parameter " + k + " missing or wrong"
			}
		}
		doc := map[string]any{}
		placeProfile(doc, f.e.Spec.Profile, f.e.User)
		writeJSON(w, http.StatusOK, doc)
	case "api":
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "path": r.URL.Path})
	case "revoke":
		token := s.oauth["oauth_token"]
		switch f.e.RevocationForm {
		case "oauth1":
			if r.Method != http.MethodPost || r.PostFormValue("access_token") != token {
				return "revocation: POST naming the signing token expected"
			}
		case "oauth1-delete":
			if r.Method != http.MethodDelete || !strings.Contains(r.URL.Path, "/"+url.PathEscape(token)) {
				return "revocation: DELETE of the signing token expected"
			}
		default:
			return "the entry declares no revocation here"
		}
		delete(f.access, token)
		f.revoked = append(f.revoked, token)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}
	return ""
}
