package providertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signed builds a request to the fake Twitter signed by hand, with this file's signer.
func signed(t *testing.T, method, rawURL, consumer, consumerSecret, token, tokenSecret, nonce string, extra map[string]string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, rawURL, nil)
	oauth := map[string]string{"oauth_consumer_key": consumer, "oauth_nonce": nonce, "oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp": strconv.FormatInt(time.Now().Unix(), 10), "oauth_version": "1.0"}
	if token != "" {
		oauth["oauth_token"] = token
	}
	for k, v := range extra {
		oauth[k] = v
	}
	var params [][2]string
	for k, v := range oauth {
		params = append(params, [2]string{k, v})
	}
	for k, vs := range req.URL.Query() {
		params = append(params, [2]string{k, vs[0]})
	}
	oauth["oauth_signature"] = sign(baseString(req, params), consumerSecret, tokenSecret)
	var parts []string
	for k, v := range oauth {
		parts = append(parts, percentEncode(k)+`="`+percentEncode(v)+`"`)
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
}

func TestOAuth2FakeChecks(t *testing.T) {
	f := NewOAuth2(t, OAuth2Client{ID: "id", Secret: "sec", RedirectURI: "https://broker.test/cb"})
	h := f.srv.Config.Handler
	if w := serve(h, httptest.NewRequest("GET", "/authorize?client_id=id&response_type=code&redirect_uri=https://evil.test/cb", nil)); w.Code != http.StatusBadRequest {
		t.Fatalf("foreign redirect_uri: %d, want 400 and no redirect", w.Code)
	}
	authorize := func(challenge string) string {
		w := serve(h, httptest.NewRequest("GET", "/authorize?client_id=id&response_type=code&scope=openid&state=s&redirect_uri="+
			url.QueryEscape("https://broker.test/cb")+"&code_challenge_method=S256&code_challenge="+challenge, nil))
		loc, _ := url.Parse(w.Header().Get("Location"))
		return loc.Query().Get("code")
	}
	token := func(form url.Values, basic bool) int {
		r := httptest.NewRequest("POST", "/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			r.SetBasicAuth("id", "sec")
		}
		return serve(h, r).Code
	}
	// verifier "v…" hashes to this challenge (RFC 7636 appendix B's pair).
	verifier, challenge := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	code := authorize(challenge)
	grant := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://broker.test/cb"}}
	for name, c := range map[string]struct {
		form  url.Values
		basic bool
	}{
		"no client authentication":   {grant, false},
		"two client authentications": {with(grant, "client_id", "id", "client_secret", "sec"), true},
		"wrong secret":               {with(grant, "client_id", "id", "client_secret", "nope"), false},
		"wrong verifier":             {with(grant, "code_verifier", "x"+verifier[1:]), true},
		"other redirect_uri":         {with(grant, "code_verifier", verifier, "redirect_uri", "https://broker.test/other"), true},
	} {
		if got := token(c.form, c.basic); got == http.StatusOK {
			t.Errorf("%s: token endpoint answered 200", name)
		}
	}
	if got := token(with(grant, "code_verifier", verifier), true); got != http.StatusOK {
		t.Fatalf("good exchange: %d", got)
	}
	if got := token(with(grant, "code_verifier", verifier), true); got != http.StatusBadRequest {
		t.Fatalf("reused code: %d, want 400", got)
	}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
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
