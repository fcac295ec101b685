package sandbox_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

const (
	appID       = "app"
	appSecret   = "app-secret"
	appCallback = "https://app.example/callback"
	otherID     = "other"
	otherSecret = "other-secret"
	otherCB     = "https://other.example/cb"
)

// A PKCE verifier (RFC 7636 §4.1: 43–128 unreserved characters) and its S256 challenge.
const verifier = "sandbox-test-verifier_0123456789.abcdefghijklmnop~"

var challenge = func() string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}()

var (
	ada   = sandbox.User{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@sandbox.example", AvatarURL: "https://sandbox.example/ada.png"}
	grace = sandbox.User{ID: "1002", Login: "grace"} // no name, no email
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a sandbox mounted at /sandbox on a real HTTP server, and a browser-like
// client with a cookie jar that does not follow redirects.
type fixture struct {
	t       testing.TB
	srv     *sandbox.Server
	ts      *httptest.Server
	base    string // ts.URL + "/sandbox"
	clock   *clock
	browser *http.Client
}

func newFixture(t testing.TB, modify func(*sandbox.Options)) *fixture {
	t.Helper()
	return newFixtureWith(t, modify, nil)
}

// newFixtureWith also wraps the server's handler, e.g. to observe requests.
func newFixtureWith(t testing.TB, modify func(*sandbox.Options), wrap func(http.Handler) http.Handler) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	opts := sandbox.Options{
		Clients: []sandbox.Client{
			{ID: appID, Secret: appSecret, Name: "Test App", RedirectURIs: []string{appCallback, "https://app.example/cb?tenant=7"}},
			{ID: otherID, Secret: otherSecret, RedirectURIs: []string{otherCB}},
		},
		Users:  []sandbox.User{ada, grace},
		Prefix: "/sandbox",
		Now:    clk.Now,
	}
	if modify != nil {
		modify(&opts)
	}
	srv, err := sandbox.New(opts)
	if err != nil {
		t.Fatalf("sandbox.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", srv))
	var h http.Handler = mux
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &fixture{t: t, srv: srv, ts: ts, base: ts.URL + "/sandbox", clock: clk, browser: newBrowser(t)}
}

func newBrowser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// authParams is a valid authorization request for the app client.
func authParams(extra ...string) url.Values {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {appID},
		"redirect_uri":  {appCallback},
		"scope":         {"read:user user:email"},
		"state":         {"st-123"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return q
}

type response struct {
	status   int
	header   http.Header
	body     string
	location *url.URL
}

func (f *fixture) do(c *http.Client, req *http.Request) response {
	f.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			f.t.Fatalf("bad Location %q: %v", loc, err)
		}
		out.location = u
	}
	return out
}

func (f *fixture) get(c *http.Client, path string, q url.Values) response {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.base+path+"?"+q.Encode(), nil)
	return f.do(c, req)
}

func (f *fixture) postForm(c *http.Client, path string, form url.Values, mutate ...func(*http.Request)) response {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, m := range mutate {
		m(req)
	}
	return f.do(c, req)
}

var formTokenRE = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

// consentPage opens the consent page in the fixture's browser and returns its form token.
func (f *fixture) consentPage(q url.Values) (string, response) {
	f.t.Helper()
	resp := f.get(f.browser, "/authorize", q)
	if resp.status != http.StatusOK {
		f.t.Fatalf("GET /authorize: status %d, want 200\n%s", resp.status, resp.body)
	}
	m := formTokenRE.FindStringSubmatch(resp.body)
	if m == nil {
		f.t.Fatalf("consent page has no form token:\n%s", resp.body)
	}
	return m[1], resp
}

// code runs the authorization request q through the consent page as userID and returns
// the code from the redirect.
func (f *fixture) code(q url.Values, userID string) string {
	f.t.Helper()
	token, _ := f.consentPage(q)
	resp := f.postForm(f.browser, "/authorize", url.Values{"form_token": {token}, "user": {userID}, "decision": {"authorize"}})
	return codeFrom(f.t, resp, q.Get("redirect_uri"), q.Get("state"))
}

func codeFrom(t testing.TB, resp response, redirectURI, state string) string {
	t.Helper()
	if resp.status != http.StatusFound || resp.location == nil {
		t.Fatalf("status %d, want 302 with Location\n%s", resp.status, resp.body)
	}
	if got := strings.SplitN(resp.location.String(), "?", 2)[0]; got != strings.SplitN(redirectURI, "?", 2)[0] {
		t.Fatalf("redirected to %s, want %s", resp.location, redirectURI)
	}
	q := resp.location.Query()
	if q.Get("state") != state {
		t.Fatalf("state %q, want %q", q.Get("state"), state)
	}
	code := q.Get("code")
	if !strings.HasPrefix(code, "sbx_code_") {
		t.Fatalf("no code in %s", resp.location)
	}
	return code
}

