// Package providertest holds test doubles of third-party providers for tests of any
// package: an OAuth 1.0a Twitter that checks what Twitter checks (signatures verified
// from RFC 5849, with the RFC's examples in RFC5849Vectors); strict OAuth 2 and OAuth 1.0a
// providers that enforce exactly what a catalog entry declares (strict.go, strict1.go);
// fakes of nine real providers written from their documentation (shapes*.go); a
// RoundTripper that sends requests for real provider hosts to local servers; and the rules
// (SandboxRewrites) that send goth's hard-coded OAuth 2 hosts to internal/sandbox, the
// demo's OAuth 2 and OpenID Connect server. It must not be imported by non-test code.
package providertest

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/retain"
)

// TwitterUser is the account the fake's authorize page approves as.
type TwitterUser struct {
	ID, ScreenName, Name, Email, Description, ProfileImageURL, Location string
}

// DefaultTwitterUser is the account a new fake approves as.
var DefaultTwitterUser = TwitterUser{
	ID: "1234567890", ScreenName: "broker_tester", Name: "Broker Tester", Email: "tester@example.com",
	Description: "Testing things", ProfileImageURL: "https://pbs.twimg.com/profile_images/1/tester_normal.jpg",
	Location: "Springfield",
}

// TwitterCall is one signed request the fake received.
type TwitterCall struct {
	Method, Path string
	ConsumerKey  string // the oauth_consumer_key it claimed
	Token        string // its oauth_token, "" for request_token
	Rejected     string // why the fake refused it; "" when accepted
}

// TwitterCredentials is an access token the fake issued.
type TwitterCredentials struct {
	ConsumerKey, Token, Secret, UserID, ScreenName string
}

// Twitter is a fake of Twitter's OAuth 1.0a endpoints and the two profile endpoints
// (v1.1 verify_credentials, v2 users/me), plus v1.1 statuses/update (a signed form POST,
// for API proxy tests) and v1.1 oauth/invalidate_token (revocation). It verifies every signature with the consumer
// secret and the right token secret, rejects timestamps more than five minutes off and
// reused nonces, requires oauth_callback on request_token, makes request tokens single-use
// and checks the verifier. Safe for concurrent use.
type Twitter struct {
	srv *httptest.Server

	mu        sync.Mutex
	consumers map[string]string // key → secret
	user      TwitterUser
	deny      bool
	null      map[string]bool
	now       func() time.Time
	nonces    *nonceLog
	requests  map[string]*twitterRequestToken
	access    map[string]*twitterAccess
	calls     []TwitterCall
	issued    []TwitterCredentials

	retain      int      // SetRetain
	accessOrder []string // the keys of access in the order they were issued, while retain > 0
}

type twitterRequestToken struct {
	consumer, secret, callback, verifier string
	user                                 *TwitterUser // set once the user approved
}

type twitterAccess struct {
	consumer, secret string
	user             TwitterUser
}

// NewTwitter starts the fake; it stops when the test ends. consumers maps each consumer
// key the fake accepts to its secret.
func NewTwitter(t testing.TB, consumers map[string]string) *Twitter {
	t.Helper()
	tw := &Twitter{
		consumers: map[string]string{}, user: DefaultTwitterUser, null: map[string]bool{}, now: time.Now,
		nonces: newNonceLog(), requests: map[string]*twitterRequestToken{}, access: map[string]*twitterAccess{},
	}
	for k, v := range consumers {
		tw.consumers[k] = v
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/request_token", tw.requestToken)
	mux.HandleFunc("GET /oauth/authorize", tw.authorize)
	mux.HandleFunc("GET /oauth/authenticate", tw.authorize)
	mux.HandleFunc("POST /oauth/access_token", tw.accessToken)
	mux.HandleFunc("GET /1.1/account/verify_credentials.json", tw.verifyCredentials)
	mux.HandleFunc("GET /2/users/me", tw.usersMe)
	mux.HandleFunc("POST /1.1/statuses/update.json", tw.statusUpdate)
	mux.HandleFunc("POST /1.1/oauth/invalidate_token", tw.invalidateToken)
	tw.srv = httptest.NewServer(mux)
	t.Cleanup(tw.srv.Close)
	return tw
}

// URL is the fake's base URL.
func (tw *Twitter) URL() string { return tw.srv.URL }

// Endpoints points a twitter-type provider at the fake.
func (tw *Twitter) Endpoints() config.Endpoints {
	return config.Endpoints{
		RequestTokenURL: tw.srv.URL + "/oauth/request_token", AuthURL: tw.srv.URL + "/oauth/authorize",
		TokenURL: tw.srv.URL + "/oauth/access_token", ProfileURL: tw.srv.URL + "/1.1/account/verify_credentials.json",
	}
}

// EndpointsV2 points a twitterv2-type provider at the fake.
func (tw *Twitter) EndpointsV2() config.Endpoints {
	e := tw.Endpoints()
	e.ProfileURL = tw.srv.URL + "/2/users/me"
	return e
}

// SetUser changes the account later approvals are made as.
func (tw *Twitter) SetUser(u TwitterUser) { tw.mu.Lock(); tw.user = u; tw.mu.Unlock() }

// SetDeny makes the authorize page answer as a user who clicked "Cancel": a redirect to
// the callback with denied=<request token>.
func (tw *Twitter) SetDeny(deny bool) { tw.mu.Lock(); tw.deny = deny; tw.mu.Unlock() }

// SetNullFields makes the profile endpoints answer JSON null for these fields, named as
// in v1.1 (id_str, name, screen_name, email, description, profile_image_url, location);
// v2 uses its own names for id_str (id) and screen_name (username).
func (tw *Twitter) SetNullFields(fields ...string) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.null = map[string]bool{}
	for _, f := range fields {
		tw.null[f] = true
	}
}

