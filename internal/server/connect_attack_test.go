package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The attacks the connect page stops. Each asserts the answer's status, that no request
// reached the provider, and that the store did not change.

// connectBroker runs bot alpha (confirm given; "" for the default) with two sandbox providers,
// rides and social, on one counted sandbox.
func connectBroker(t *testing.T, confirm string) (*testenv.Broker, *testenv.CountedSandbox) {
	t.Helper()
	sb := testenv.NewCountedSandbox(t)
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).DisplayName("Ride Bot").Confirm(confirm).
			Provider("rides", "sandbox", "client-r", "secret-r-0123456789").
			Provider("social", "sandbox", "client-s", "secret-s-0123456789")},
		App: app.Options{SandboxURL: sb.URL},
	})
	for _, p := range []string{"rides", "social"} {
		if err := sb.AddClient(sandbox.Client{ID: "client-" + p[:1], Secret: "secret-" + p[:1] + "-0123456789",
			RedirectURIs: []string{b.URL + "/bots/alpha/" + p + "/callback"}}); err != nil {
			t.Fatal(err)
		}
	}
	return b, sb
}

// twoProviderLink asks for a link of both providers for a chat user.
func twoProviderLink(b *testenv.Broker, user string) string {
	b.T.Helper()
	var l testenv.LinkBody
	if st := b.API("POST", "/bots/alpha/links", testenv.KeyA, map[string]any{"providers": []string{"rides", "social"},
		"channel": "telegram", "user": user}, &l); st != http.StatusCreated {
		b.T.Fatalf("create link: %d", st)
	}
	return l.URL
}

// untouched runs attack and checks its status, that the provider got no request and that
// the store is as it was.
func untouched(t *testing.T, b *testenv.Broker, sb *testenv.CountedSandbox, wantStatus int, wantText string, attack func() (int, string)) {
	t.Helper()
	before := sb.Requests.Load()
	b.Unchanged(t, wantStatus, wantText, attack)
	if n := sb.Requests.Load() - before; n != 0 {
		t.Errorf("%d requests reached the provider", n)
	}
}

