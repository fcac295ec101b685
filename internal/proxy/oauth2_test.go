package proxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestProxyListsGitHubRepos: a bot lists the user's repositories with its own key and no
// token of the user; the API sees the identity's bearer token and nothing of the bot's
// credentials or cookies; the bot sees the answer with its safe headers (pagination links
// pointing back into the proxy), and never the provider's cookie.
func TestProxyListsGitHubRepos(t *testing.T) {
	b, sb, api := testenv.GithubProxyBroker(t)
	id := b.LinkOne("alpha", testenv.KeyA, "github", "slack", "U1")
	token := sb.Issued()[0].AccessToken

	header := http.Header{
		"Accept": {"application/vnd.github+json"}, "Cookie": {"session=the-bots-own-session"},
		"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Host": {"evil.example"}, "X-GitHub-Api-Version": {"2022-11-28"},
		"User-Agent": {"supportbot/1.0"},
	}
	r := b.Call("GET", testenv.ProxyPath("alpha", id.ID, "user/repos"), testenv.KeyA, header, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"user1001/repo-page-1"`) {
		t.Fatalf("repos: %d %s", r.Status, r.Body)
	}
	if got := r.Header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("the provider's Set-Cookie reached the bot: %q", got)
	}
	for k, want := range map[string]string{
		"X-Oauthbroker-Identity": fmt.Sprint(id.ID), "X-Oauthbroker-Upstream-Request-Id": "C0DE:1234",
		"X-Ratelimit-Remaining": "4999", "Etag": `"repos-1001-"`, "Www-Authenticate": "",
		"Link": fmt.Sprintf(`</api/v1/bots/alpha/identities/%d/proxy/user/repos?page=2>; rel="next", <https://docs.github.com/rest>; rel="help"`, id.ID),
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	seen := api.Requests()[0]
	if got := seen.Header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("the API got Authorization %q, want the identity's bearer token", got)
	}
	for k, want := range map[string]string{"Cookie": "", "X-Forwarded-For": "", "X-Forwarded-Host": "",
		"Accept": "application/vnd.github+json", "X-Github-Api-Version": "2022-11-28", "User-Agent": "supportbot/1.0"} {
		if got := seen.Header.Get(k); got != want {
			t.Errorf("the API got %s %q, want %q", k, got, want)
		}
	}

	// The next page, by following the rewritten Link as a bot's client would.
	next := strings.TrimPrefix(strings.SplitN(r.Header.Get("Link"), ">", 2)[0], "<")
	r2 := b.Call("GET", strings.TrimPrefix(next, "/api/v1"), testenv.KeyA, nil, nil)
	if r2.Status != http.StatusOK || !strings.Contains(string(r2.Body), "repo-page-2") {
		t.Errorf("page 2: %d %s", r2.Status, r2.Body)
	}
	// A conditional request: the ETag goes up, the 304 comes back.
	r3 := b.Call("GET", testenv.ProxyPath("alpha", id.ID, "user/repos"), testenv.KeyA, http.Header{"If-None-Match": {`"repos-1001-"`}}, nil)
	if r3.Status != http.StatusNotModified || len(r3.Body) != 0 {
		t.Errorf("If-None-Match: %d %q, want 304", r3.Status, r3.Body)
	}
	// GitHub's /user at the sandbox, which checks the bearer token itself.
	r4 := b.Call("GET", testenv.ProxyPath("alpha", id.ID, "user"), testenv.KeyA, nil, nil)
	if r4.Status != http.StatusOK || !strings.Contains(string(r4.Body), `"login":"ada"`) {
		t.Errorf("/user: %d %s", r4.Status, r4.Body)
	}
	if st := sb.Stats(); len(st.Rejected) != 0 {
		t.Errorf("the sandbox refused requests: %v", st.Rejected)
	}
}

// TestProxyPassesAProvidersRefusal: GitHub's tokens cannot be refreshed, so a 401 is the
// provider's answer and goes back to the bot as it is (marked as the provider's), without a
// refresh or a second try.
func TestProxyPassesAProvidersRefusal(t *testing.T) {
	b, _, api := testenv.GithubProxyBroker(t)
	id := b.LinkOne("alpha", testenv.KeyA, "github", "slack", "U1")
	api.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Bad credentials"}`)
	})
	r := b.Call("GET", testenv.ProxyPath("alpha", id.ID, "user/repos"), testenv.KeyA, nil, nil)
	if r.Status != http.StatusUnauthorized || r.Header.Get("X-OAuthBroker-Identity") == "" || !strings.Contains(string(r.Body), "Bad credentials") {
		t.Errorf("%d %v %s, want the provider's 401", r.Status, r.Header, r.Body)
	}
	if n := len(api.Requests()); n != 1 {
		t.Errorf("the API saw %d requests, want 1 (no retry without a refresh)", n)
	}
}
