package providertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The shape fakes play real providers the way their own documentation describes them:
// the paths, the client authentication each accepts, the parameters each requires, and the
// JSON each answers with, down to field names and nesting. They are written by hand from
// those pages (each names its page) and share no code with the catalog entries, so an entry
// that reads the wrong field, authenticates the wrong way or forgets a required parameter
// fails against them. The strict fakes (strict.go) check the broker against an entry; these
// check an entry against the provider.

// ShapeClient is the app registered at a shape fake.
type ShapeClient struct{ ID, Secret, RedirectURI string }

// ShapeAccount is what a shape fake says about its user, for the test to compare with the
// identity the broker stored.
type ShapeAccount struct{ ID, Name, NickName, Email string }

// Shape is one shape fake: a provider's hosts served by an httptest server.
type Shape struct {
	Type    string   // the catalog type it plays
	Hosts   []string // the real hosts it answers for
	Account ShapeAccount
	// Refresh: the provider issues refresh tokens the broker can use. APICall is a
	// documented API path (under the entry's API base) that answers 200 for a live token,
	// called with APIMethod (GET unless set).
	Refresh            bool
	APICall, APIMethod string
	// Revokes: the provider documents a way to end the grant.
	Revokes bool

	srv    *httptest.Server
	client ShapeClient

	mu      sync.Mutex
	codes   map[string]*shapeCode
	access  map[string]bool
	refresh map[string]bool
	issued  []string
	revoked []string
	calls   []StrictCall
}

type shapeCode struct {
	redirectURI, challenge string
	scopes                 []string
	used                   bool
}

func newShape(t testing.TB, typ string, c ShapeClient, hosts ...string) *Shape {
	t.Helper()
	return &Shape{Type: typ, Hosts: hosts, client: c, codes: map[string]*shapeCode{}, access: map[string]bool{}, refresh: map[string]bool{}}
}

// serve starts the fake with mux; every request is recorded with why it was refused.
func (s *Shape) serve(t testing.TB, mux *http.ServeMux) {
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		mux.ServeHTTP(rec, r)
		if rec.status == http.StatusNotFound && rec.reason == "" {
			rec.reason = "no such endpoint: " + r.Method + " " + r.Host + r.URL.Path
		}
		s.mu.Lock()
		s.calls = append(s.calls, StrictCall{Endpoint: r.Method + " " + r.Header.Get("X-Forwarded-Host") + r.URL.Path, Rejected: rec.reason})
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
}

// Rewrites sends the provider's hosts to the fake.
func (s *Shape) Rewrites() []Rewrite {
	rules := make([]Rewrite, len(s.Hosts))
	for i, h := range s.Hosts {
		rules[i] = Rewrite{Host: h, To: s.srv.URL}
	}
	return rules
}

// Issued returns the access tokens given, oldest first.
func (s *Shape) Issued() []string { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.issued) }

// Revoked returns the tokens revoked, oldest first.
func (s *Shape) Revoked() []string { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.revoked) }

// Refused returns why the fake refused requests, if it did.
func (s *Shape) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if c.Rejected != "" {
			out = append(out, c.Endpoint+": "+c.Rejected)
		}
	}
	return out
}

// statusRecorder keeps the status and the refusal reason a handler gave.
type statusRecorder struct {
	http.ResponseWriter
	status int
	reason string
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// refuse answers an error in the provider's way and records why.
func refuse(w http.ResponseWriter, status int, reason string, body any) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.reason = reason
	}
	writeJSON(w, status, body)
}

// authorizeCode checks an authorization request's client and redirect_uri, records the code
// with the PKCE challenge (S256 only) and scopes, and redirects with code and state.
func (s *Shape) authorizeCode(w http.ResponseWriter, r *http.Request, scopes []string) {
	q := r.URL.Query()
	if q.Get("client_id") != s.client.ID || q.Get("redirect_uri") != s.client.RedirectURI {
		refuse(w, http.StatusBadRequest, "unknown client or unregistered redirect_uri", map[string]string{"error": "invalid_request"})
		return
	}
	if m := q.Get("code_challenge_method"); q.Has("code_challenge") && m != "S256" {
		refuse(w, http.StatusBadRequest, "code_challenge_method "+m, map[string]string{"error": "invalid_request"})
		return
	}
	code := "code-" + random()
	s.mu.Lock()
	s.codes[code] = &shapeCode{redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), scopes: scopes}
	s.mu.Unlock()
	to, _ := url.Parse(s.client.RedirectURI)
	back := to.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	to.RawQuery = back.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

// redeem spends a code (RFC 6749 §4.1.2: once) for the redirect_uri and verifier it was
// issued for; ok false means the answer is invalid_grant.
func (s *Shape) redeem(code, redirectURI, verifier string) (*shapeCode, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.codes[code]
	if c == nil || c.used {
		return nil, false
	}
	c.used = true
	if c.redirectURI != redirectURI || (c.challenge != "" && s256(verifier) != c.challenge) || (c.challenge == "" && verifier != "") {
		return nil, false
	}
	return c, true
}

// tokens issues an access token and, when refresh, a refresh token.
func (s *Shape) tokens(prefix string, refresh bool) (access, rt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	access = prefix + random()
	s.access[access] = true
	s.issued = append(s.issued, access)
	if refresh {
		rt = prefix + "r-" + random()
		s.refresh[rt] = true
	}
	return access, rt
}

// useRefresh checks a refresh token; rotate retires it (RFC 9700 §4.14.2).
func (s *Shape) useRefresh(rt string, rotate bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.refresh[rt] {
		return false
	}
	if rotate {
		s.refresh[rt] = false
	}
	return true
}

// bearer reports whether the request carries a live access token as "Bearer".
func (s *Shape) bearer(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	return tok, ok && s.access[tok]
}

// revoke ends every token of the (single) grant.
func (s *Shape) revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = append(s.revoked, token)
	for k := range s.access {
		s.access[k] = false
	}
	for k := range s.refresh {
		s.refresh[k] = false
	}
}

// basicClient checks HTTP Basic client credentials (RFC 6749 §2.3.1, form-encoded first).
func (s *Shape) basicClient(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	return ok && id == s.client.ID && secret == s.client.Secret
}

// bodyClient checks client_id and client_secret in the form body.
func (s *Shape) bodyClient(r *http.Request) bool {
	return r.PostFormValue("client_id") == s.client.ID && r.PostFormValue("client_secret") == s.client.Secret
}

// formOrJSON decodes a JSON request body (Notion's and Atlassian's token endpoints take JSON
// as well as forms), or the form.
func formOrJSON(r *http.Request) url.Values {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]string
		_ = json.NewDecoder(r.Body).Decode(&m)
		out := url.Values{}
		for k, v := range m {
			out.Set(k, v)
		}
		return out
	}
	_ = r.ParseForm()
	return r.PostForm
}