// SetRetain bounds what the fake remembers, for a long load test (the benchmark's): of the
// access tokens, the calls Calls lists and the tokens Issued lists, it keeps each kind's
// newest n to 2n and forgets the rest, oldest first; a forgotten access token answers as an
// unknown one. Zero, the default, keeps everything, as tests need.
func (tw *Twitter) SetRetain(n int) { tw.mu.Lock(); tw.retain = max(n, 0); tw.mu.Unlock() }

// SetClock replaces the fake's clock, to test timestamp checks.
func (tw *Twitter) SetClock(now func() time.Time) { tw.mu.Lock(); tw.now = now; tw.mu.Unlock() }

// Calls returns every signed request so far (the newest ones under SetRetain), oldest first.
func (tw *Twitter) Calls() []TwitterCall {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return append([]TwitterCall(nil), tw.calls...)
}

// Issued returns every access token issued so far (the newest ones under SetRetain), oldest first.
func (tw *Twitter) Issued() []TwitterCredentials {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return append([]TwitterCredentials(nil), tw.issued...)
}

func (tw *Twitter) check(w http.ResponseWriter, r *http.Request, tokenSecret func(consumer, token string) (string, bool)) (*signedRequest, bool) {
	v := verifier{consumers: tw.consumers, now: tw.now, nonces: tw.nonces}
	s, reason := v.verify(r, tokenSecret)
	call := TwitterCall{Method: r.Method, Path: r.URL.Path, Rejected: reason}
	if s != nil {
		// Copies: the parsed values share the request's Authorization header, which the
		// call log would otherwise keep whole for as long as the fake runs.
		call.ConsumerKey, call.Token = strings.Clone(s.oauth["oauth_consumer_key"]), strings.Clone(s.oauth["oauth_token"])
	}
	tw.calls = append(retain.Newest(tw.calls, tw.retain), call)
	if reason != "" {
		twitterError(w, http.StatusUnauthorized, 32, "Could not authenticate you.")
		return nil, false
	}
	return s, true
}

func (tw *Twitter) requestToken(w http.ResponseWriter, r *http.Request) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	s, ok := tw.check(w, r, nil)
	if !ok {
		return
	}
	cb := s.oauth["oauth_callback"]
	if u, err := url.Parse(cb); cb != "oob" && (err != nil || !u.IsAbs()) {
		tw.calls[len(tw.calls)-1].Rejected = "oauth_callback missing or not absolute"
		twitterError(w, http.StatusUnauthorized, 415, "Callback URL not approved for this client application.")
		return
	}
	token, secret := random(), random()
	tw.requests[token] = &twitterRequestToken{consumer: strings.Clone(s.oauth["oauth_consumer_key"]), secret: secret, callback: cb}
	formAnswer(w, url.Values{"oauth_token": {token}, "oauth_token_secret": {secret}, "oauth_callback_confirmed": {"true"}})
}