// post sends a form to the broker as a page on another site (or a script) could make a
// browser send it, with exactly the headers given.
func post(t *testing.T, browser *http.Client, action string, fields url.Values, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, action, strings.NewReader(fields.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	c := *browser
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestConnectPageAttacks(t *testing.T) {
	b, sb := connectBroker(t, "none")

	t.Run("cross-site GET only shows the page", func(t *testing.T) {
		link := twoProviderLink(b, "drive-by")
		untouched(t, b, sb, http.StatusOK, "Connect Rides", func() (int, string) {
			req, _ := http.NewRequest(http.MethodGet, link, nil)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			resp, err := testenv.NewBrowser(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			page := string(body)
			if resp.Request.URL.String() != link || testenv.IsComplete(page) || testenv.ProviderState(page, "rides") != "not_linked" {
				t.Errorf("a cross-site GET went beyond the page: ended at %s\n%s", resp.Request.URL, page)
			}
			return resp.StatusCode, page
		})
	})

	// The victim's browser loaded the page (so it holds the page cookie and the form's token
	// is valid for it); what differs is where the POST comes from.
	for _, c := range []struct {
		name    string
		headers map[string]string
	}{
		{"cross-site POST", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{"same-site but not same-origin POST", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example"}},
		{"POST with a foreign Origin and no Sec-Fetch headers", map[string]string{"Origin": "https://evil.example"}},
		{"POST with Origin null", map[string]string{"Origin": "null"}},
		{"POST with neither Sec-Fetch-Site nor Origin", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			browser := testenv.NewBrowser(t)
			_, page := testenv.Visit(t, browser, twoProviderLink(b, "victim"))
			f := testenv.FormFor(t, page, "rides")
			untouched(t, b, sb, http.StatusForbidden, "did not come from the broker", func() (int, string) {
				return post(t, browser, f.Action, f.Fields, c.headers)
			})
		})
	}

	t.Run("POST with copied fields and no cookie", func(t *testing.T) {
		_, page := testenv.Visit(t, testenv.NewBrowser(t), twoProviderLink(b, "copied"))
		f := testenv.FormFor(t, page, "rides")
		origin := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": b.URL}
		untouched(t, b, sb, http.StatusForbidden, "did not open the link", func() (int, string) {
			return post(t, testenv.NewBrowser(t), f.Action, f.Fields, origin)
		})
		// Another browser's page cookie does not go with this form either.
		other := testenv.NewBrowser(t)
		testenv.Visit(t, other, twoProviderLink(b, "other"))
		untouched(t, b, sb, http.StatusForbidden, "did not open the link", func() (int, string) {
			return post(t, other, f.Action, f.Fields, origin)
		})
	})

	t.Run("an error callback from another site mid-flow changes nothing and the flow completes", func(t *testing.T) {
		browser := testenv.NewBrowser(t)
		link := twoProviderLink(b, "mid-flow")
		cb := testenv.StopAtCallbackFor(t, browser, link, "rides")
		for _, q := range []string{"error=access_denied", "error=access_denied&state=forged", "error=server_error&error_description=%3Cb%3Egone%3C%2Fb%3E"} {
			untouched(t, b, sb, http.StatusBadRequest, "does not belong", func() (int, string) {
				status, page := testenv.Visit(t, browser, b.URL+"/bots/alpha/rides/callback?"+q)
				if strings.Contains(page, "gone") {
					t.Errorf("the page shows text from the URL:\n%s", page)
				}
				return status, page
			})
		}
		st, page := testenv.Visit(t, browser, cb)
		if st != http.StatusOK || testenv.ProviderState(page, "rides") != "linked" || testenv.ProviderState(page, "social") != "not_linked" {
			t.Fatalf("the real callback after the attack: %d\n%s", st, page)
		}
	})

	t.Run("a bot name with words in the URL is not echoed", func(t *testing.T) {
		words := "Your account was suspended call 555 0100"
		for _, u := range []string{
			b.URL + "/bots/" + url.PathEscape(words) + "/connect?link=x",
			b.URL + "/bots/" + url.PathEscape(words) + "/rides/auth?link=x",
			b.URL + "/bots/alpha/" + url.PathEscape(words) + "/auth?link=x",
			b.URL + "/bots/alpha/connect?link=" + url.QueryEscape(words),
		} {
			untouched(t, b, sb, http.StatusNotFound, "This link is not valid", func() (int, string) {
				status, page := testenv.Visit(t, testenv.NewBrowser(t), u)
				// Not "555" alone: the page's random request id may hold it.
				if strings.Contains(page, "suspended") || strings.Contains(page, "555 0100") || strings.Contains(page, "555%200100") {
					t.Errorf("%s: the page repeats the URL's words:\n%s", u, page)
				}
				return status, page
			})
		}
	})
}

// TestLeakedLinkOpenedTwentyTimes: a link that leaked is clicked through in twenty browsers
// without anyone finishing at the provider. The link's cap stops it at MaxOpenFlows started
// sign-ins — the rest are refused before the provider is asked and store nothing — and the
// same chat user's other link works as if nothing happened.
func TestLeakedLinkOpenedTwentyTimes(t *testing.T) {
	b, sb := connectBroker(t, "none")
	leaked := twoProviderLink(b, "popular")
	started := 0
	for i := range 20 {
		browser := testenv.NewBrowser(t)
		_, page := testenv.Visit(t, browser, leaked)
		f := testenv.FormFor(t, page, []string{"rides", "social"}[i%2])
		origin := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": b.URL}
		if started < 10 {
			if st, _ := post(t, browser, f.Action, f.Fields, origin); st != http.StatusFound {
				t.Fatalf("testenv.Click %d: %d, want 302 to the provider", i+1, st)
			}
			started++
			continue
		}
		untouched(t, b, sb, http.StatusTooManyRequests, "Too many sign-ins started", func() (int, string) {
			return post(t, browser, f.Action, f.Fields, origin)
		})
	}
	st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), twoProviderLink(b, "popular"))
	if st != http.StatusOK || !testenv.IsComplete(page) {
		t.Fatalf("the user's other link after the leaked one was opened 20 times: %d\n%s", st, page)
	}
	if ids := b.Identities("alpha", testenv.KeyA, "telegram", "popular"); len(ids) != 2 {
		t.Errorf("identities %+v, want rides and social", ids)
	}
}

// TestForwardedLinkWithTheDefaultConfirm: a bot that does not set confirm uses codes. A link
// one chat user asked for, finished in someone else's browser (forwarded, or opened by another
// site), leaves both accounts pending: the code is on the page that person saw, the chat user
// who asked does not have it, and the person who has it cannot confirm as anyone else.
func TestForwardedLinkWithTheDefaultConfirm(t *testing.T) {
	b, _ := connectBroker(t, "")
	st, page := testenv.ConnectAll(t, testenv.NewBrowser(t), twoProviderLink(b, "asker"))
	m := regexp.MustCompile(`<p class="code" id="code">(\d{6})</p>`).FindStringSubmatch(page)
	if st != http.StatusOK || !testenv.IsComplete(page) || m == nil {
		t.Fatalf("the forwarded link, finished: %d\n%s", st, page)
	}
	code := m[1]
	ids := b.Identities("alpha", testenv.KeyA, "telegram", "asker")
	if len(ids) != 2 || ids[0].Status != "pending" || ids[1].Status != "pending" {
		t.Fatalf("identities after the link: %+v, want two pending", ids)
	}
	for _, id := range ids {
		var p testenv.ProblemBody
		if st := b.API("GET", fmt.Sprintf("/bots/alpha/identities/%d/credentials", id.ID), testenv.KeyA, nil, &p); st != http.StatusConflict || p.Code != "identity_pending" {
			t.Errorf("credentials of pending identity %d: %d %+v", id.ID, st, p)
		}
	}
	confirm := func(user, code string) (int, string) {
		var p testenv.ProblemBody
		st := b.API("POST", "/bots/alpha/links/confirm", testenv.KeyA, map[string]string{"channel": "telegram", "user": user, "code": code}, &p)
		return st, p.Code
	}
	// The person who saw the code types it in their own chat: it is not theirs to confirm.
	if st, c := confirm("the-person-who-clicked", code); st != http.StatusUnprocessableEntity || c != "no_pending_confirmation" {
		t.Errorf("the code from another chat user: %d %s", st, c)
	}
	// The chat user who asked has no code; guessing fails, and five guesses void it.
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	if st, c := confirm("asker", wrong); st != http.StatusUnprocessableEntity || c != "wrong_code" {
		t.Errorf("a guess: %d %s", st, c)
	}
	for _, id := range b.Identities("alpha", testenv.KeyA, "telegram", "asker") {
		if id.Status != "pending" {
			t.Errorf("identity %d is %s after the attempts, want pending", id.ID, id.Status)
		}
	}
	// Only the right chat user with the right code activates both.
	var out struct {
		Identities []testenv.IdentityBody `json:"identities"`
	}
	if st := b.API("POST", "/bots/alpha/links/confirm", testenv.KeyA, map[string]string{"channel": "telegram", "user": "asker", "code": code}, &out); st != http.StatusOK ||
		len(out.Identities) != 2 || out.Identities[0].Provider != "rides" || out.Identities[1].Provider != "social" ||
		out.Identities[0].Status != "active" || out.Identities[1].Status != "active" {
		t.Fatalf("the right code from the right chat user: %d %+v", st, out)
	}
}
