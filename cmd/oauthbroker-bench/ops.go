package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/oauth1"
)

// The bench's bot and its credentials at the fakes.
const (
	benchAPIKey          = "bench-api-key-0123456789abcdefghijklmnopqrstuvwxyz"
	oauth2ClientID       = "bench-gitlab-client"
	oauth2ClientSecret   = "bench-gitlab-secret"
	oauth1ConsumerKey    = "bench-twitter-consumer"
	oauth1ConsumerSecret = "bench-twitter-secret"
)

// api sends one bot API request with the bot's key.
func api(ctx context.Context, w *worker, method, u string, body []byte, status int) ([]byte, error) {
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, u, rd)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+benchAPIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.client.Do(req)
	return expect(resp, err, status)
}

// credentialsOp reads the credentials of a random identity of pop; check makes it compare
// the access token with the identity's.
func credentialsOp(base string, pop *population, check bool) op {
	prefix := base + "/api/v1/bots/" + benchBot + "/identities/"
	return func(ctx context.Context, w *worker) error {
		id := pop.id(w.rng.IntN(pop.n))
		body, err := api(ctx, w, http.MethodGet, prefix+strconv.FormatInt(id, 10)+"/credentials", nil, http.StatusOK)
		if err != nil {
			return err
		}
		if check && !bytes.Contains(body, []byte(`"access_token":"`+pop.token(id)+`"`)) {
			return fmt.Errorf("identity %d: credentials without its access token: %.300s", id, body)
		}
		return nil
	}
}

// identitiesOp lists a random chat user's identities.
func identitiesOp(base string, pop *population, check bool) op {
	prefix := base + "/api/v1/bots/" + benchBot + "/identities?channel=" + benchChannel + "&user="
	return func(ctx context.Context, w *worker) error {
		k := w.rng.IntN(pop.n)
		body, err := api(ctx, w, http.MethodGet, prefix+pop.user(k), nil, http.StatusOK)
		if err != nil {
			return err
		}
		if check && !bytes.Contains(body, []byte(`{"id":`+strconv.FormatInt(pop.id(k), 10)+`,`)) {
			return fmt.Errorf("user %s: not their identity: %.300s", pop.user(k), body)
		}
		return nil
	}
}

// linksOp creates a link for a new chat user.
func linksOp(base, run string) op {
	u := base + "/api/v1/bots/" + benchBot + "/links"
	return func(ctx context.Context, w *worker) error {
		_, err := createLink(ctx, w, u, "gitlab", fmt.Sprintf("L%s-%d-%d", run, w.id, w.i))
		return err
	}
}

func createLink(ctx context.Context, w *worker, u, provider, user string) (string, error) {
	req, _ := json.Marshal(map[string]string{"provider": provider, "channel": benchChannel, "user": user})
	body, err := api(ctx, w, http.MethodPost, u, req, http.StatusCreated)
	if err != nil {
		return "", err
	}
	return linkURLOf(body)
}

// linkURLOf is the connect page's URL in a POST links answer.
func linkURLOf(body []byte) (string, error) {
	var out struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.URL == "" {
		return "", fmt.Errorf("links: no url in %.300s", body)
	}
	return out.URL, nil
}

// flowOp is one complete link flow of a new chat user, as a browser goes through it: the bot
// creates the link; the user's browser (a fresh cookie jar, following redirects) opens its
// connect page, clicks the provider's button (a same-origin POST with the page's form),
// passes the provider's approval and comes back to the callback, which sends it on to the
// connect page showing every provider linked.
func flowOp(base, provider, run string) op {
	return func(ctx context.Context, w *worker) error {
		return linkFlow(ctx, w, base, provider, fmt.Sprintf("F%s-%s-%d-%d", run, provider, w.id, w.i))
	}
}

// linkFlow is one complete link flow of chat user user.
func linkFlow(ctx context.Context, w *worker, base, provider, user string) error {
	link, err := createLink(ctx, w, base+"/api/v1/bots/"+benchBot+"/links", provider, user)
	if err != nil {
		return err
	}
	_, _, err = browse(ctx, w, base, link, provider)
	return err
}

