package providers_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
)

func twitterProvider(name, typ, key, secret string, fake *providertest.Twitter) *config.Provider {
	ep := fake.Endpoints()
	if typ == "twitterv2" {
		ep = fake.EndpointsV2()
	}
	return &config.Provider{Name: name, Type: typ, Key: key, Secret: secret, Endpoints: ep}
}

// twitterLink runs Begin, the browser's approval and Complete the way the broker does.
func twitterLink(t *testing.T, p *providers.Provider) (sessionRT string, in providers.CallbackInput, session string) {
	t.Helper()
	authURL, session, err := p.Begin("", nil, "")
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	rt, err := p.RequestToken(session)
	if err != nil {
		t.Fatalf("RequestToken: %v", err)
	}
	q := providertest.FollowToCallback(t, nil, authURL, callbackOf(p.Bot, p.Name))
	if q.Get("oauth_token") != rt {
		t.Fatalf("callback oauth_token %q, want the session's request token %q", q.Get("oauth_token"), rt)
	}
	return rt, providers.CallbackInput{OAuthToken: q.Get("oauth_token"), OAuthVerifier: q.Get("oauth_verifier")}, session
}

func TestTwitterFlow(t *testing.T) {
	for _, typ := range []string{"twitter", "twitterv2"} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			fake := providertest.NewTwitter(t, map[string]string{"ck": "cs-secret"})
			p := only(t, twitterProvider("tw", typ, "ck", "cs-secret", fake), providers.Options{})
			if !p.OAuth1 || p.PKCE || p.CanRefresh {
				t.Fatalf("OAuth1/PKCE/CanRefresh = %v/%v/%v, want true/false/false", p.OAuth1, p.PKCE, p.CanRefresh)
			}
			_, in, session := twitterLink(t, p)
			user, err := p.Complete(session, nil, in)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			issued := fake.Issued()
			if len(issued) != 1 || user.AccessToken != issued[0].Token || user.AccessTokenSecret != issued[0].Secret {
				t.Fatalf("credentials %q/%q, fake issued %+v", user.AccessToken, user.AccessTokenSecret, issued)
			}
			want := providertest.DefaultTwitterUser
			if user.ID != want.ID || user.NickName != want.ScreenName || user.Name != want.Name ||
				user.AvatarURL != want.ProfileImageURL {
				t.Fatalf("user %+v, want the fake's %+v", user, want)
			}
			if typ == "twitter" && user.Email != want.Email {
				t.Fatalf("email %q, want %q", user.Email, want.Email)
			}
			for _, c := range fake.Calls() {
				if c.ConsumerKey != "ck" || c.Rejected != "" {
					t.Fatalf("call %+v: want accepted and signed by ck", c)
				}
			}
			// The request token is single-use: replaying the callback fails upstream.
			_, err = p.Complete(session, nil, in)
			wantUpstream(t, err, "cs-secret", in.OAuthVerifier)
		})
	}
}

