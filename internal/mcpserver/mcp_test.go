package mcpserver_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestMCPShareMyRide is the combined action an agent performs for "share my ride": the model
// asks for both accounts and shows the user the one link it got; the user connects both on
// the link's connect page in one visit, which names them by the label the runtime sent, and
// types the one code the page shows, which the runtime confirms. The model then books a ride
// with the rides API and tweets it; the Twitter fake verifies the OAuth 1.0a signature of the
// tweet, and both calls are made as the chat user's own accounts.
func TestMCPShareMyRide(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	rt := testenv.ChatUser(testenv.KeyA, "slack", "U1")
	rt.Set("X-OAuthBroker-User-Label", "Ada (Slack)")
	cs := testenv.MustConnectMCP(t, a.URL, rt)

	var need testenv.ConnectAnswer
	testenv.Tool(t, cs, "connect_accounts", map[string]any{"providers": []string{"rides", "twitter"}}, &need)
	if need.Ready || len(need.Missing) != 2 || need.Missing[0].Reason != "not_linked" || need.Missing[1].Reason != "not_linked" ||
		!strings.HasPrefix(need.ConnectURL, a.URL+"/bots/alpha/connect?link=") || need.ExpiresAt == nil || !need.ExpiresAt.After(time.Now()) {
		t.Fatalf("connect_accounts before linking: %+v", need)
	}
	want := "Please open this link to connect your Rides account and connect your Twitter account: " + need.ConnectURL +
		" (it works until " + need.ExpiresAt.UTC().Format("15:04") + " UTC). When the page shows a six-digit code, type it here in the chat."
	if need.MessageForUser != want {
		t.Errorf("message_for_user:\n  %s\nwant\n  %s", need.MessageForUser, want)
	}
	page := a.CompleteLink(t, rt, need.ConnectURL)
	if testenv.ProviderState(page, "rides") != "linked" || testenv.ProviderState(page, "twitter") != "linked" || !strings.Contains(page, `<strong class="user">Ada (Slack)</strong>`) {
		t.Errorf("the connect page after one testenv.Visit:\n%s", page)
	}
	var ready testenv.ConnectAnswer
	testenv.Tool(t, cs, "connect_accounts", map[string]any{"providers": []string{"rides", "twitter"}}, &ready)
	if !ready.Ready || ready.ConnectURL != "" || ready.MessageForUser != "" {
		t.Fatalf("connect_accounts after linking: %+v", ready)
	}

	var ride testenv.CallAnswer
	testenv.Tool(t, cs, "call_api", map[string]any{"provider": "rides", "method": "POST", "path": "/rides",
		"body": map[string]string{"destination": "the station"}}, &ride)
	var booked struct {
		ID, Rider, Destination, Driver string
	}
	testenv.DecodeJSON(t, ride.Body, &booked)
	if ride.Status != http.StatusCreated || booked.Rider != "ada" || booked.Destination != "the station" || ride.Provider != "rides" {
		t.Fatalf("booking: %+v %s", ride, ride.Body)
	}
	if ct := ride.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("the answer's Content-Type = %q", ct)
	}

	text := "On my way to the station with " + booked.Driver + " (100% on time) #oauthbroker"
	var tweet testenv.CallAnswer
	testenv.Tool(t, cs, "call_api", map[string]any{"provider": "twitter", "method": "POST", "path": "/1.1/statuses/update.json",
		"headers": map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		"body":    map[string]any{"status": text, "trim_user": true}}, &tweet)
	var posted struct {
		Text string `json:"text"`
	}
	testenv.DecodeJSON(t, tweet.Body, &posted)
	if tweet.Status != http.StatusOK || posted.Text != text {
		t.Fatalf("tweet: %+v %s", tweet, tweet.Body)
	}

	issued := a.TwitterFake.Issued()
	calls := a.TwitterFake.Calls()
	last := calls[len(calls)-1]
	if len(issued) != 1 || last.Rejected != "" || last.Token != issued[0].Token || last.ConsumerKey != "ck-alpha" {
		t.Errorf("the Twitter fake's last call %+v, want accepted, signed with the token it issued (%d issued)", last, len(issued))
	}
	seen := a.APICalls()
	if len(seen) != 2 {
		t.Fatalf("the providers' APIs saw %d calls, want 2: %+v", len(seen), seen)
	}
	for _, s := range seen {
		if auth := s.Header.Get("Authorization"); auth == "" || strings.Contains(auth, testenv.KeyA) {
			t.Errorf("%s %s: Authorization %q, want the account's credentials and never the bot's key", s.Method, s.URI, auth)
		}
	}
	if !strings.HasPrefix(seen[0].Header.Get("Authorization"), "Bearer ") || !strings.HasPrefix(seen[1].Header.Get("Authorization"), "OAuth ") {
		t.Errorf("the rides API got %q and Twitter %q, want a bearer token and an OAuth 1.0a signature",
			seen[0].Header.Get("Authorization"), seen[1].Header.Get("Authorization"))
	}
	a.NoSecretLogged(issued[0].Token, issued[0].Secret, "cs-alpha-secret", string(ride.Body), text)
	if strings.Contains(a.Logs.String(), "On my way") {
		t.Error("the log holds a request body")
	}
}

