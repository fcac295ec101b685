package proxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestProxyCombinedAction is docs/API.md's "book the ride, then tweet it": require [uber,
// twitter] → the user links both → proxy to Uber → proxy to Twitter, at the providers' real
// API hosts (https://api.uber.com, https://api.twitter.com: no api_base_url), which a
// rewriting transport sends to the fakes. The Twitter fake checks the signature against the
// real URL. Not parallel: it replaces http.DefaultTransport.
func TestProxyCombinedAction(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}}, AutoApprove: "1001"})
	if err != nil {
		t.Fatal(err)
	}
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	tw := providertest.NewTwitter(t, map[string]string{"ck-rides": "cs-rides-secret"})
	// Uber's ride request (POST /v1.2/requests), which the sandbox does not play: it takes the
	// sandbox's live tokens, as the profile endpoint does.
	rides := testenv.NewUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !sb.Live(tok) {
			http.Error(w, `{"code":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"request_id":"852b8fdd-4369-4659-9628-e122662ad257","status":"processing","eta":5}`)
	})
	rules := append([]providertest.Rewrite{{Host: "api.uber.com", PathPrefix: "/v1.2/requests", To: rides.URL + "/v1.2/requests"}},
		providertest.SandboxRewrites("uber", sbSrv.URL)...)
	rules = append(rules, providertest.Rewrite{Host: "api.twitter.com", To: tw.URL()})
	providertest.NewRewriteTransport(rules...).Install(t)

	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("rides").Key(testenv.KeyA).Confirm("none").
		Provider("uber", "uber", "uber-client", "uber-secret-0123456789", testenv.Scopes("profile", "request")).
		Provider("twitter", "twitter", "ck-rides", "cs-rides-secret", testenv.At(tw.Endpoints()))}})
	if err := sb.AddClient(sandbox.Client{ID: "uber-client", Secret: "uber-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/rides/uber/callback"}}); err != nil {
		t.Fatal(err)
	}

	require := func() testenv.RequireBody {
		t.Helper()
		var out testenv.RequireBody
		body := map[string]any{"channel": "telegram", "user": "42", "providers": []string{"uber", "twitter"}}
		if st := b.API("POST", "/bots/rides/require", testenv.KeyA, body, &out); st != http.StatusOK {
			t.Fatalf("require: %d", st)
		}
		return out
	}
	first := require()
	if first.Ready || len(first.Missing) != 2 {
		t.Fatalf("require before linking: %+v", first)
	}
	for _, m := range first.Missing {
		if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), m.URL); st != http.StatusOK {
			t.Fatalf("linking %s: %d\n%s", m.Provider, st, page)
		}
	}
	if again := require(); !again.Ready {
		t.Fatalf("require after linking: %+v", again)
	}
	ids := map[string]int64{}
	for _, id := range b.Identities("rides", testenv.KeyA, "telegram", "42") {
		ids[id.Provider] = id.ID
	}

	ride := b.Call("POST", testenv.ProxyPath("rides", ids["uber"], "v1.2/requests"), testenv.KeyA, http.Header{"Content-Type": {"application/json"}},
		strings.NewReader(`{"product_id":"a1111c8c-c720-46c3-8534-2fcdd730040d","start_place_id":"home","end_place_id":"work"}`))
	var booked struct {
		RequestID string `json:"request_id"`
		ETA       int    `json:"eta"`
	}
	if ride.Status != http.StatusAccepted || json.Unmarshal(ride.Body, &booked) != nil || booked.RequestID == "" {
		t.Fatalf("ride: %d %s", ride.Status, ride.Body)
	}
	me := b.Call("GET", testenv.ProxyPath("rides", ids["uber"], "v1/me"), testenv.KeyA, nil, nil)
	if me.Status != http.StatusOK || !strings.Contains(string(me.Body), `"email":"ada@example.com"`) {
		t.Errorf("Uber's /v1/me: %d %s", me.Status, me.Body)
	}

	text := fmt.Sprintf("On my way to work, there in %d minutes", booked.ETA)
	tweet := b.Call("POST", testenv.ProxyPath("rides", ids["twitter"], "1.1/statuses/update.json"), testenv.KeyA,
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(url.Values{"status": {text}}.Encode()))
	if tweet.Status != http.StatusOK || !strings.Contains(string(tweet.Body), text) {
		t.Fatalf("tweet: %d %s", tweet.Status, tweet.Body)
	}
	calls := tw.Calls()
	if last := calls[len(calls)-1]; last.Path != "/1.1/statuses/update.json" || last.Rejected != "" {
		t.Errorf("the fake's last call: %+v", last)
	}
	if st := sb.Stats(); len(st.Rejected) != 0 {
		t.Errorf("the sandbox refused requests: %v", st.Rejected)
	}
}
