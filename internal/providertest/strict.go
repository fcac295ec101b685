package providertest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// Entry is one provider as a catalog entry (or a `type: oauth2` provider) describes it,
// resolved for one app: what the strict fakes enforce. It comes from the entry under test, so
// a strict fake proves the broker does what the entry says; whether the entry says what the
// real provider does is what the shape fakes (shapes.go), written from the providers' own
// documentation, are for.
type Entry struct {
	Spec                     config.Spec // placeholders filled, paths resolved
	PKCE                     bool
	APIBaseURL               string
	RevocationForm           string // "" when the entry has none
	ClientID, ClientSecret   string
	RedirectURI              string
	User                     StrictUser
	ScopesRequested, Granted []string // Granted nil: everything requested
}

// StrictUser is the account the strict fakes approve as.
type StrictUser struct{ ID, Name, NickName, Email, AvatarURL string }

// DefaultStrictUser is the account a strict fake approves as unless told otherwise.
var DefaultStrictUser = StrictUser{ID: "u-31337", Name: "Strict Tester", NickName: "strict", Email: "strict@example.com", AvatarURL: "https://cdn.example.com/strict.png"}

// StrictOAuth2 is an OAuth 2 authorization server, userinfo endpoint, API and revocation
// endpoint that enforces exactly what its Entry declares: the client authentication method
// (and no other), PKCE S256 (and no challenge where the entry has none), the exact
// redirect_uri, the scope parameter and separator, the extra authorization and token
// parameters, the required headers on every call, single-use codes, live tokens, rotation of
// refresh tokens where declared. It answers in the entry's shape: the token nested where the
// entry reads it, the profile at the entry's JSON pointers in the userinfo answer, the token
// answer or an ID token. It can also grant fewer scopes than asked (SetGrant), issue
// non-expiring tokens without a refresh token (SetNoExpiry) and answer the token request
// with HTTP 200 and {"error": …} as GitHub does (SetDisguisedError). Safe for concurrent use.
type StrictOAuth2 struct {
	srv *httptest.Server
	e   Entry

	ledger
	now       func() time.Time
	noExpiry  bool
	disguised string
	codes     map[string]*strictCode
	access    map[string]time.Time // access token → expiry (zero: none); deleted when revoked
	refresh   map[string]bool      // refresh token → live
}

// ledger is what a strict fake records, behind the fake's one lock.
type ledger struct {
	mu      sync.Mutex
	issued  []StrictGrant
	revoked []string
	calls   []StrictCall
}

// Issued returns every token answer given, oldest first.
func (l *ledger) Issued() []StrictGrant {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.issued)
}

// Revoked returns the tokens revocations named, oldest first.
func (l *ledger) Revoked() []string { l.mu.Lock(); defer l.mu.Unlock(); return slices.Clone(l.revoked) }

// Calls returns every request received, oldest first.
func (l *ledger) Calls() []StrictCall { l.mu.Lock(); defer l.mu.Unlock(); return slices.Clone(l.calls) }

// StrictGrant is one token answer the fake gave.
type StrictGrant struct {
	GrantType, AccessToken, RefreshToken string
	Scopes                               []string
}

// StrictCall is one request the fake received, and why it refused it ("" when it did not).
type StrictCall struct{ Endpoint, Rejected string }

type strictCode struct {
	challenge string
	used      bool
	scopes    []string
}