func (tw *Twitter) authorize(w http.ResponseWriter, r *http.Request) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	token := r.URL.Query().Get("oauth_token")
	rt := tw.requests[token]
	if rt == nil || rt.user != nil || rt.callback == "oob" {
		http.Error(w, "This page is no longer valid.", http.StatusBadRequest)
		return
	}
	u, _ := url.Parse(rt.callback)
	q := u.Query()
	if tw.deny {
		delete(tw.requests, token)
		q.Set("denied", token)
	} else {
		user := tw.user
		rt.user, rt.verifier = &user, random()
		q.Set("oauth_token", token)
		q.Set("oauth_verifier", rt.verifier)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (tw *Twitter) accessToken(w http.ResponseWriter, r *http.Request) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	s, ok := tw.check(w, r, func(consumer, token string) (string, bool) {
		rt := tw.requests[token]
		if rt == nil || rt.consumer != consumer {
			return "", false
		}
		return rt.secret, true
	})
	if !ok {
		return
	}
	token := s.oauth["oauth_token"]
	rt := tw.requests[token]
	delete(tw.requests, token) // single use, whatever the outcome
	if rt.user == nil || s.oauth["oauth_verifier"] == "" || !hmac.Equal([]byte(s.oauth["oauth_verifier"]), []byte(rt.verifier)) {
		tw.calls[len(tw.calls)-1].Rejected = "wrong or missing oauth_verifier"
		twitterError(w, http.StatusUnauthorized, 89, "Invalid or expired token.")
		return
	}
	at := &twitterAccess{consumer: rt.consumer, secret: random(), user: *rt.user}
	tokenValue := rt.user.ID + "-" + random()
	tw.access[tokenValue] = at
	tw.accessOrder = retain.Remember(tw.access, tw.accessOrder, tokenValue, tw.retain)
	tw.issued = append(retain.Newest(tw.issued, tw.retain), TwitterCredentials{rt.consumer, tokenValue, at.secret, rt.user.ID, rt.user.ScreenName})
	formAnswer(w, url.Values{"oauth_token": {tokenValue}, "oauth_token_secret": {at.secret},
		"user_id": {rt.user.ID}, "screen_name": {rt.user.ScreenName}})
}

// resource verifies a request signed with an access token and returns its user.
func (tw *Twitter) resource(w http.ResponseWriter, r *http.Request) (TwitterUser, map[string]bool, bool) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	s, ok := tw.check(w, r, func(consumer, token string) (string, bool) {
		at := tw.access[token]
		if at == nil || at.consumer != consumer {
			return "", false
		}
		return at.secret, true
	})
	if !ok {
		return TwitterUser{}, nil, false
	}
	return tw.access[s.oauth["oauth_token"]].user, tw.null, true
}

func (tw *Twitter) verifyCredentials(w http.ResponseWriter, r *http.Request) {
	u, null, ok := tw.resource(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(u.ID, 10, 64)
	body := map[string]any{
		"id": id, "id_str": u.ID, "name": u.Name, "screen_name": u.ScreenName, "description": u.Description,
		"profile_image_url": u.ProfileImageURL, "profile_image_url_https": u.ProfileImageURL, "location": u.Location,
		"protected": false, "verified": false,
	}
	if r.URL.Query().Get("include_email") == "true" {
		body["email"] = u.Email
	}
	for f := range null {
		if _, ok := body[f]; ok {
			body[f] = nil
		}
		if f == "profile_image_url" {
			body["profile_image_url_https"] = nil
		}
	}
	writeJSON(w, http.StatusOK, body)
}

func (tw *Twitter) usersMe(w http.ResponseWriter, r *http.Request) {
	u, null, ok := tw.resource(w, r)
	if !ok {
		return
	}
	data := map[string]any{"id": u.ID, "name": u.Name, "username": u.ScreenName}
	optional := map[string]string{"description": u.Description, "profile_image_url": u.ProfileImageURL, "location": u.Location}
	fields := map[string]bool{}
	for _, f := range strings.Split(r.URL.Query().Get("user.fields"), ",") {
		fields[f] = true
	}
	for k, v := range optional {
		if fields[k] {
			data[k] = v
		}
	}
	v2 := map[string]string{"id_str": "id", "screen_name": "username"}
	for f := range null {
		if n, ok := v2[f]; ok {
			f = n
		}
		if _, ok := data[f]; ok {
			data[f] = nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// statusUpdate is Twitter's v1.1 "post a tweet": form parameters, which the signature covers.
func (tw *Twitter) statusUpdate(w http.ResponseWriter, r *http.Request) {
	u, _, ok := tw.resource(w, r)
	if !ok {
		return
	}
	status := r.PostFormValue("status")
	if status == "" {
		twitterError(w, http.StatusForbidden, 170, "Missing required parameter: status.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id_str": random(), "text": status, "user": map[string]any{"id_str": u.ID}})
}

// invalidateToken is Twitter's revocation: a request signed with the access token, which
// names that same token in access_token, ends it.
func (tw *Twitter) invalidateToken(w http.ResponseWriter, r *http.Request) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	s, ok := tw.check(w, r, func(consumer, token string) (string, bool) {
		at := tw.access[token]
		if at == nil || at.consumer != consumer {
			return "", false
		}
		return at.secret, true
	})
	if !ok {
		return
	}
	token := s.oauth["oauth_token"]
	if r.PostFormValue("access_token") != token {
		tw.calls[len(tw.calls)-1].Rejected = "access_token is not the token that signed the request"
		twitterError(w, http.StatusForbidden, 348, "Client application is not permitted to invalidate this token.")
		return
	}
	delete(tw.access, token)
	writeJSON(w, http.StatusOK, map[string]string{"access_token": token})
}

func twitterError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"code": code, "message": message}}})
}

func formAnswer(w http.ResponseWriter, v url.Values) {
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	_, _ = w.Write([]byte(v.Encode()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}
