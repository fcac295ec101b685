package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// twitterProxyBot is a broker whose bot alpha has a twitter provider is the OAuth 1.0a fake, with the API at api
// (an upstream forwarding to the fake, so the test sees what was signed).
func twitterProxyBot(tw *providertest.Twitter, api string) testenv.Config {
	return testenv.Config{Bots: []*testenv.BotConfig{
		testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
			Provider("twitter", "twitter", "ck-alpha", "cs-alpha-secret", testenv.APIBase(api), testenv.At(tw.Endpoints())),
		testenv.Bot("bravo").Key(testenv.KeyB).Confirm("none").Provider("twitter", "twitter", "ck-bravo", "cs-bravo-secret"),
	}}
}

// TestProxyTweetsAsTheUser: a bot posts a tweet and reads the account as each of two linked
// users with one HTTP call each and no OAuth code; the Twitter fake verifies every signature
// (query and form body included), and sees each identity's own token.
func TestProxyTweetsAsTheUser(t *testing.T) {
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
	api := testenv.NewUpstream(t, testenv.ForwardTo(tw.URL()))
	b := testenv.Start(t, twitterProxyBot(tw, api.URL))

	ada := b.LinkOne("alpha", testenv.KeyA, "twitter", "slack", "U1")
	grace := providertest.TwitterUser{ID: "2002", ScreenName: "grace", Name: "Grace Hopper", Email: "grace@example.com"}
	tw.SetUser(grace)
	gh := b.LinkOne("alpha", testenv.KeyA, "twitter", "slack", "U2")
	issued := tw.Issued()
	if len(issued) != 2 {
		t.Fatalf("%d access tokens issued, want 2", len(issued))
	}
	linking := len(tw.Calls()) // request and access tokens, profiles

	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	status := url.Values{"status": {"Booked a ride to the station ✓ (100% on time) #oauthbroker"}, "trim_user": {"true"}}
	r := b.Call("POST", testenv.ProxyPath("alpha", ada.ID, "1.1/statuses/update.json"), testenv.KeyA, form, strings.NewReader(status.Encode()))
	var tweet struct {
		Text string `json:"text"`
		User struct {
			ID string `json:"id_str"`
		} `json:"user"`
	}
	testenv.DecodeJSON(t, r.Body, &tweet)
	if r.Status != http.StatusOK || tweet.Text != status.Get("status") || tweet.User.ID != providertest.DefaultTwitterUser.ID {
		t.Fatalf("tweet: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("X-OAuthBroker-Identity") != fmt.Sprint(ada.ID) {
		t.Errorf("X-OAuthBroker-Identity = %q, want %d", r.Header.Get("X-OAuthBroker-Identity"), ada.ID)
	}

	// A GET with query parameters, which the signature covers too; include_email reaching the
	// fake shows the query went through.
	q := "1.1/account/verify_credentials.json?include_email=true&skip_status=1&x=a%2Bb%20c"
	for _, c := range []struct {
		id   int64
		user providertest.TwitterUser
	}{{ada.ID, providertest.DefaultTwitterUser}, {gh.ID, grace}} {
		r := b.Call("GET", testenv.ProxyPath("alpha", c.id, q), testenv.KeyA, nil, nil)
		var me struct {
			ID    string `json:"id_str"`
			Email string `json:"email"`
		}
		testenv.DecodeJSON(t, r.Body, &me)
		if r.Status != http.StatusOK || me.ID != c.user.ID || me.Email != c.user.Email {
			t.Errorf("identity %d: %d %s, want %s with email", c.id, r.Status, r.Body, c.user.ID)
		}
	}

	resource := tw.Calls()[linking:]
	if len(resource) != 3 {
		t.Fatalf("the fake saw %d API calls, want 3: %+v", len(resource), resource)
	}
	for i, want := range []string{issued[0].Token, issued[0].Token, issued[1].Token} {
		if c := resource[i]; c.Rejected != "" || c.Token != want || c.ConsumerKey != "ck-alpha" {
			t.Errorf("API call %d: %+v, want accepted with token %.10s… of consumer ck-alpha", i, c, want)
		}
	}
	for _, s := range api.Requests() {
		if !strings.HasPrefix(s.Header.Get("Authorization"), "OAuth ") || strings.Contains(s.Header.Get("Authorization"), testenv.KeyA) {
			t.Errorf("%s %s: Authorization %q, want an OAuth 1.0a signature and never the bot's key", s.Method, s.URI, s.Header.Get("Authorization"))
		}
	}
	for _, c := range issued {
		b.NoSecretLogged(c.Token, c.Secret, "cs-alpha-secret")
	}
}

// TestProxyTwitterFakeRefusesAWrongSignature: the signature the proxy made covers the form
// body and the query: the same signed request with one parameter changed is refused by the
// fake, and so is the same request sent twice (its nonce is spent).
func TestProxyTwitterFakeRefusesAWrongSignature(t *testing.T) {
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
	api := testenv.NewUpstream(t, testenv.ForwardTo(tw.URL()))
	b := testenv.Start(t, twitterProxyBot(tw, api.URL))
	id := b.LinkOne("alpha", testenv.KeyA, "twitter", "slack", "U1")

	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if r := b.Call("POST", testenv.ProxyPath("alpha", id.ID, "1.1/statuses/update.json"), testenv.KeyA, form, strings.NewReader("status=hello")); r.Status != http.StatusOK {
		t.Fatalf("tweet: %d %s", r.Status, r.Body)
	}
	if r := b.Call("GET", testenv.ProxyPath("alpha", id.ID, "1.1/account/verify_credentials.json?include_email=true"), testenv.KeyA, nil, nil); r.Status != http.StatusOK {
		t.Fatalf("verify_credentials: %d %s", r.Status, r.Body)
	}
	signed := api.Requests()
	host := strings.TrimPrefix(api.URL, "http://")
	replay := func(s testenv.SeenRequest, uri string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(s.Method, tw.URL()+uri, bytes.NewReader(body))
		req.Header = s.Header.Clone()
		req.Header.Set("X-Forwarded-Host", host)
		req.Header.Set("X-Forwarded-Proto", "http")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		calls := tw.Calls()
		return resp.StatusCode, calls[len(calls)-1].Rejected
	}
	for _, c := range []struct {
		name      string
		s         testenv.SeenRequest
		uri, body string
		want      string
	}{
		{"the form body changed", signed[0], signed[0].URI, "status=hellO", "bad signature"},
		{"the query changed", signed[1], strings.Replace(signed[1].URI, "include_email=true", "include_email=false", 1), "", "bad signature"},
		{"the same request again", signed[0], signed[0].URI, string(signed[0].Body), "nonce reused"},
	} {
		if st, why := replay(c.s, c.uri, []byte(c.body)); st != http.StatusUnauthorized || why != c.want {
			t.Errorf("%s: %d %q, want 401 %q", c.name, st, why, c.want)
		}
	}
}
