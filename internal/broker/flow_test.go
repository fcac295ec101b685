package broker_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestSandboxFlowThroughTheConsentPage is the demo's path: a person opens the link, picks an
// account on the provider's page and clicks Authorize; the bot then sees the identity and
// exactly the token the provider issued.
func TestSandboxFlowThroughTheConsentPage(t *testing.T) {
	b, sb := testenv.StartSandboxBroker(t, "none")
	browser := testenv.NewBrowser(t)
	link := b.Link("alpha", testenv.KeyA, "sandbox", "telegram", "user-42")

	status, page := testenv.OpenLink(t, browser, link, "1002", "authorize")
	if status != http.StatusOK {
		t.Fatalf("the page after the callback: status %d:\n%s", status, page)
	}
	if !testenv.IsComplete(page) || testenv.ProviderState(page, "sandbox") != "linked" {
		t.Errorf("the page after the callback does not show the account linked:\n%s", page)
	}
	testenv.MustContain(t, page, "Grace Hopper @grace")

	ids := b.Identities("alpha", testenv.KeyA, "telegram", "user-42")
	if len(ids) != 1 {
		t.Fatalf("identities = %+v, want one", ids)
	}
	id := ids[0]
	if id.ProviderUserID != "1002" || id.Name != "Grace Hopper" || id.NickName != "grace" || id.Email != "grace@example.com" || id.Status != "active" || id.ExpiresAt == nil {
		t.Errorf("identity = %+v", id)
	}
	creds := b.Credentials("alpha", testenv.KeyA, id.ID)
	issued := sb.Issued()
	if len(issued) != 1 || creds.AccessToken != issued[0].AccessToken || creds.TokenType != "bearer" || creds.Provider != "sandbox" {
		t.Errorf("credentials = %+v, provider issued %+v", creds, issued)
	}
	if creds.AccessToken == "" {
		t.Error("empty access token")
	}
}

// TestTwitterFlow: OAuth 1.0a against a fake that verifies every signature; the bot gets the
// token and secret Twitter issued.
func TestTwitterFlow(t *testing.T) {
	b, tw := testenv.StartTwitterBroker(t)
	browser := testenv.NewBrowser(t)
	status, page := testenv.ConnectAll(t, browser, b.Link("alpha", testenv.KeyA, "twitter", "slack", "U123"))
	if status != http.StatusOK || !testenv.IsComplete(page) {
		t.Fatalf("status %d:\n%s", status, page)
	}

	ids := b.Identities("alpha", testenv.KeyA, "slack", "U123")
	if len(ids) != 1 || ids[0].ProviderUserID != providertest.DefaultTwitterUser.ID || ids[0].NickName != providertest.DefaultTwitterUser.ScreenName {
		t.Fatalf("identities = %+v", ids)
	}
	creds := b.Credentials("alpha", testenv.KeyA, ids[0].ID)
	issued := tw.Issued()
	if len(issued) != 1 || creds.AccessToken != issued[0].Token || creds.AccessTokenSecret != issued[0].Secret || creds.TokenType != "oauth1" {
		t.Errorf("credentials = %+v, twitter issued %+v", creds, issued)
	}
	for _, c := range tw.Calls() {
		if c.Rejected != "" {
			t.Errorf("the fake rejected %s %s: %s", c.Method, c.Path, c.Rejected)
		}
	}
}

