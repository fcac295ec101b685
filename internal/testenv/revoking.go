package testenv

import (
	"io"
	"net/http"
	"strings"
	"sync"
)

// RefreshProxyBot is RefreshProxy's bot as providers.yaml lines.
func RefreshProxyBot(f *TokenFake, api string) string { return RefreshProxy(f, api).YAML() }

// RefreshProxy is bot alpha with a gitlab provider at the token fake (which refreshes and
// rotates), whose API is reached through api, an upstream in front of the fake's /api/v4.
func RefreshProxy(f *TokenFake, api string) *BotConfig {
	return Bot("alpha").Key(KeyA).Confirm("none").Gitlab(f.URL, APIBase(api+"/api/v4"))
}

// RevokingAPI answers 401 to every request bearing one of the revoked tokens, as a provider
// does with a token it ended early, and passes the others to next (POST /api/v4/echo answers
// its body, to show a retried body is the same).
type RevokingAPI struct {
	mu      sync.Mutex
	revoked map[string]bool
	all     bool // every token is refused
	next    http.HandlerFunc
}

// NewRevokingAPI is a RevokingAPI in front of next that has revoked nothing yet.
func NewRevokingAPI(next http.HandlerFunc) *RevokingAPI {
	return &RevokingAPI{revoked: map[string]bool{}, next: next}
}

// Revoke refuses these tokens from now on.
func (a *RevokingAPI) Revoke(tokens ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, tok := range tokens {
		a.revoked[tok] = true
	}
}

// RevokeAll refuses every token from now on.
func (a *RevokingAPI) RevokeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all = true
}

func (a *RevokingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	refused := a.all || a.revoked[tok]
	a.mu.Unlock()
	switch {
	case refused:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
	case r.URL.Path == "/api/v4/echo":
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		io.Copy(w, r.Body)
	default:
		a.next(w, r)
	}
}