// TestMCPListAndDescribe: list_connected_accounts shows the user's accounts with their names,
// statuses and scopes and never a token; describe_provider tells where each API is and how
// calls are signed.
func TestMCPListAndDescribe(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	rt := testenv.ChatUser(testenv.KeyA, "slack", "U1")
	id := linkViaMCP(t, a, rt, "rides")
	cs := testenv.MustConnectMCP(t, a.URL, rt)

	text, _ := testenv.CallTool(t, cs, "list_connected_accounts", map[string]any{})
	var list struct {
		Accounts []struct {
			AccountID   int64    `json:"account_id"`
			Provider    string   `json:"provider"`
			AccountName string   `json:"account_name"`
			Status      string   `json:"status"`
			Scopes      []string `json:"scopes"`
		} `json:"accounts"`
		Providers []string `json:"providers"`
	}
	testenv.DecodeJSON(t, []byte(text), &list)
	if len(list.Accounts) != 1 || strings.Join(list.Providers, ",") != "rides,twitter" {
		t.Fatalf("list: %s", text)
	}
	if acc := list.Accounts[0]; acc.AccountID != id || acc.Provider != "rides" || acc.AccountName != "Ada Lovelace (@ada)" ||
		acc.Status != "active" || strings.Join(acc.Scopes, ",") != "rides" {
		t.Errorf("the account: %+v", acc)
	}
	for _, g := range a.Sandbox.Issued() {
		if strings.Contains(text, g.AccessToken) || strings.Contains(text, g.RefreshToken) {
			t.Error("the list holds a token")
		}
	}
	testenv.Tool(t, cs, "list_connected_accounts", map[string]any{"provider": "twitter"}, &list)
	if len(list.Accounts) != 0 {
		t.Errorf("twitter accounts: %+v", list.Accounts)
	}

	for _, c := range []struct {
		provider, base, signing string
		refresh                 bool
	}{{"rides", a.Rides.URL + "/api/v4", "bearer", true}, {"twitter", a.Twitter.URL, "oauth1", false}} {
		var d struct {
			Provider   string   `json:"provider"`
			Type       string   `json:"type"`
			APIBaseURL string   `json:"api_base_url"`
			Signing    string   `json:"signing"`
			CanRefresh bool     `json:"can_refresh"`
			Scopes     []string `json:"scopes"`
			HowToCall  string   `json:"how_to_call"`
		}
		testenv.Tool(t, cs, "describe_provider", map[string]any{"provider": c.provider}, &d)
		if d.Provider != c.provider || d.APIBaseURL != c.base || d.Signing != c.signing || d.CanRefresh != c.refresh ||
			!strings.Contains(d.HowToCall, c.base+"/user") || d.Scopes == nil {
			t.Errorf("describe %s: %+v", c.provider, d)
		}
	}
	if strings.Contains(a.Logs.String(), "rides-alpha-secret") {
		t.Error("the log holds a client secret")
	}
}