func TestTwitterTwoBotsInterleaved(t *testing.T) {
	t.Parallel()
	fake := providertest.NewTwitter(t, map[string]string{"key-a": "secret-a", "key-b": "secret-b"})
	r := registry(t, cfg(
		bot("alpha", twitterProvider("twitter", "twitter", "key-a", "secret-a", fake)),
		bot("beta", twitterProvider("twitter", "twitter", "key-b", "secret-b", fake)),
	), providers.Options{})
	a, _ := r.Lookup("alpha", "twitter")
	b, _ := r.Lookup("beta", "twitter")

	rtA, inA, sessA := twitterLink(t, a)
	fake.SetUser(providertest.TwitterUser{ID: "42", ScreenName: "bee", Name: "Bee"})
	rtB, inB, sessB := twitterLink(t, b)
	// Completed in the other order, each with its own bot's provider.
	userB, err := b.Complete(sessB, nil, inB)
	if err != nil {
		t.Fatalf("beta Complete: %v", err)
	}
	userA, err := a.Complete(sessA, nil, inA)
	if err != nil {
		t.Fatalf("alpha Complete: %v", err)
	}
	issued := map[string]providertest.TwitterCredentials{}
	for _, c := range fake.Issued() {
		issued[c.Token] = c
	}
	if c := issued[userA.AccessToken]; c.ConsumerKey != "key-a" || c.Secret != userA.AccessTokenSecret || userA.ID != providertest.DefaultTwitterUser.ID {
		t.Fatalf("alpha got %+v; fake issued %+v", userA, c)
	}
	if c := issued[userB.AccessToken]; c.ConsumerKey != "key-b" || c.Secret != userB.AccessTokenSecret || userB.ID != "42" {
		t.Fatalf("beta got %+v; fake issued %+v", userB, c)
	}
	for _, c := range fake.Calls() {
		want := map[string]string{rtA: "key-a", rtB: "key-b", userA.AccessToken: "key-a", userB.AccessToken: "key-b"}[c.Token]
		if c.Token == "" || c.Rejected != "" || c.ConsumerKey != want {
			if c.Token == "" && c.Rejected == "" {
				continue // request_token calls carry no token; checked below
			}
			t.Fatalf("call %+v: want accepted and signed with %q", c, want)
		}
	}
	// A session of one bot is useless to the other: its signature is made with the other
	// bot's consumer secret, which the fake refuses for that request token.
	_, inA2, sessA2 := twitterLink(t, a)
	_, err = b.Complete(sessA2, nil, inA2)
	wantUpstream(t, err, "secret-a", "secret-b")
}

func TestTwitterRefusals(t *testing.T) {
	t.Parallel()
	t.Run("wrong consumer secret", func(t *testing.T) {
		t.Parallel()
		fake := providertest.NewTwitter(t, map[string]string{"ck": "right-secret"})
		p := only(t, twitterProvider("tw", "twitter", "ck", "wrong-secret", fake), providers.Options{})
		_, _, err := p.Begin("", nil, "")
		wantUpstream(t, err, "wrong-secret", "right-secret")
		if calls := fake.Calls(); len(calls) != 1 || calls[0].Rejected != "bad signature" {
			t.Fatalf("fake saw %+v, want one request rejected for its signature", calls)
		}
	})
	t.Run("clock far off", func(t *testing.T) {
		t.Parallel()
		fake := providertest.NewTwitter(t, map[string]string{"ck": "cs"})
		fake.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
		p := only(t, twitterProvider("tw", "twitter", "ck", "cs", fake), providers.Options{})
		_, _, err := p.Begin("", nil, "")
		wantUpstream(t, err)
	})
	t.Run("wrong verifier", func(t *testing.T) {
		t.Parallel()
		fake := providertest.NewTwitter(t, map[string]string{"ck": "cs"})
		p := only(t, twitterProvider("tw", "twitter", "ck", "cs", fake), providers.Options{})
		_, in, session := twitterLink(t, p)
		in.OAuthVerifier = "forged"
		_, err := p.Complete(session, nil, in)
		wantUpstream(t, err, "cs")
		if len(fake.Issued()) != 0 {
			t.Fatal("the fake issued an access token for a forged verifier")
		}
	})
	t.Run("oauth_token of another flow", func(t *testing.T) {
		t.Parallel()
		fake := providertest.NewTwitter(t, map[string]string{"ck": "cs"})
		p := only(t, twitterProvider("tw", "twitter", "ck", "cs", fake), providers.Options{})
		_, in, session := twitterLink(t, p)
		in.OAuthToken = "someone-elses-token"
		if _, err := p.Complete(session, nil, in); !errors.Is(err, providers.ErrInvalidInput) {
			t.Fatalf("Complete with a foreign oauth_token: %v, want ErrInvalidInput", err)
		}
	})
	t.Run("user denied", func(t *testing.T) {
		t.Parallel()
		fake := providertest.NewTwitter(t, map[string]string{"ck": "cs"})
		fake.SetDeny(true)
		p := only(t, twitterProvider("tw", "twitter", "ck", "cs", fake), providers.Options{})
		authURL, session, err := p.Begin("", nil, "")
		if err != nil {
			t.Fatal(err)
		}
		rt, _ := p.RequestToken(session)
		if q := providertest.FollowToCallback(t, nil, authURL, callbackOf("b", "tw")); q.Get("denied") != rt || q.Has("oauth_verifier") {
			t.Fatalf("callback %v, want denied=%s and no verifier", q, rt)
		}
	})
}