// TestTwoBotsWithTheirOwnTwitterKeys: two bots, one provider type, two apps; flows
// interleaved; every request is signed with its own bot's consumer key.
func TestTwoBotsWithTheirOwnTwitterKeys(t *testing.T) {
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret", "ck-bravo": "cs-bravo-secret"})
	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{
		testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
			Provider("twitter", "twitter", "ck-alpha", "cs-alpha-secret", testenv.At(tw.Endpoints())),
		testenv.Bot("bravo").Key(testenv.KeyB).Confirm("none").
			Provider("twitter", "twitter", "ck-bravo", "cs-bravo-secret", testenv.At(tw.Endpoints())),
	}})

	browserA, browserB := testenv.NewBrowser(t), testenv.NewBrowser(t)
	cbA := testenv.StopAtCallback(t, browserA, b.Link("alpha", testenv.KeyA, "twitter", "web", "same-user"))
	cbB := testenv.StopAtCallback(t, browserB, b.Link("bravo", testenv.KeyB, "twitter", "web", "same-user"))
	// Complete in the opposite order to the start.
	if st, page := testenv.Visit(t, browserB, cbB); st != http.StatusOK {
		t.Fatalf("bravo callback: %d\n%s", st, page)
	}
	if st, page := testenv.Visit(t, browserA, cbA); st != http.StatusOK {
		t.Fatalf("alpha callback: %d\n%s", st, page)
	}

	byKey := map[string]providertest.TwitterCredentials{}
	for _, c := range tw.Issued() {
		byKey[c.ConsumerKey] = c
	}
	for _, bot := range []struct{ name, key, consumer string }{{"alpha", testenv.KeyA, "ck-alpha"}, {"bravo", testenv.KeyB, "ck-bravo"}} {
		ids := b.Identities(bot.name, bot.key, "web", "same-user")
		if len(ids) != 1 {
			t.Fatalf("%s: identities = %+v", bot.name, ids)
		}
		creds := b.Credentials(bot.name, bot.key, ids[0].ID)
		if want := byKey[bot.consumer]; creds.AccessToken != want.Token || creds.AccessTokenSecret != want.Secret {
			t.Errorf("%s got the token issued to another app: %+v, want %+v", bot.name, creds, want)
		}
	}
	tokenOwner := map[string]string{} // access or request token → consumer key that obtained it
	for _, c := range tw.Calls() {
		if c.Rejected != "" {
			t.Errorf("the fake rejected %s %s (%s): %s", c.Method, c.Path, c.ConsumerKey, c.Rejected)
		}
		if c.Token == "" {
			continue
		}
		if prev, ok := tokenOwner[c.Token]; ok && prev != c.ConsumerKey {
			t.Errorf("token used under two consumer keys: %s and %s", prev, c.ConsumerKey)
		}
		tokenOwner[c.Token] = c.ConsumerKey
	}
	keys := map[string]bool{}
	for _, c := range tw.Calls() {
		keys[c.ConsumerKey] = true
	}
	if !keys["ck-alpha"] || !keys["ck-bravo"] || len(keys) != 2 {
		t.Errorf("consumer keys seen by twitter: %v", keys)
	}
}

// TestGitHubFlow: goth's github provider with endpoint overrides, against the sandbox in
// GitHub's shape (client secret, exact redirect_uri and single-use codes checked).
func TestGitHubFlow(t *testing.T) {
	sb, sbURL := testenv.NewSandbox(t)
	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
		Provider("github", "github", "gh-client", "gh-secret-0123456789",
			testenv.Scopes("read:user", "user:email"), testenv.At(testenv.GithubAt(sbURL)))}})
	if err := sb.AddClient(sandbox.Client{ID: "gh-client", Secret: "gh-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/github/callback"}}); err != nil {
		t.Fatal(err)
	}
	if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "github", "discord", "42")); st != http.StatusOK {
		t.Fatalf("status %d:\n%s", st, page)
	}
	ids := b.Identities("alpha", testenv.KeyA, "discord", "42")
	if len(ids) != 1 || ids[0].ProviderUserID != "1001" || ids[0].NickName != "ada" || !slices.Equal(ids[0].Scopes, []string{"read:user", "user:email"}) {
		t.Fatalf("identities = %+v", ids)
	}
	if creds := b.Credentials("alpha", testenv.KeyA, ids[0].ID); creds.AccessToken != sb.Issued()[0].AccessToken {
		t.Errorf("credentials %+v, issued %+v", creds, sb.Issued())
	}
	if r := sb.Stats().Rejected; len(r) != 0 {
		t.Errorf("the provider rejected requests: %v", r)
	}
}

// TestRelinkKeepsTheIdentityAndASecondAccountIsNew: linking the same provider account again
// updates the identity in place (docs/DESIGN.md); another account of that provider is a new one.
func TestRelinkKeepsTheIdentityAndASecondAccountIsNew(t *testing.T) {
	b, sb := testenv.StartSandboxBroker(t, "none")
	link := func(account string) {
		t.Helper()
		if st, page := testenv.OpenLink(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "c", "u"), account, "authorize"); st != http.StatusOK {
			t.Fatalf("status %d:\n%s", st, page)
		}
	}
	link("1001")
	first := b.Identities("alpha", testenv.KeyA, "c", "u")
	link("1001")
	again := b.Identities("alpha", testenv.KeyA, "c", "u")
	if len(again) != 1 || again[0].ID != first[0].ID {
		t.Fatalf("relink: before %+v, after %+v", first, again)
	}
	if creds := b.Credentials("alpha", testenv.KeyA, again[0].ID); creds.AccessToken != sb.Issued()[1].AccessToken {
		t.Errorf("relink did not store the new token")
	}
	link("1002")
	both := b.Identities("alpha", testenv.KeyA, "c", "u")
	if len(both) != 2 || both[0].ID != first[0].ID || both[1].ProviderUserID != "1002" {
		t.Fatalf("second account: %+v", both)
	}
	if n := b.Count("identity_events"); n != 3 {
		t.Errorf("history has %d events, want linked, relinked, linked", n)
	}
}

