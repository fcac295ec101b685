package providertest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// NewTrelloShape plays Trello's OAuth 1.0a as
// https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/ describes it:
// request and access tokens at trello.com/1/OAuthGet…, the authorize page with scope
// (comma-separated), expiration and name, every request signed (the same RFC 5849 verifier
// as the other fakes), the member at api.trello.com/1/members/me, and DELETE
// /1/tokens/{token} to revoke.
func NewTrelloShape(t testing.TB, c ShapeClient) *Shape {
	s := newShape(t, "trello", c, "trello.com", "api.trello.com")
	s.Account = ShapeAccount{ID: "5abbe4b7ddc1b351ef961414", Name: "Ada Trello", NickName: "adatrello", Email: "ada@trello.example"}
	s.Revokes, s.APICall = true, "members/me/boards"
	v := verifier{consumers: map[string]string{c.ID: c.Secret}, now: time.Now, nonces: newNonceLog()}
	requests := map[string][3]string{} // request token → secret, verifier, "used"
	access := map[string]string{}      // access token → secret
	signed := func(w http.ResponseWriter, r *http.Request, secretOf func(token string) (string, bool)) (*signedRequest, bool) {
		var lookup func(_, token string) (string, bool)
		if secretOf != nil {
			lookup = func(_, token string) (string, bool) { return secretOf(token) }
		}
		sr, reason := v.verify(r, lookup)
		if reason != "" {
			refuse(w, http.StatusUnauthorized, reason, map[string]string{"message": "invalid signature"})
			return nil, false
		}
		return sr, true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /1/OAuthGetRequestToken", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sr, ok := signed(w, r, nil)
		if !ok {
			return
		}
		if sr.oauth["oauth_callback"] != s.client.RedirectURI {
			refuse(w, http.StatusBadRequest, "oauth_callback is not the app's", nil)
			return
		}
		tok, secret := random(), random()
		requests[tok] = [3]string{secret}
		formAnswer(w, url.Values{"oauth_token": {tok}, "oauth_token_secret": {secret}, "oauth_callback_confirmed": {"true"}})
	})
	mux.HandleFunc("GET /1/OAuthAuthorizeToken", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		q := r.URL.Query()
		rq, ok := requests[q.Get("oauth_token")]
		if !ok || q.Get("expiration") == "" || strings.Contains(q.Get("scope"), " ") {
			refuse(w, http.StatusBadRequest, "unknown request token, no expiration, or scopes not comma-separated", nil)
			return
		}
		rq[1] = random()
		requests[q.Get("oauth_token")] = rq
		http.Redirect(w, r, s.client.RedirectURI+"?oauth_token="+url.QueryEscape(q.Get("oauth_token"))+"&oauth_verifier="+rq[1], http.StatusFound)
	})
	mux.HandleFunc("POST /1/OAuthGetAccessToken", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sr, ok := signed(w, r, func(tok string) (string, bool) { rq, ok := requests[tok]; return rq[0], ok && rq[2] == "" })
		if !ok {
			return
		}
		rq := requests[sr.oauth["oauth_token"]]
		rq[2] = "used"
		requests[sr.oauth["oauth_token"]] = rq
		if rq[1] == "" || sr.oauth["oauth_verifier"] != rq[1] {
			refuse(w, http.StatusUnauthorized, "wrong verifier", nil)
			return
		}
		tok, secret := random(), random()
		access[tok] = secret
		s.issued = append(s.issued, tok)
		formAnswer(w, url.Values{"oauth_token": {tok}, "oauth_token_secret": {secret}})
	})
	member := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sr, ok := signed(w, r, func(tok string) (string, bool) { sec, ok := access[tok]; return sec, ok })
		if !ok {
			return "", false
		}
		return sr.oauth["oauth_token"], true
	}
	mux.HandleFunc("GET /1/members/me", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := member(w, r); ok {
			a := s.Account
			writeJSON(w, http.StatusOK, map[string]any{"id": a.ID, "fullName": a.Name, "username": a.NickName, "email": a.Email,
				"avatarUrl": "https://trello-members.example/" + a.ID, "initials": "AT"})
		}
	})
	mux.HandleFunc("GET /1/members/me/boards", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := member(w, r); ok {
			writeJSON(w, http.StatusOK, []any{map[string]string{"id": "5abbe4b7ddc1b351ef961415", "name": "Roadmap"}})
		}
	})
	mux.HandleFunc("DELETE /1/tokens/{token}/", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := member(w, r)
		if !ok {
			return
		}
		if r.PathValue("token") != tok {
			refuse(w, http.StatusUnauthorized, "a token may delete itself only", nil)
			return
		}
		s.mu.Lock()
		delete(access, tok)
		s.revoked = append(s.revoked, tok)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"_value": nil})
	})
	s.serve(t, mux)
	return s
}