// NewStrictOAuth2 starts the fake; it stops when the test ends. Send the entry's hosts to it
// with Rewrites.
func NewStrictOAuth2(t testing.TB, e Entry) *StrictOAuth2 {
	t.Helper()
	f := &StrictOAuth2{e: e, now: time.Now, codes: map[string]*strictCode{}, access: map[string]time.Time{}, refresh: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// Rewrites sends every host of the entry's URLs to the fake, paths unchanged.
func (f *StrictOAuth2) Rewrites() []Rewrite { return hostRewrites(f.srv.URL, f.e.urls()...) }

// SetGrant makes later grants carry only these scopes, as a user who unticked the others.
func (f *StrictOAuth2) SetGrant(scopes ...string) { f.mu.Lock(); f.e.Granted = scopes; f.mu.Unlock() }

// SetNoExpiry makes later token answers carry no expires_in and no refresh token.
func (f *StrictOAuth2) SetNoExpiry() { f.mu.Lock(); f.noExpiry = true; f.mu.Unlock() }

// SetDisguisedError makes the token endpoint answer HTTP 200 {"error": code}.
func (f *StrictOAuth2) SetDisguisedError(code string) { f.mu.Lock(); f.disguised = code; f.mu.Unlock() }

// Live reports whether an access or refresh token would be accepted now.
func (f *StrictOAuth2) Live(token string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if exp, ok := f.access[token]; ok {
		return exp.IsZero() || f.now().Before(exp)
	}
	return f.refresh[token]
}

// urls are the entry's endpoints and API base.
func (e Entry) urls() []string {
	s := e.Spec
	return []string{s.AuthURL, s.TokenURL, s.RefreshURL, s.UserInfoURL, s.RevocationURL, e.APIBaseURL, s.RequestTokenURL}
}

// hostRewrites maps each distinct host of urls to target.
func hostRewrites(target string, urls ...string) []Rewrite {
	var rules []Rewrite
	seen := map[string]bool{}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || seen[u.Host] {
			continue
		}
		seen[u.Host] = true
		rules = append(rules, Rewrite{Host: u.Host, To: target})
	}
	return rules
}

// checkHeaders enforces the entry's required headers on every call but the browser's
// authorize request.
func (e Entry) checkHeaders(r *http.Request, ep string) string {
	for k, v := range e.Spec.Headers {
		if ep != "authorize" && r.Header.Get(k) != v {
			return "header " + k + " missing or wrong"
		}
	}
	return ""
}

// endpoint names the entry's endpoint a request was sent to (by the host and path it was
// meant for, as RewriteTransport forwards them), or "".
func (e Entry) endpoint(r *http.Request) string {
	host := r.Header.Get("X-Forwarded-Host")
	if host == "" {
		host = r.Host
	}
	at := func(raw string) bool {
		u, err := url.Parse(strings.ReplaceAll(raw, "{token}", "TOKEN"))
		if err != nil || raw == "" || !strings.EqualFold(u.Host, host) {
			return false
		}
		if strings.Contains(raw, "{token}") {
			prefix, _, _ := strings.Cut(u.Path, "TOKEN")
			return strings.HasPrefix(r.URL.Path, prefix)
		}
		return r.URL.Path == u.Path
	}
	s := e.Spec
	switch {
	case at(s.RequestTokenURL):
		return "request_token"
	case at(s.AuthURL):
		return "authorize"
	case at(s.TokenURL), at(s.RefreshURL):
		return "token"
	case at(s.UserInfoURL) && r.Method == or(s.UserInfoMethod, http.MethodGet):
		return "userinfo"
	case at(s.RevocationURL):
		return "revoke"
	}
	if base, err := url.Parse(e.APIBaseURL); err == nil && e.APIBaseURL != "" && strings.EqualFold(base.Host, host) &&
		strings.HasPrefix(r.URL.Path, strings.TrimSuffix(base.Path, "/")+"/") {
		return "api"
	}
	return ""
}

func (f *StrictOAuth2) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ep := f.e.endpoint(r)
	reject := func(status int, reason string) {
		f.calls = append(f.calls, StrictCall{Endpoint: ep, Rejected: reason})
		writeJSON(w, status, map[string]string{"error": "invalid_request", "error_description": reason})
	}
	if ep == "" {
		reject(http.StatusNotFound, "no endpoint of the entry at "+r.Method+" "+r.URL.Path)
		return
	}
	if reason := f.e.checkHeaders(r, ep); reason != "" {
		reject(http.StatusBadRequest, reason)
		return
	}
	var reason string
	switch ep {
	case "authorize":
		reason = f.authorize(w, r)
	case "token":
		reason = f.token(w, r)
	case "userinfo", "api":
		reason = f.resource(w, r, ep)
	case "revoke":
		reason = f.revoke(w, r)
	default:
		reason = "not an OAuth 2 endpoint"
	}
	if reason != "" {
		status := http.StatusBadRequest
		if strings.HasPrefix(reason, "token:") {
			status = http.StatusUnauthorized
		}
		reject(status, reason)
		return
	}
	f.calls = append(f.calls, StrictCall{Endpoint: ep})
}