// browse is the browser's part of a flow: a fresh cookie jar opens the link's connect page
// (open), clicks provider's button and follows the redirects through the provider's approval
// and the callback back to the connect page (complete), which must show the account linked.
func browse(ctx context.Context, w *worker, base, link, provider string) (open, complete []byte, err error) {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Transport: w.client.Transport, Jar: jar, Timeout: w.client.Timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := browser.Do(req)
	open, err = expect(resp, err, http.StatusOK)
	if err != nil {
		return nil, nil, err
	}
	action, form, err := buttonOf(open, provider)
	if err != nil {
		return nil, nil, err
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, action, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin") // what a browser sends from the broker's page
	req.Header.Set("Origin", base)
	resp, err = browser.Do(req)
	complete, err = expect(resp, err, http.StatusOK)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasSuffix(resp.Request.URL.Path, "/connect") || !bytes.Contains(complete, []byte(`data-connect="complete"`)) {
		return nil, nil, fmt.Errorf("%s flow ended at %s, not on the connect page with the account linked: %.300s", provider, resp.Request.URL.Path, complete)
	}
	return open, complete, nil
}

var (
	buttonForm  = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)" data-provider="([^"]+)">(.*?)</form>`)
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// buttonOf finds a provider's button on a connect page: where its form posts, and its fields.
func buttonOf(page []byte, provider string) (string, url.Values, error) {
	for _, m := range buttonForm.FindAllSubmatch(page, -1) {
		if string(m[2]) != provider {
			continue
		}
		form := url.Values{}
		for _, f := range hiddenField.FindAllSubmatch(m[3], -1) {
			form.Set(string(f[1]), html.UnescapeString(string(f[2])))
		}
		return html.UnescapeString(string(m[1])), form, nil
	}
	return "", nil, fmt.Errorf("the connect page has no button for %s: %.300s", provider, page)
}

// noRedirects makes a client return a redirect instead of following it.
func noRedirects(c *http.Client) *http.Client {
	return &http.Client{Transport: c.Transport, Timeout: c.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// fakeOAuth2Op is the provider's side of one OAuth 2 flow without the broker: the authorize
// redirect (auto-approved), the code exchange and the profile read — the three requests the
// sandbox answers in a full flow.
func fakeOAuth2Op(sandboxURL, callback string) op {
	return func(ctx context.Context, w *worker) error {
		c := noRedirects(w.client)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, oauth2AuthorizeURL(sandboxURL, callback, fmt.Sprintf("s%d-%d", w.id, w.i)), nil)
		resp, err := c.Do(req)
		if _, err := expect(resp, err, http.StatusFound); err != nil {
			return err
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Query().Get("code") == "" {
			return errors.New("authorize: no code in the redirect")
		}
		return oauth2Complete(ctx, c, sandboxURL, callback, loc.Query().Get("code"))
	}
}

// fakeOAuth1Op is the provider's side of one OAuth 1.0a flow without the broker: the request
// token, the authorize redirect, the access token and the profile, each signed (HMAC-SHA1)
// and verified by the fake.
func fakeOAuth1Op(twitterURL, callback string) op {
	return func(ctx context.Context, w *worker) error {
		c := noRedirects(w.client)
		rt, authorize, err := oauth1Start(ctx, c, twitterURL, callback)
		if err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, authorize, nil)
		resp, err := c.Do(req)
		if _, err := expect(resp, err, http.StatusFound); err != nil {
			return err
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Query().Get("oauth_verifier") == "" {
			return errors.New("authorize: no verifier")
		}
		return oauth1Complete(ctx, c, twitterURL, rt, loc.Query().Get("oauth_verifier"))
	}
}

// The client's calls of a flow at the fakes, the same for the fakes driven alone and for
// the bare flow.

// oauth2AuthorizeURL is the sandbox's authorization request for callback.
func oauth2AuthorizeURL(sandboxURL, callback, state string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {oauth2ClientID}, "redirect_uri": {callback},
		"state": {state}, "scope": {"read_user"}}
	return sandboxURL + "/oauth/authorize?" + q.Encode()
}

// oauth2Complete is an OAuth 2 callback's provider calls: the code traded for an access
// token (the client's secret in Basic authentication), the profile read with it.
func oauth2Complete(ctx context.Context, c *http.Client, sandboxURL, callback, code string) error {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, sandboxURL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(oauth2ClientID, oauth2ClientSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := getJSON(c, req, &tok); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if tok.AccessToken == "" {
		return errors.New("token: the answer has no access token")
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, sandboxURL+"/api/v4/user", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return readProfile(c, req)
}

// oauth1Start is an OAuth 1.0a start's provider call: a request token for callback, and the
// authorize URL the browser goes to with it.
func oauth1Start(ctx context.Context, c *http.Client, twitterURL, callback string) (rt oauth1.Token, authorize string, err error) {
	var signer oauth1.Signer
	if rt, err = signer.RequestToken(ctx, c, twitterURL+"/oauth/request_token", consumer(), callback, nil); err != nil {
		return oauth1.Token{}, "", fmt.Errorf("request token: %w", err)
	}
	return rt, twitterURL + "/oauth/authorize?oauth_token=" + url.QueryEscape(rt.Token), nil
}

// oauth1Complete is an OAuth 1.0a callback's provider calls: the request token and the
// user's verifier traded for an access token, the profile read signed with it.
func oauth1Complete(ctx context.Context, c *http.Client, twitterURL string, rt oauth1.Token, verifier string) error {
	var signer oauth1.Signer
	creds := consumer()
	creds.Token, creds.TokenSecret = rt.Token, rt.Secret
	at, err := signer.AccessToken(ctx, c, twitterURL+"/oauth/access_token", creds, verifier)
	if err != nil {
		return fmt.Errorf("access token: %w", err)
	}
	creds.Token, creds.TokenSecret = at.Token, at.Secret
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, twitterURL+"/1.1/account/verify_credentials.json", nil)
	if err := signer.Sign(req, creds); err != nil {
		return err
	}
	return readProfile(c, req)
}

// readProfile sends a profile request and decodes its 200 answer, as a client building an
// identity from it does.
func readProfile(c *http.Client, req *http.Request) error {
	var user map[string]any
	if err := getJSON(c, req, &user); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	return nil
}

// getJSON sends req and decodes its 200 answer into v.
func getJSON(c *http.Client, req *http.Request, v any) error {
	resp, err := c.Do(req)
	body, err := expect(resp, err, http.StatusOK)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// consumer is the bench's application at the Twitter fake.
func consumer() oauth1.Credentials {
	return oauth1.Credentials{ConsumerKey: oauth1ConsumerKey, ConsumerSecret: oauth1ConsumerSecret}
}
