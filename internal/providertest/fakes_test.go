package providertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signed builds a request to the fake Twitter, signed with the verifier's own pieces:
// these tests are about what the fake checks, RFC5849Vectors about how it signs.
func signed(t *testing.T, method, rawURL, consumer, consumerSecret, token, tokenSecret, nonce string, extra map[string]string) *http.Request {
	t.Helper()
	return signedForm(t, method, rawURL, consumer, consumerSecret, token, tokenSecret, nonce, extra, nil)
}

// signedForm is signed with a form body, whose parameters the signature covers.
func signedForm(t *testing.T, method, rawURL, consumer, consumerSecret, token, tokenSecret, nonce string, extra map[string]string, form url.Values) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, rawURL, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	oauth := map[string]string{"oauth_consumer_key": consumer, "oauth_nonce": nonce, "oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp": strconv.FormatInt(time.Now().Unix(), 10), "oauth_version": "1.0"}
	if token != "" {
		oauth["oauth_token"] = token
	}
	for k, v := range extra {
		oauth[k] = v
	}
	var params []param
	for k, v := range oauth {
		params = append(params, param{k, v})
	}
	for k, vs := range req.URL.Query() {
		params = append(params, param{k, vs[0]})
	}
	for k, vs := range form {
		params = append(params, param{k, vs[0]})
	}
	oauth["oauth_signature"] = hmacSHA1(signatureBaseString(req, params), consumerSecret, tokenSecret)
	var parts []string
	for k, v := range oauth {
		parts = append(parts, encode(k)+`="`+encode(v)+`"`)
	}
	req.Header.Set("Authorization", "OAuth "+strings.Join(parts, ", "))
	return req
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestTwitterFakeChecks(t *testing.T) {
	tw := NewTwitter(t, map[string]string{"ck": "cs"})
	h := tw.srv.Config.Handler
	base := tw.URL()
	cb := map[string]string{"oauth_callback": "https://broker.test/cb"}

	if w := serve(h, signed(t, "POST", base+"/oauth/request_token", "ck", "cs", "", "", "n1", nil)); w.Code != http.StatusUnauthorized {
		t.Fatalf("request_token without oauth_callback: %d", w.Code)
	}
	if w := serve(h, signed(t, "POST", base+"/oauth/request_token", "ck", "wrong", "", "", "n2", cb)); w.Code != http.StatusUnauthorized {
		t.Fatalf("request_token with a wrong secret: %d", w.Code)
	}
	w := serve(h, signed(t, "POST", base+"/oauth/request_token", "ck", "cs", "", "", "n3", cb))
	if w.Code != http.StatusOK {
		t.Fatalf("good request_token: %d %s", w.Code, w.Body)
	}
	if w := serve(h, signed(t, "POST", base+"/oauth/request_token", "ck", "cs", "", "", "n3", cb)); w.Code != http.StatusUnauthorized {
		t.Fatalf("reused nonce: %d", w.Code)
	}
	form, _ := url.ParseQuery(w.Body.String())
	rt, rts := form.Get("oauth_token"), form.Get("oauth_token_secret")
	if form.Get("oauth_callback_confirmed") != "true" || rt == "" || rts == "" {
		t.Fatalf("request_token answer %q", w.Body)
	}
	// The access token request must be signed with the request token secret too, and
	// carry the verifier the user got.
	if w := serve(h, signed(t, "POST", base+"/oauth/access_token", "ck", "cs", rt, "", "n4", map[string]string{"oauth_verifier": "x"})); w.Code != http.StatusUnauthorized {
		t.Fatalf("access_token signed without the token secret: %d", w.Code)
	}
	auth := serve(h, httptest.NewRequest("GET", base+"/oauth/authorize?oauth_token="+rt, nil))
	loc, _ := url.Parse(auth.Header().Get("Location"))
	verifier := loc.Query().Get("oauth_verifier")
	if auth.Code != http.StatusFound || !strings.HasPrefix(loc.String(), "https://broker.test/cb?") || verifier == "" {
		t.Fatalf("authorize: %d to %s", auth.Code, loc)
	}
	if w := serve(h, signed(t, "POST", base+"/oauth/access_token", "ck", "cs", rt, rts, "n5", map[string]string{"oauth_verifier": verifier})); w.Code != http.StatusOK {
		t.Fatalf("access_token: %d %s", w.Code, w.Body)
	}
	if w := serve(h, signed(t, "POST", base+"/oauth/access_token", "ck", "cs", rt, rts, "n6", map[string]string{"oauth_verifier": verifier})); w.Code != http.StatusUnauthorized {
		t.Fatalf("second use of a request token: %d", w.Code)
	}
	got := tw.Issued()
	if len(got) != 1 || got[0].ConsumerKey != "ck" {
		t.Fatalf("Issued = %+v", got)
	}
	if w := serve(h, signed(t, "GET", base+"/1.1/account/verify_credentials.json?include_email=true", "ck", "cs", got[0].Token, got[0].Secret, "n7", nil)); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"email":"tester@example.com"`) {
		t.Fatalf("verify_credentials: %d %s", w.Code, w.Body)
	}
	// Revocation: only the token that signs may be named, and then it is gone.
	invalidate := base + "/1.1/oauth/invalidate_token"
	if w := serve(h, signedForm(t, "POST", invalidate, "ck", "cs", got[0].Token, got[0].Secret, "n8", nil, url.Values{"access_token": {"someone-else"}})); w.Code != http.StatusForbidden {
		t.Fatalf("invalidate_token naming another token: %d %s", w.Code, w.Body)
	}
	if w := serve(h, signedForm(t, "POST", invalidate, "ck", "cs", got[0].Token, got[0].Secret, "n9", nil, url.Values{"access_token": {got[0].Token}})); w.Code != http.StatusOK {
		t.Fatalf("invalidate_token: %d %s", w.Code, w.Body)
	}
	if w := serve(h, signed(t, "GET", base+"/1.1/account/verify_credentials.json", "ck", "cs", got[0].Token, got[0].Secret, "n10", nil)); w.Code != http.StatusUnauthorized {
		t.Fatalf("verify_credentials with an invalidated token: %d", w.Code)
	}
}

// TestTwitterFakeRetain: under SetRetain(2) the fake keeps the newest two to four access
// tokens, calls and issued tokens; the oldest access token, forgotten, no longer signs.
func TestTwitterFakeRetain(t *testing.T) {
	tw := NewTwitter(t, map[string]string{"ck": "cs"})
	tw.SetRetain(2)
	h := tw.srv.Config.Handler
	base := tw.URL()
	flow := func(i int) TwitterCredentials {
		t.Helper()
		w := serve(h, signed(t, "POST", base+"/oauth/request_token", "ck", "cs", "", "", fmt.Sprint("rt", i), map[string]string{"oauth_callback": "https://broker.test/cb"}))
		form, _ := url.ParseQuery(w.Body.String())
		auth := serve(h, httptest.NewRequest("GET", base+"/oauth/authorize?oauth_token="+form.Get("oauth_token"), nil))
		loc, _ := url.Parse(auth.Header().Get("Location"))
		w = serve(h, signed(t, "POST", base+"/oauth/access_token", "ck", "cs", form.Get("oauth_token"), form.Get("oauth_token_secret"), fmt.Sprint("at", i),
			map[string]string{"oauth_verifier": loc.Query().Get("oauth_verifier")}))
		if w.Code != http.StatusOK {
			t.Fatalf("flow %d: access_token %d %s", i, w.Code, w.Body)
		}
		issued := tw.Issued()
		return issued[len(issued)-1]
	}
	var creds []TwitterCredentials
	for i := range 5 {
		creds = append(creds, flow(i))
	}
	verify := func(c TwitterCredentials, nonce string) int {
		return serve(h, signed(t, "GET", base+"/1.1/account/verify_credentials.json", "ck", "cs", c.Token, c.Secret, nonce, nil)).Code
	}
	if got := verify(creds[4], "v4"); got != http.StatusOK {
		t.Errorf("the newest access token: %d, want 200", got)
	}
	if got := verify(creds[0], "v0"); got != http.StatusUnauthorized {
		t.Errorf("the oldest access token, forgotten: %d, want 401", got)
	}
	if n := len(tw.Issued()); n < 2 || n > 4 {
		t.Errorf("%d issued tokens kept, want 2 to 4", n)
	}
	calls := tw.Calls()
	if n := len(calls); n < 2 || n > 4 || calls[n-1].Token != creds[0].Token || calls[n-1].Rejected == "" {
		t.Errorf("calls kept: %+v; want 2 to 4, the last the refused one with the oldest token", calls)
	}
}

func TestRewriteTransport(t *testing.T) {
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.URL.Path + " " + r.Header.Get("X-Forwarded-Host") + " " + r.Header.Get("X-Forwarded-Proto")))
	}))
	t.Cleanup(local.Close)
	c := NewRewriteTransport(Rewrite{Host: "api.example.com", PathPrefix: "/v1", To: local.URL + "/fake"}).Client()
	get := func(u string) (string, error) {
		resp, err := c.Get(u)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if got, err := get("https://api.example.com/v1/me?x=1"); err != nil || got != "/fake/me api.example.com https" {
		t.Fatalf("rewritten GET: %q, %v", got, err)
	}
	for _, u := range []string{"https://api.example.com/v1x", "https://api.example.com/", "https://other.example.com/v1"} {
		if _, err := get(u); err == nil || !strings.Contains(err.Error(), "must not reach the internet") {
			t.Errorf("GET %s: %v, want a refusal", u, err)
		}
	}
	if got, err := get(local.URL + "/direct"); err != nil || got != "/direct  " {
		t.Fatalf("loopback passes through: %q, %v", got, err)
	}
}