// authorize is RFC 6749 §4.1.1 as the entry sends it; it approves at once and redirects.
func (f *StrictOAuth2) authorize(w http.ResponseWriter, r *http.Request) string {
	q, s := r.URL.Query(), f.e.Spec
	switch {
	case r.Method != http.MethodGet:
		return "authorize must be a GET"
	case q.Get("response_type") != "code":
		return "response_type is not code"
	case q.Get("client_id") != f.e.ClientID:
		return "unknown client_id"
	case q.Get("redirect_uri") != f.e.RedirectURI:
		return "redirect_uri is not the registered one"
	case q.Get("state") == "":
		return "no state"
	}
	for k, v := range s.AuthParams {
		if q.Get(k) != v {
			return "authorization parameter " + k + " missing or wrong"
		}
	}
	scopes, reason := f.scopesOf(q)
	if reason != "" {
		return reason
	}
	challenge := q.Get("code_challenge")
	switch {
	case f.e.PKCE && (challenge == "" || q.Get("code_challenge_method") != "S256"):
		return "PKCE S256 challenge missing"
	case !f.e.PKCE && q.Has("code_challenge"):
		return "a PKCE challenge the entry does not declare"
	}
	code := "code-" + random()
	f.codes[code] = &strictCode{challenge: challenge, scopes: scopes}
	to, _ := url.Parse(f.e.RedirectURI)
	back := to.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	to.RawQuery = back.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
	return ""
}

// scopesOf reads the scope parameter: the entry's name for it, split by its separator.
func (f *StrictOAuth2) scopesOf(q url.Values) ([]string, string) {
	s := f.e.Spec
	param, sep := or(s.ScopeParam, "scope"), or(s.ScopeSeparator, " ")
	raw := q.Get(param)
	if raw == "" {
		if len(f.e.ScopesRequested) > 0 {
			return nil, "no " + param + " parameter"
		}
		return nil, ""
	}
	scopes := strings.Split(raw, sep)
	for _, sc := range scopes {
		if sc == "" || strings.ContainsAny(sc, " ,;") && !strings.Contains(sep, " ") {
			return nil, param + " is not separated by " + fmt.Sprintf("%q", sep)
		}
	}
	return scopes, ""
}

// token is RFC 6749 §4.1.3 and §6 with the client authenticated exactly as declared.
func (f *StrictOAuth2) token(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodPost {
		return "token requests are POSTs"
	}
	if err := r.ParseForm(); err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		return "token request is not a form"
	}
	if reason := f.clientAuth(r); reason != "" {
		return reason
	}
	if f.disguised != "" {
		writeJSON(w, http.StatusOK, map[string]string{"error": f.disguised, "error_description": "the code is incorrect or expired"})
		return ""
	}
	form := r.PostForm
	switch form.Get("grant_type") {
	case "authorization_code":
		for k, v := range f.e.Spec.TokenParams {
			if form.Get(k) != v {
				return "token parameter " + k + " missing or wrong"
			}
		}
		c := f.codes[form.Get("code")]
		switch {
		case c == nil || c.used:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return ""
		case form.Get("redirect_uri") != f.e.RedirectURI:
			return "redirect_uri differs from the authorization request's"
		case c.challenge != "" && s256(form.Get("code_verifier")) != c.challenge:
			return "code_verifier does not match the challenge"
		case c.challenge == "" && form.Has("code_verifier"):
			return "a code_verifier without a challenge"
		}
		c.used = true
		f.answer(w, "authorization_code", c.scopes)
	case "refresh_token":
		rt := form.Get("refresh_token")
		if !f.refresh[rt] || f.e.Spec.Refresh == "" || f.e.Spec.Refresh == config.RefreshNone {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return ""
		}
		if f.e.Spec.Refresh == config.RefreshRotating {
			f.refresh[rt] = false // RFC 9700 §4.14.2: the old one is spent
		}
		f.answer(w, "refresh_token", nil)
	default:
		return "unsupported grant_type"
	}
	return ""
}

// clientAuth accepts exactly the declared method: Basic (RFC 6749 §2.3.1, id and secret
// form-encoded first) and nothing in the body, or both in the body and no Authorization.
func (f *StrictOAuth2) clientAuth(r *http.Request) string {
	form := r.PostForm
	if f.e.Spec.TokenAuth == "none" {
		if r.Header.Get("Authorization") != "" || form.Has("client_secret") || form.Get("client_id") != f.e.ClientID {
			return "client: a public client sends its client_id and nothing else"
		}
		return ""
	}
	if f.e.Spec.TokenAuth == "post" {
		if r.Header.Get("Authorization") != "" {
			return "client: Authorization header where the entry posts its credentials"
		}
		if form.Get("client_id") != f.e.ClientID || form.Get("client_secret") != f.e.ClientSecret {
			return "client: wrong client_id or client_secret in the body"
		}
		return ""
	}
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if !ok || id != f.e.ClientID || secret != f.e.ClientSecret {
		return "client: wrong or missing HTTP Basic credentials"
	}
	if form.Has("client_secret") {
		return "client: client_secret in the body as well as in Basic"
	}
	return ""
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
