package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Names long and distinct enough that finding one in a cookie means it is there in clear.
const (
	cookieBot  = "supportbot-7f3a9c"
	cookieUser = "chat-user-U0X9Q7ZK"
)

// newCookieServer is the real server for bot cookieBot with an OpenID Connect provider "sso"
// (PKCE) at an auto-approving sandbox, on an in-memory store.
func newCookieServer(t *testing.T) (*Server, *broker.Broker, store.Store) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada", Email: "ada@example.com"}}, AutoApprove: "1001"})
	if err != nil {
		t.Fatal(err)
	}
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	const public = "https://broker.test"
	if err := sb.AddClient(sandbox.Client{ID: "sso-client", Secret: "sso-secret-0123456789",
		RedirectURIs: []string{public + "/bots/" + cookieBot + "/sso/callback"}}); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Server: config.Server{PublicURL: public, OutboundTimeout: 2 * time.Second, LinkTTL: 10 * time.Minute, MaxLinkTTL: time.Hour},
		Bots: []*config.Bot{{Name: cookieBot, APIKeys: []string{"key-0123456789abcdef"}, Confirm: config.ConfirmNone,
			Providers: []*config.Provider{{Name: "sso", Type: "openid-connect", Key: "sso-client", Secret: "sso-secret-0123456789",
				DiscoveryURL: sbSrv.URL + "/.well-known/openid-configuration", Scopes: []string{"openid", "email", "profile"}}}}},
	}
	srv, b, st, _ := realServer(t, cfg, providers.Options{HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	return srv, b, st
}

// TestFlowCookieIsSealed starts a flow through the real router and takes the flow cookie
// apart as gorilla/securecookie builds it — base64(date|value|mac), the value itself base64
// of the encoded session — and finds none of what the flow carries (its state, PKCE verifier,
// link token, bot, provider session) nor the chat user in clear at any layer. A cookie with
// the very same flow made under another key pair is refused, stores nothing and leaves the
// flow to the browser that started it.
func TestFlowCookieIsSealed(t *testing.T) {
	srv, b, st := newCookieServer(t)
	link, err := b.CreateLink(t.Context(), broker.LinkRequest{Bot: cookieBot, Providers: []broker.Requirement{{Provider: "sso"}},
		Channel: "slack", User: cookieUser, UserLabel: "Ada L."})
	if err != nil {
		t.Fatal(err)
	}
	linkURL, _ := url.Parse(link.URL)
	linkToken := linkURL.Query().Get("link")

	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, link.URL, nil))
	page := rec.Result().Cookies()
	form := regexp.MustCompile(`name="form" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || len(page) != 1 || form == nil {
		t.Fatalf("connect page: %d, %d cookies", rec.Code, len(page))
	}
	click := httptest.NewRequest(http.MethodPost, "https://broker.test/bots/"+cookieBot+"/sso/auth",
		strings.NewReader(url.Values{"link": {linkToken}, "form": {form[1]}}.Encode()))
	click.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	click.Header.Set("Sec-Fetch-Site", "same-origin")
	click.AddCookie(page[0])
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, click)
	var flow *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == flowCookie {
			flow = c
		}
	}
	if rec.Code != http.StatusFound || flow == nil {
		t.Fatalf("auth: %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
	sent := providertest.FollowToCallback(t, nil, rec.Header().Get("Location"), "https://broker.test/bots/"+cookieBot+"/sso/callback")

	// What the cookie holds, read with the server's keys: the test then knows what to look for.
	withCookie := func(c *http.Cookie) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://broker.test/bots/"+cookieBot+"/sso/callback?"+sent.Encode(), nil)
		r.AddCookie(c)
		return r
	}
	fs := srv.readFlow(withCookie(flow))
	if fs == nil || fs.State != sent.Get("state") || fs.CodeVerifier == "" || fs.Link != linkToken || fs.Bot != cookieBot || fs.Session == "" {
		t.Fatalf("the cookie's flow %+v does not match the flow started (state %q, link %q)", fs, sent.Get("state"), linkToken)
	}

	outer, err := base64.URLEncoding.DecodeString(flow.Value)
	if err != nil {
		t.Fatalf("the cookie is not securecookie's base64: %v", err)
	}
	parts := bytes.SplitN(outer, []byte("|"), 3)
	if len(parts) != 3 {
		t.Fatalf("the cookie has %d parts, want date|value|mac", len(parts))
	}
	inner, err := base64.URLEncoding.DecodeString(string(parts[1]))
	if err != nil {
		t.Fatalf("the cookie's value is not base64: %v", err)
	}
	layers := map[string][]byte{"cookie": []byte(flow.Value), "decoded cookie": outer, "decoded value": inner}
	secrets := map[string]string{"state": fs.State, "PKCE verifier": fs.CodeVerifier, "link token": fs.Link,
		"bot": cookieBot, "chat user": cookieUser, "provider session": fs.Session}
	for what, s := range secrets {
		for layer, data := range layers {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("the flow cookie's %s holds the %s in clear", layer, what)
			}
		}
	}
	if bytes.Contains(inner, []byte(`"s":`)) || bytes.Contains(inner, []byte("flow")) {
		t.Errorf("the flow cookie's value shows its structure: %q", inner)
	}

	// The same flow sealed under another key pair: refused, and the flow stays this browser's.
	other, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreignStore := newFlowCookieStore(other, true)
	sess := sessions.NewSession(foreignStore, flowCookie)
	sess.Options = srv.cookieOptions(cookieBot, "sso", int(broker.FlowTTL.Seconds()))
	data, _ := json.Marshal(fs)
	sess.Values["flow"] = string(data)
	forged := httptest.NewRecorder()
	if err := foreignStore.Save(withCookie(flow), forged, sess); err != nil {
		t.Fatal(err)
	}
	foreign := forged.Result().Cookies()
	if len(foreign) != 1 || foreign[0].Value == flow.Value {
		t.Fatalf("the foreign cookie: %v", foreign)
	}
	if srv.readFlow(withCookie(foreign[0])) != nil {
		t.Fatal("a cookie made with another key pair was read")
	}
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, withCookie(foreign[0]))
	ids, err := st.Identities(t.Context(), store.IdentityQuery{Bot: cookieBot, Channel: "slack", User: cookieUser})
	if rec.Code != http.StatusBadRequest || err != nil || len(ids) != 0 {
		t.Fatalf("callback with a cookie of another key pair: %d, %d identities (%v); want 400 and none", rec.Code, len(ids), err)
	}
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, withCookie(flow))
	ids, err = st.Identities(t.Context(), store.IdentityQuery{Bot: cookieBot, Channel: "slack", User: cookieUser})
	if rec.Code != http.StatusSeeOther || err != nil || len(ids) != 1 {
		t.Fatalf("the genuine callback after the forged one: %d, %d identities (%v)\n%s", rec.Code, len(ids), err, rec.Body)
	}
}