// TestMCPCallAPIAnswers: what call_api shows the model of a provider's answer: a query that
// the OAuth 1.0a signature covers, pagination links as call_api paths, a long answer cut with
// a note, a binary one described, and a provider's own error as an answer with its status.
func TestMCPCallAPIAnswers(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	rt := testenv.ChatUser(testenv.KeyA, "slack", "U1")
	linkViaMCP(t, a, rt, "rides")
	linkViaMCP(t, a, rt, "twitter")
	cs := testenv.MustConnectMCP(t, a.URL, rt)

	var me testenv.CallAnswer
	testenv.Tool(t, cs, "call_api", map[string]any{"provider": "twitter", "method": "GET", "path": "1.1/account/verify_credentials.json",
		"query": map[string]any{"include_email": true, "skip_status": 1}}, &me)
	if me.Status != http.StatusOK || !strings.Contains(string(me.Body), `"email":"`) {
		t.Errorf("verify_credentials: %+v %s", me, me.Body)
	}
	if last := a.TwitterFake.Calls()[len(a.TwitterFake.Calls())-1]; last.Rejected != "" {
		t.Errorf("the fake refused the signed GET: %+v", last)
	}
	if got := a.Twitter.Requests(); !strings.HasSuffix(got[len(got)-1].URI, "?include_email=true&skip_status=1") {
		t.Errorf("the query sent: %s", got[len(got)-1].URI)
	}

	big := strings.Repeat(`{"name":"a ride in the past"},`, 3000)
	a.Rides.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v4/history":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Link", "<http://"+r.Host+"/api/v4/history?page=2>; rel=\"next\"")
			w.Header().Set("Set-Cookie", "s=1")
			w.Write([]byte("[" + big + "{}]"))
		case "/api/v4/receipt.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"))
		case "/api/v4/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"no such thing"}`))
		default:
			a.Demo.ServeHTTP(w, r)
		}
	})
	var hist testenv.CallAnswer
	testenv.Tool(t, cs, "call_api", map[string]any{"provider": "rides", "method": "GET", "path": "/history"}, &hist)
	var cut string
	testenv.DecodeJSON(t, hist.Body, &cut)
	if hist.Status != http.StatusOK || !hist.Truncated || len(cut) != 32<<10 || hist.BodyBytes != int64(len(big)+4) ||
		!strings.Contains(hist.Note, "only its first 32768 are shown") {
		t.Errorf("a long answer: status %d, truncated %v, %d bytes shown of %d, note %q", hist.Status, hist.Truncated, len(cut), hist.BodyBytes, hist.Note)
	}
	if hist.Headers["Link"] != `</history?page=2>; rel="next"` || hist.Headers["Set-Cookie"] != "" {
		t.Errorf("headers: %v", hist.Headers)
	}
	var png testenv.CallAnswer
	testenv.Tool(t, cs, "call_api", map[string]any{"provider": "rides", "method": "GET", "path": "/receipt.png"}, &png)
	if png.Body != nil || !strings.Contains(png.Note, "binary (image/png, 18 bytes)") {
		t.Errorf("a binary answer: %+v", png)
	}
	var missing testenv.CallAnswer
	if text, isErr := testenv.CallTool(t, cs, "call_api", map[string]any{"provider": "rides", "method": "GET", "path": "/missing"}); isErr {
		t.Errorf("a provider's 404 is a tool error: %s", text)
	} else {
		testenv.DecodeJSON(t, []byte(text), &missing)
	}
	if missing.Status != http.StatusNotFound || string(missing.Body) != `{"error":"no such thing"}` {
		t.Errorf("a provider's 404: %+v", missing)
	}
}