// tokenCall posts form to /token with the client secret in the body (client_secret_post).
func (f *fixture) tokenCall(form url.Values) (int, map[string]any) {
	f.t.Helper()
	resp := f.postForm(http.DefaultClient, "/token", form)
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.body), &body); err != nil {
		f.t.Fatalf("POST /token: status %d, body not JSON: %v\n%s", resp.status, err, resp.body)
	}
	return resp.status, body
}

func exchangeForm(code string, extra ...string) url.Values {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {appCallback},
		"client_id":     {appID},
		"client_secret": {appSecret},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			form.Del(extra[i])
		} else {
			form.Set(extra[i], extra[i+1])
		}
	}
	return form
}

// tokens exchanges code and fails the test unless that works.
func (f *fixture) tokens(code string, extra ...string) (access, refresh string) {
	f.t.Helper()
	status, body := f.tokenCall(exchangeForm(code, extra...))
	if status != http.StatusOK {
		f.t.Fatalf("exchange: status %d: %v", status, body)
	}
	return body["access_token"].(string), body["refresh_token"].(string)
}

func wantOAuthError(t testing.TB, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode {
		t.Fatalf("got %d %v, want %d error=%s", status, body, wantStatus, wantCode)
	}
	if _, ok := body["access_token"]; ok {
		t.Fatalf("error answer carries an access token: %v", body)
	}
}

func wantRejected(t testing.TB, srv *sandbox.Server, reason sandbox.Reason, n int) {
	t.Helper()
	if got := srv.Stats().Rejected[reason]; got != n {
		t.Fatalf("Stats().Rejected[%s] = %d, want %d (all: %v)", reason, got, n, srv.Stats().Rejected)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	client := sandbox.Client{ID: "c", Secret: "s", RedirectURIs: []string{"https://c.example/cb"}}
	tests := []struct {
		name string
		opts sandbox.Options
	}{
		{"no users", sandbox.Options{Clients: []sandbox.Client{client}}},
		{"non-numeric user id", sandbox.Options{Users: []sandbox.User{{ID: "ada", Login: "ada"}}}},
		{"zero-padded user id", sandbox.Options{Users: []sandbox.User{{ID: "007", Login: "bond"}}}},
		{"user without login", sandbox.Options{Users: []sandbox.User{{ID: "1"}}}},
		{"duplicate user", sandbox.Options{Users: []sandbox.User{ada, ada}}},
		{"client without secret", sandbox.Options{Users: []sandbox.User{ada}, Clients: []sandbox.Client{{ID: "c", RedirectURIs: client.RedirectURIs}}}},
		{"client without redirect", sandbox.Options{Users: []sandbox.User{ada}, Clients: []sandbox.Client{{ID: "c", Secret: "s"}}}},
		{"relative redirect", sandbox.Options{Users: []sandbox.User{ada}, Clients: []sandbox.Client{{ID: "c", Secret: "s", RedirectURIs: []string{"/cb"}}}}},
		{"redirect with fragment", sandbox.Options{Users: []sandbox.User{ada}, Clients: []sandbox.Client{{ID: "c", Secret: "s", RedirectURIs: []string{"https://c.example/cb#x"}}}}},
		{"duplicate client", sandbox.Options{Users: []sandbox.User{ada}, Clients: []sandbox.Client{client, client}}},
		{"auto-approve unknown user", sandbox.Options{Users: []sandbox.User{ada}, AutoApprove: "9"}},
		{"prefix with trailing slash", sandbox.Options{Users: []sandbox.User{ada}, Prefix: "/sandbox/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := sandbox.New(tt.opts); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

// AddClient and AddUser may run while the server answers requests.
func TestAddWhileServing(t *testing.T) {
	f := newFixture(t, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := strconv.Itoa(2000 + i)
			if err := f.srv.AddUser(sandbox.User{ID: id, Login: "u" + id}); err != nil {
				t.Error(err)
			}
			if err := f.srv.AddClient(sandbox.Client{ID: "c" + id, Secret: "s", RedirectURIs: []string{"https://c.example/" + id}}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() { // t.Fatal must not run off the test goroutine: plain client calls here
			resp, err := http.Get(f.base + "/authorize?" + authParams().Encode())
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("consent page: status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if err := f.srv.AddUser(ada); err == nil {
		t.Error("AddUser accepted a duplicate id")
	}
	q := authParams("client_id", "c2005", "redirect_uri", "https://c.example/2005")
	code := f.code(q, "2011")
	status, body := f.tokenCall(url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"https://c.example/2005"}, "client_id": {"c2005"}, "client_secret": {"s"}})
	if status != http.StatusOK || f.srv.Issued()[0].UserID != "2011" {
		t.Fatalf("%d %v", status, body)
	}
}
