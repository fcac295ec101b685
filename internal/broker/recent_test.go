package broker

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRecentPageChecksWhatConnectPageChecks: the page a callback left answers the checks a
// read link's page does, with the same codes: bot and provider of the address, the link's
// bot, a provider of the link, spent (with the page) and expired.
func TestRecentPageChecksWhatConnectPageChecks(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	b := lifecycleBroker(t, func() time.Time { return now })
	link, err := b.CreateLink(t.Context(), LinkRequest{Bot: "b", Providers: []Requirement{{Provider: "gh"}}, Channel: "slack", User: "U1"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link.URL)
	token := u.Query().Get("link")
	c, err := b.ConnectPage(t.Context(), "b", "", token)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.RecentPage("b", "", c); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("a live link's page: %+v, %v; want %+v", got, err, c)
	}
	if got, err := b.RecentPage("b", "gh", c); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("at its provider's address: %+v, %v", got, err)
	}
	otherBot := c
	otherBot.Bot = "z"
	spent, cancelled := c, c
	spent.Complete, cancelled.Cancelled = true, true
	for _, tc := range []struct {
		name, bot, provider string
		c                   Connect
		code                string
		withPage            bool
	}{
		{"unknown bot", "nobot", "", c, CodeUnknownBot, false},
		{"unknown provider", "b", "nope", c, CodeUnknownProvider, false},
		{"provider not of the link", "b", "sp", c, CodeLinkNotFound, false},
		{"another bot's link", "b", "", otherBot, CodeLinkNotFound, false},
		{"spent", "b", "", spent, CodeLinkUsed, true},
		{"cancelled", "b", "", cancelled, CodeLinkUsed, true},
	} {
		got, err := b.RecentPage(tc.bot, tc.provider, tc.c)
		if ErrorCode(err) != tc.code || (tc.withPage != (got.LinkID == c.LinkID)) {
			t.Errorf("%s: %+v, %v; want code %s (page %v)", tc.name, got, err, tc.code, tc.withPage)
		}
	}
	if _, err := b.RecentPage("b", "", cancelled); !strings.Contains(ErrorMessage(err), "cancelled") {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := b.ConnectPage(t.Context(), "b", "sp", token); ErrorCode(err) != CodeLinkNotFound {
		t.Errorf("ConnectPage, provider not of the link: %v", err)
	}

	now = link.ExpiresAt
	_, readErr := b.ConnectPage(t.Context(), "b", "", token)
	if got, err := b.RecentPage("b", "", c); ErrorCode(err) != CodeLinkExpired || ErrorCode(readErr) != CodeLinkExpired || got.LinkID != 0 {
		t.Errorf("expired: %+v, %v (a read: %v)", got, err, readErr)
	}
}