func TestTwitterNullFields(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"twitter", "twitterv2"} {
		t.Run(typ+" optional fields null", func(t *testing.T) {
			t.Parallel()
			fake := providertest.NewTwitter(t, map[string]string{"ck": "cs"})
			fake.SetNullFields("name", "email", "description", "profile_image_url", "location")
			p := only(t, twitterProvider("tw", typ, "ck", "cs", fake), providers.Options{})
			_, in, session := twitterLink(t, p)
			user, err := p.Complete(session, nil, in)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if user.ID == "" || user.Name != "" || user.Email != "" || user.AvatarURL != "" {
				t.Fatalf("user %+v: want the id and empty optional fields", user)
			}
		})
		t.Run(typ+" id null", func(t *testing.T) {
			t.Parallel()
			fake := providertest.NewTwitter(t, map[string]string{"ck": "cs"})
			fake.SetNullFields("id_str", "screen_name", "name")
			p := only(t, twitterProvider("tw", typ, "ck", "cs", fake), providers.Options{})
			_, in, session := twitterLink(t, p)
			_, err := p.Complete(session, nil, in)
			wantUpstream(t, err, fake.Issued()[0].Token, fake.Issued()[0].Secret)
			if !strings.Contains(err.Error(), "no user id") {
				t.Fatalf("error %q, want it to say the profile has no user id", err)
			}
		})
	}
}

// SignRequest signs API proxy requests; the fake verifies them like any other.
func TestTwitterSignRequest(t *testing.T) {
	t.Parallel()
	fake := providertest.NewTwitter(t, map[string]string{"ck": "cs"})
	p := only(t, twitterProvider("tw", "twitter", "ck", "cs", fake), providers.Options{})
	_, in, session := twitterLink(t, p)
	user, err := p.Complete(session, nil, in)
	if err != nil {
		t.Fatal(err)
	}
	send := func(req *http.Request, secret string) int {
		t.Helper()
		if err := p.SignRequest(req, user.AccessToken, secret); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Names chosen so that sorting "name=value" strings would differ from RFC 5849's order.
	get, _ := http.NewRequest("GET", fake.URL()+"/1.1/account/verify_credentials.json?a-b=1&a=2&include_email=true&q=caf%C3%A9+%26+co", nil)
	if code := send(get, user.AccessTokenSecret); code != http.StatusOK {
		t.Fatalf("signed GET: %d", code)
	}
	post, _ := http.NewRequest("POST", fake.URL()+"/1.1/statuses/update.json", strings.NewReader(url.Values{"status": {"Hello, world! ☺ 100%"}}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code := send(post, user.AccessTokenSecret); code != http.StatusOK {
		t.Fatalf("signed form POST: %d", code)
	}
	bad, _ := http.NewRequest("GET", fake.URL()+"/1.1/account/verify_credentials.json", nil)
	if code := send(bad, "not-the-token-secret"); code != http.StatusUnauthorized {
		t.Fatalf("GET signed with a wrong token secret: %d, want 401", code)
	}
	calls := fake.Calls()
	if last := calls[len(calls)-1]; last.Rejected != "bad signature" || last.ConsumerKey != "ck" {
		t.Fatalf("last call %+v", last)
	}
}
