package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestMCPShareMyRide is the combined action an agent performs for "share my ride": the model
// asks for both accounts, shows the user the link it got, and once the user has linked them
// books a ride with the rides API and tweets it; the Twitter fake verifies the OAuth 1.0a
// signature of the tweet, and both calls are made as the chat user's own accounts.
func TestMCPShareMyRide(t *testing.T) {
	a := startAgentBroker(t, "")
	cs := mustConnectMCP(t, a.URL, chatUser(keyA, "slack", "U1"))

	var need connectAnswer
	tool(t, cs, "connect_accounts", map[string]any{"providers": []string{"rides", "twitter"}}, &need)
	if need.Ready || len(need.Missing) != 2 || need.Missing[0].Reason != "not_linked" || need.Missing[1].Reason != "not_linked" {
		t.Fatalf("connect_accounts before linking: %+v", need)
	}
	for _, l := range need.links() {
		if !strings.Contains(need.MessageForUser, l) {
			t.Errorf("message_for_user %q does not carry the link %s", need.MessageForUser, l)
		}
		completeLink(t, l)
	}
	var ready connectAnswer
	tool(t, cs, "connect_accounts", map[string]any{"providers": []string{"rides", "twitter"}}, &ready)
	if !ready.Ready || ready.ConnectURL != "" || ready.MessageForUser != "" {
		t.Fatalf("connect_accounts after linking: %+v", ready)
	}

	var ride callAnswer
	tool(t, cs, "call_api", map[string]any{"provider": "rides", "method": "POST", "path": "/rides",
		"body": map[string]string{"destination": "the station"}}, &ride)
	var booked struct {
		ID, Rider, Destination, Driver string
	}
	decodeJSON(t, ride.Body, &booked)
	if ride.Status != http.StatusCreated || booked.Rider != "ada" || booked.Destination != "the station" || ride.Provider != "rides" {
		t.Fatalf("booking: %+v %s", ride, ride.Body)
	}
	if ct := ride.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("the answer's Content-Type = %q", ct)
	}

	text := "On my way to the station with " + booked.Driver + " (100% on time) #oauthbroker"
	var tweet callAnswer
	tool(t, cs, "call_api", map[string]any{"provider": "twitter", "method": "POST", "path": "/1.1/statuses/update.json",
		"headers": map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		"body":    map[string]any{"status": text, "trim_user": true}}, &tweet)
	var posted struct {
		Text string `json:"text"`
	}
	decodeJSON(t, tweet.Body, &posted)
	if tweet.Status != http.StatusOK || posted.Text != text {
		t.Fatalf("tweet: %+v %s", tweet, tweet.Body)
	}

	issued := a.tw.Issued()
	calls := a.tw.Calls()
	last := calls[len(calls)-1]
	if len(issued) != 1 || last.Rejected != "" || last.Token != issued[0].Token || last.ConsumerKey != "ck-alpha" {
		t.Errorf("the Twitter fake's last call %+v, want accepted, signed with the token it issued (%d issued)", last, len(issued))
	}
	seen := a.apiCalls()
	if len(seen) != 2 {
		t.Fatalf("the providers' APIs saw %d calls, want 2: %+v", len(seen), seen)
	}
	for _, s := range seen {
		if auth := s.Header.Get("Authorization"); auth == "" || strings.Contains(auth, keyA) {
			t.Errorf("%s %s: Authorization %q, want the account's credentials and never the bot's key", s.Method, s.URI, auth)
		}
	}
	if !strings.HasPrefix(seen[0].Header.Get("Authorization"), "Bearer ") || !strings.HasPrefix(seen[1].Header.Get("Authorization"), "OAuth ") {
		t.Errorf("the rides API got %q and Twitter %q, want a bearer token and an OAuth 1.0a signature",
			seen[0].Header.Get("Authorization"), seen[1].Header.Get("Authorization"))
	}
	a.noSecretLogged(issued[0].Token, issued[0].Secret, "cs-alpha-secret", string(ride.Body), text)
	if strings.Contains(a.logs.String(), "On my way") {
		t.Error("the log holds a request body")
	}
}
