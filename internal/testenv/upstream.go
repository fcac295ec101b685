package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// SeenRequest is one request a provider API received.
type SeenRequest struct {
	Method, URI string
	Header      http.Header
	Body        []byte
}

// Upstream is a provider's API for the proxy to call. It records every request, then answers
// with its handler, which may forward to a fake provider (ForwardTo) or answer itself.
type Upstream struct {
	URL string

	mu      sync.Mutex
	seen    []SeenRequest
	handler http.HandlerFunc
}

func NewUpstream(t testing.TB, h http.HandlerFunc) *Upstream {
	t.Helper()
	u := &Upstream{handler: h}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		u.mu.Lock()
		u.seen = append(u.seen, SeenRequest{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body})
		h := u.handler
		u.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

func (u *Upstream) Requests() []SeenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]SeenRequest(nil), u.seen...)
}

func (u *Upstream) SetHandler(h http.HandlerFunc) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.handler = h
}

// ForwardTo passes a request on to the fake provider at base, unchanged but for the two
// X-Forwarded headers naming where the broker sent it: an OAuth 1.0a signature covers that
// URL, and the Twitter fake verifies it against them (as behind providertest.RewriteTransport).
func ForwardTo(base string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := http.NewRequest(r.Method, base+r.RequestURI, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out.Header = r.Header.Clone()
		out.Header.Set("X-Forwarded-Host", r.Host)
		out.Header.Set("X-Forwarded-Proto", "http")
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}
}

// GithubAPI is GitHub's REST API for the tests: GET /user/repos answers from the sandbox's
// grants (the bearer token must be one the sandbox issued and would accept now; the repos are
// its user's), paginated with Link headers as GitHub does, with the headers GitHub sends
// (a session cookie among them); every other path goes to the sandbox, which serves GitHub's
// GET /user with its own bearer checks.
func GithubAPI(sb *sandbox.Server, sbURL string) http.HandlerFunc {
	forward := ForwardTo(sbURL)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/user/repos" {
			forward(w, r)
			return
		}
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		owner := ""
		for _, g := range sb.Issued() {
			if g.AccessToken == token && sb.Live(token) {
				owner = g.UserID
			}
		}
		w.Header().Set("Set-Cookie", "logged_in=no; Path=/; HttpOnly")
		w.Header().Set("X-GitHub-Request-Id", "C0DE:1234")
		if owner == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="GitHub"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
			return
		}
		page := r.URL.Query().Get("page")
		etag := `"repos-` + owner + `-` + page + `"`
		w.Header().Set("ETag", etag)
		w.Header().Set("X-RateLimit-Remaining", "4999")
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if page == "" {
			page = "1"
			w.Header().Set("Link", fmt.Sprintf(`<http://%s/user/repos?page=2>; rel="next", <https://docs.github.com/rest>; rel="help"`, r.Host))
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode([]map[string]string{{"full_name": "user" + owner + "/repo-page-" + page}})
	}
}