// TestConfirmCode: with confirm: code the identity stays pending until the chat user types
// the code from the connect page; wrong codes count, and five of them void it.
func TestConfirmCode(t *testing.T) {
	b, _ := testenv.StartSandboxBroker(t, "code")
	status, page := testenv.OpenLink(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "c", "confirmer"), "1001", "authorize")
	if status != http.StatusOK {
		t.Fatalf("%d\n%s", status, page)
	}
	m := regexp.MustCompile(`<p class="code" id="code">(\d{6})</p>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no code on the connect page:\n%s", page)
	}
	code := m[1]
	ids := b.Identities("alpha", testenv.KeyA, "c", "confirmer")
	if len(ids) != 1 || ids[0].Status != "pending" {
		t.Fatalf("before confirming: %+v", ids)
	}
	var p testenv.ProblemBody
	if st := b.API("GET", fmt.Sprintf("/bots/alpha/identities/%d/credentials", ids[0].ID), testenv.KeyA, nil, &p); st != http.StatusConflict || p.Code != "identity_pending" {
		t.Errorf("credentials of a pending identity: %d %+v", st, p)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	confirm := func(user, code string) (int, string) {
		var out struct {
			Identity testenv.IdentityBody `json:"identity"`
			Code     string               `json:"code"`
		}
		st := b.API("POST", "/bots/alpha/links/confirm", testenv.KeyA, map[string]string{"channel": "c", "user": user, "code": code}, &out)
		if st == http.StatusOK {
			return st, out.Identity.Status
		}
		return st, out.Code
	}
	if st, c := confirm("confirmer", wrong); st != http.StatusUnprocessableEntity || c != "wrong_code" {
		t.Errorf("wrong code: %d %s", st, c)
	}
	if st, c := confirm("someone-else", code); st != http.StatusUnprocessableEntity || c != "no_pending_confirmation" {
		t.Errorf("the right code from another chat user: %d %s", st, c)
	}
	if st, c := confirm("confirmer", "12ab56"); st != http.StatusBadRequest || c != "invalid_request" {
		t.Errorf("malformed code: %d %s", st, c)
	}
	if st, status := confirm("confirmer", code); st != http.StatusOK || status != "active" {
		t.Fatalf("right code: %d %s", st, status)
	}
	if creds := b.Credentials("alpha", testenv.KeyA, ids[0].ID); creds.AccessToken == "" {
		t.Error("no credentials after confirming")
	}
	if st, c := confirm("confirmer", code); st != http.StatusUnprocessableEntity || c != "no_pending_confirmation" {
		t.Errorf("the code works twice: %d %s", st, c)
	}

	t.Run("five wrong tries void the code", func(t *testing.T) {
		_, page := testenv.OpenLink(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "c", "guesser"), "1001", "authorize")
		code := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)[1]
		for i := 0; i < 5; i++ {
			guess := fmt.Sprintf("%06d", i)
			if guess == code {
				guess = "999999"
			}
			if st, c := confirm("guesser", guess); st != http.StatusUnprocessableEntity || c != "wrong_code" {
				t.Fatalf("guess %d: %d %s", i, st, c)
			}
		}
		if st, c := confirm("guesser", code); st != http.StatusUnprocessableEntity || c != "no_pending_confirmation" {
			t.Errorf("the right code after five wrong ones: %d %s", st, c)
		}
	})

	t.Run("not for bots without confirm: code", func(t *testing.T) {
		b2, _ := testenv.StartSandboxBroker(t, "none")
		var p testenv.ProblemBody
		if st := b2.API("POST", "/bots/alpha/links/confirm", testenv.KeyA, map[string]string{"channel": "c", "user": "u", "code": "123456"}, &p); st != http.StatusBadRequest || p.Code != "confirm_not_enabled" {
			t.Errorf("status %d %+v", st, p)
		}
	})
}

// TestRequireCombinedAction: one call says what is missing, with links, and hands out every
// credential once all is linked.
func TestRequireCombinedAction(t *testing.T) {
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
	sb, sbURL := testenv.NewSandbox(t)
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
			Provider("rides", "sandbox", "client-a", "secret-a-0123456789", testenv.Scopes("profile")).
			Provider("twitter", "twitter", "ck-alpha", "cs-alpha-secret", testenv.At(tw.Endpoints()))},
		App: app.Options{SandboxURL: sbURL},
	})
	if err := sb.AddClient(sandbox.Client{ID: "client-a", Secret: "secret-a-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/rides/callback"}}); err != nil {
		t.Fatal(err)
	}
	type requireBody struct {
		Ready       bool                               `json:"ready"`
		Credentials map[string]testenv.CredentialsBody `json:"credentials"`
		Missing     []struct {
			Provider, Reason, URL string
		} `json:"missing"`
		ConnectURL       string `json:"connect_url"`
		ConnectExpiresAt string `json:"connect_expires_at"`
	}
	require := func(body any) requireBody {
		t.Helper()
		var out requireBody
		if st := b.API("POST", "/bots/alpha/require", testenv.KeyA, body, &out); st != http.StatusOK {
			t.Fatalf("require: %d", st)
		}
		return out
	}
	req := map[string]any{"channel": "c", "user": "u", "providers": []string{"rides", "twitter"}}
	first := require(req)
	if first.Ready || len(first.Missing) != 2 || first.Missing[0].Reason != "not_linked" || first.Missing[1].Provider != "twitter" ||
		!strings.HasPrefix(first.ConnectURL, b.URL+"/bots/alpha/connect?link=") || first.ConnectExpiresAt == "" ||
		first.ConnectURL == first.Missing[0].URL || first.ConnectURL == first.Missing[1].URL {
		t.Fatalf("nothing linked yet: %+v", first)
	}
	// One visit of the one connect_url links both.
	if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), first.ConnectURL); st != http.StatusOK || !testenv.IsComplete(page) {
		t.Fatalf("connect_url: %d\n%s", st, page)
	}
	ready := require(req)
	if !ready.Ready || len(ready.Missing) != 0 || ready.ConnectURL != "" || ready.Credentials["twitter"].AccessToken != tw.Issued()[0].Token ||
		ready.Credentials["rides"].AccessToken != sb.Issued()[0].AccessToken {
		t.Fatalf("all linked: %+v", ready)
	}

	more := require(map[string]any{"channel": "c", "user": "u", "providers": []any{"twitter", map[string]any{"provider": "rides", "scopes": []string{"rides.request"}}}})
	if more.Ready || len(more.Missing) != 1 || more.Missing[0].Reason != "missing_scopes" || !strings.Contains(more.Missing[0].URL, "/bots/alpha/connect?link=") ||
		more.ConnectURL != more.Missing[0].URL {
		t.Fatalf("a scope the identity lacks: %+v", more)
	}
	if _, ok := more.Credentials["twitter"]; !ok {
		t.Errorf("twitter is ready but has no credentials: %+v", more)
	}

	t.Run("bad input creates no link", func(t *testing.T) {
		for _, body := range []any{
			map[string]any{"channel": "c", "user": "u", "providers": []string{"rides", "nosuch"}},
			map[string]any{"channel": "c", "user": "u", "providers": []string{}},
			map[string]any{"channel": "c", "user": "u", "providers": []string{"rides", "rides"}},
			map[string]any{"channel": "c", "user": "u", "providers": []any{map[string]any{"provider": "rides", "scopes": []string{"bad scope"}}}},
		} {
			b.Unchanged(t, 0, "", func() (int, string) {
				st := b.API("POST", "/bots/alpha/require", testenv.KeyA, body, nil)
				if st != http.StatusBadRequest && st != http.StatusNotFound {
					t.Errorf("%v: status %d", body, st)
				}
				return 0, ""
			})
		}
	})
}

// TestUnlink: DELETE removes the identity from every route and keeps its history.
func TestUnlink(t *testing.T) {
	b, _ := testenv.StartSandboxBroker(t, "none")
	if st, page := testenv.OpenLink(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "sandbox", "c", "u"), "1001", "authorize"); st != http.StatusOK {
		t.Fatalf("%d %s", st, page)
	}
	id := b.Identities("alpha", testenv.KeyA, "c", "u")[0].ID
	path := fmt.Sprintf("/bots/alpha/identities/%d", id)
	if st := b.API("DELETE", path, testenv.KeyA, nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if st := b.API("DELETE", path, testenv.KeyA, nil, nil); st != http.StatusNotFound {
		t.Errorf("second delete: %d", st)
	}
	if st := b.API("GET", path+"/credentials", testenv.KeyA, nil, nil); st != http.StatusNotFound {
		t.Errorf("credentials after delete: %d", st)
	}
	if ids := b.Identities("alpha", testenv.KeyA, "c", "u"); len(ids) != 0 {
		t.Errorf("still listed: %+v", ids)
	}
	if n := b.Count("identity_events"); n != 2 {
		t.Errorf("history has %d events, want linked and unlinked", n)
	}
}

// TestTokensAreNotStoredInTheClear reads the raw database files after flows and looks for
// every token the providers issued.
func TestTokensAreNotStoredInTheClear(t *testing.T) {
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
	sb, sbURL := testenv.NewSandbox(t)
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
			Provider("sandbox", "sandbox", "client-a", "secret-a-0123456789").
			Provider("twitter", "twitter", "ck-alpha", "cs-alpha-secret", testenv.At(tw.Endpoints()))},
		App: app.Options{SandboxURL: sbURL},
	})
	if err := sb.AddClient(sandbox.Client{ID: "client-a", Secret: "secret-a-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/sandbox/callback"}}); err != nil {
		t.Fatal(err)
	}
	var links []string
	for _, p := range []string{"sandbox", "twitter"} {
		l := b.Link("alpha", testenv.KeyA, p, "c", "u")
		links = append(links, l)
		if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), l); st != http.StatusOK {
			t.Fatalf("%s: %d %s", p, st, page)
		}
	}
	raw := string(b.RawFiles())
	var secrets []string
	for _, g := range sb.Issued() {
		secrets = append(secrets, g.AccessToken, g.RefreshToken)
	}
	for _, c := range tw.Issued() {
		secrets = append(secrets, c.Token, c.Secret)
	}
	for _, l := range links {
		u, _ := url.Parse(l)
		secrets = append(secrets, u.Query().Get("link"))
	}
	if len(secrets) != 6 {
		t.Fatalf("expected 6 secrets to look for, have %d", len(secrets))
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an issued secret is empty")
		}
		if strings.Contains(raw, s) {
			t.Errorf("the database files contain an issued secret in the clear (%d bytes long)", len(s))
		}
		if strings.Contains(b.Logs.String(), s) {
			t.Errorf("the log contains an issued secret")
		}
	}
	if len(raw) < 4096 {
		t.Fatalf("read only %d bytes of database", len(raw))
	}
}

// TestGoogleFlow: google's URLs are fixed, so the test sends Google's real hosts to the
// sandbox (in Google's shape, issuing a signed ID token) through a host-rewriting transport.
// The broker is configured exactly as in production, with no endpoint override.
func TestGoogleFlow(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{
		Users:       []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}},
		AutoApprove: "1001",
		Issuer:      "https://accounts.google.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	providertest.NewRewriteTransport(providertest.SandboxRewrites("google", srv.URL)...).Install(t)

	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
		Provider("google", "google", "google-client.apps.googleusercontent.com", "google-secret-0123456789",
			testenv.Scopes("email", "profile"))}})
	if err := sb.AddClient(sandbox.Client{ID: "google-client.apps.googleusercontent.com", Secret: "google-secret-0123456789",
		RedirectURIs: []string{b.URL + "/bots/alpha/google/callback"}}); err != nil {
		t.Fatal(err)
	}
	if st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), b.Link("alpha", testenv.KeyA, "google", "web", "g-user")); st != http.StatusOK {
		t.Fatalf("status %d:\n%s", st, page)
	}
	ids := b.Identities("alpha", testenv.KeyA, "web", "g-user")
	if len(ids) != 1 || ids[0].ProviderUserID != "1001" || ids[0].Email != "ada@example.com" {
		t.Fatalf("identities = %+v", ids)
	}
	issued := sb.Issued()
	if creds := b.Credentials("alpha", testenv.KeyA, ids[0].ID); len(issued) != 1 || creds.AccessToken != issued[0].AccessToken || creds.ExpiresAt == nil {
		t.Errorf("credentials %+v, issued %+v", creds, issued)
	}
	if issued[0].RefreshToken == "" {
		t.Error("google issued no refresh token: prompt=testenv.Consent / access_type=offline missing")
	}
	if r := sb.Stats().Rejected; len(r) != 0 {
		t.Errorf("the provider rejected requests: %v", r)
	}
}