// TestMCPCallAPIRefreshesAfterA401: call_api has the proxy's refresh-and-retry: a token the
// provider refuses is refreshed once and the call retried with the same body. When the
// provider then refuses the refresh itself (invalid_grant), the account must be linked again:
// call_api answers relink_required with a fresh link for this user, and nothing more reaches
// the API.
func TestMCPCallAPIRefreshesAfterA401(t *testing.T) {
	f := testenv.NewTokenFake(t, true)
	rev := testenv.NewRevokingAPI(testenv.ForwardTo(f.URL))
	api := testenv.NewUpstream(t, rev.ServeHTTP)
	b := testenv.StartBroker(t, testenv.RefreshProxyBot(f, api.URL))
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")
	old := f.LastGrant(t).AccessToken
	rev.Revoke(old)
	cs := testenv.MustConnectMCP(t, b.URL, testenv.ChatUser(testenv.KeyA, "slack", "U1"))

	var echo testenv.CallAnswer
	testenv.Tool(t, cs, "call_api", map[string]any{"provider": "gl", "method": "POST", "path": "/echo", "body": map[string]int{"n": 1}}, &echo)
	if fresh := f.LastGrant(t).AccessToken; echo.Status != http.StatusOK || string(echo.Body) != `{"n":1}` || f.RefreshCalls.Load() != 1 || fresh == old {
		t.Fatalf("after a 401: %+v %s, %d refreshes", echo, echo.Body, f.RefreshCalls.Load())
	}

	f.RefreshMode.Store(testenv.RefreshInvalidGrant)
	rev.Revoke(f.LastGrant(t).AccessToken)
	for i := range 2 {
		seen := len(api.Requests())
		e := testenv.ToolFails(t, cs, "call_api", map[string]any{"provider": "gl", "method": "GET", "path": "/user"})
		if e.Code != "relink_required" || !strings.HasPrefix(e.ConnectURL, b.URL+"/bots/alpha/connect?link=") || !strings.Contains(e.NextStep, e.ConnectURL) {
			t.Errorf("call %d after invalid_grant: %+v; want relink_required with a link", i, e)
		}
		// The first call met the 401 that led to the refused refresh; the next never leaves.
		if got := len(api.Requests()) - seen; got != 1-i {
			t.Errorf("call %d after invalid_grant reached the API %d times", i, got)
		}
	}

	// connect_accounts says the same, with the link that reconnects the account; through it
	// the account is usable again.
	var need testenv.ConnectAnswer
	testenv.Tool(t, cs, "connect_accounts", map[string]any{"providers": []string{"gl"}}, &need)
	if need.Ready || len(need.Missing) != 1 || need.Missing[0].Reason != "relink_required" || need.ConnectURL == "" ||
		!strings.Contains(need.MessageForUser, "reconnect your GitLab account: "+need.ConnectURL) {
		t.Fatalf("connect_accounts after invalid_grant: %+v", need)
	}
	f.RefreshMode.Store(testenv.RefreshOK)
	if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), need.ConnectURL); st != http.StatusOK || !testenv.IsComplete(page) {
		t.Fatalf("reconnecting: %d\n%s", st, page)
	}
	testenv.Tool(t, cs, "call_api", map[string]any{"provider": "gl", "method": "POST", "path": "/echo", "body": map[string]int{"n": 2}}, &echo)
	if echo.Status != http.StatusOK || string(echo.Body) != `{"n":2}` {
		t.Errorf("after reconnecting: %+v %s", echo, echo.Body)
	}
}

// TestMCPConnectAccountsOneLink: whatever each provider lacks (not linked, or a scope the
// task needs), connect_accounts answers one link for them all, with the sentence that says
// what each needs; one visit to its connect page and one code make every one usable, with
// the scope asked for.
func TestMCPConnectAccountsOneLink(t *testing.T) {
	a := testenv.StartAgentBroker(t, "")
	rt := testenv.ChatUser(testenv.KeyA, "slack", "U1")
	linkViaMCP(t, a, rt, "rides")
	cs := testenv.MustConnectMCP(t, a.URL, rt)
	args := map[string]any{"providers": []string{"rides", "twitter"}, "scopes": map[string][]string{"rides": {sandbox.ScopePosts}}}

	var need testenv.ConnectAnswer
	testenv.Tool(t, cs, "connect_accounts", args, &need)
	if need.Ready || len(need.Missing) != 2 || need.Missing[0].Provider != "rides" || need.Missing[0].Reason != "missing_scopes" ||
		need.Missing[1].Provider != "twitter" || need.Missing[1].Reason != "not_linked" ||
		!strings.Contains(need.MessageForUser, "give your Rides account the permissions this needs and connect your Twitter account: "+need.ConnectURL+" ") {
		t.Fatalf("connect_accounts: %+v", need)
	}
	page := a.CompleteLink(t, rt, need.ConnectURL)
	if testenv.ProviderState(page, "rides") != "linked" || testenv.ProviderState(page, "twitter") != "linked" {
		t.Errorf("the connect page after one testenv.Visit:\n%s", page)
	}
	var ready testenv.ConnectAnswer
	testenv.Tool(t, cs, "connect_accounts", args, &ready)
	if !ready.Ready {
		t.Fatalf("connect_accounts after linking: %+v", ready)
	}
	var list struct {
		Accounts []struct {
			Provider string   `json:"provider"`
			Scopes   []string `json:"scopes"`
		} `json:"accounts"`
	}
	testenv.Tool(t, cs, "list_connected_accounts", map[string]any{"provider": "rides"}, &list)
	if len(list.Accounts) != 1 || !slices.Contains(list.Accounts[0].Scopes, sandbox.ScopePosts) {
		t.Errorf("the rides account: %+v, want one account with the scope asked for", list.Accounts)
	}
}
