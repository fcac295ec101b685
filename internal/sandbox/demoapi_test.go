package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// TestDemoAPIs: the rides and posts APIs take the sandbox's tokens, each only with its scope,
// and pass every other request to the sandbox.
func TestDemoAPIs(t *testing.T) {
	f := autoFixture(t, nil)
	apis := sandbox.NewDemoAPIs(f.srv)
	mux := http.NewServeMux()
	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", apis))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	base := srv.URL + "/sandbox"

	call := func(method, path, token, body string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, data)
		}
		return resp.StatusCode, resp.Header, out
	}
	rides, posts := f.accessWith("rides"), f.accessWith("posts read_user")

	st, _, ride := call("POST", "/api/v4/rides", rides, `{"destination":"the station"}`)
	if st != http.StatusCreated || ride["id"] != "ride_1" || ride["rider"] != "ada" || ride["destination"] != "the station" || ride["driver"] == "" {
		t.Errorf("book a ride: %d %v", st, ride)
	}
	st, h, body := call("POST", "/api/v4/rides", posts, `{"destination":"the station"}`)
	if st != http.StatusForbidden || body["error"] != "insufficient_scope" || !strings.Contains(h.Get("WWW-Authenticate"), `scope="rides"`) {
		t.Errorf("a ride with a posts token: %d %v %q", st, body, h.Get("WWW-Authenticate"))
	}
	if st, _, body := call("POST", "/api/v4/rides", "", `{"destination":"x"}`); st != http.StatusUnauthorized {
		t.Errorf("no token: %d %v", st, body)
	}
	if st, _, body := call("POST", "/api/v4/rides", rides, `{"destination":"  "}`); st != http.StatusBadRequest {
		t.Errorf("no destination: %d %v", st, body)
	}

	st, _, post := call("POST", "/api/v4/posts", posts, `{"text":"On my way to the station"}`)
	if st != http.StatusCreated || post["author"] != "ada" || post["url"] != base+"/api/v4/posts/post_1" {
		t.Fatalf("publish: %d %v", st, post)
	}
	if st, _, got := call("GET", "/api/v4/posts/post_1", "", ""); st != http.StatusOK || got["text"] != "On my way to the station" {
		t.Errorf("read the post: %d %v", st, got)
	}
	if st, _, _ := call("GET", "/api/v4/posts/post_9", "", ""); st != http.StatusNotFound {
		t.Errorf("no such post: %d", st)
	}
	if st, _, body := call("POST", "/api/v4/posts", rides, `{"text":"hi"}`); st != http.StatusForbidden {
		t.Errorf("a post with a rides token: %d %v", st, body)
	}
	if st, _, body := call("POST", "/api/v4/posts", posts, `{"text":"`+strings.Repeat("é", 281)+`"}`); st != http.StatusBadRequest {
		t.Errorf("281 characters: %d %v", st, body)
	}
	if st, _, user := call("GET", "/api/v4/user", posts, ""); st != http.StatusOK || user["username"] != "ada" {
		t.Errorf("the sandbox behind: %d %v", st, user)
	}
	if len(apis.Rides()) != 1 || len(apis.Posts()) != 1 {
		t.Errorf("rides %v, posts %v", apis.Rides(), apis.Posts())
	}
}
