package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestChatbotSharesARide is examples/chatbot against `oauthbroker demo`, tried as a new user
// would: start the demo, run the command line it prints, type "share my ride", open the one
// link the bot sends, click both accounts' buttons and Authorize on each, and type the code
// the page then shows. The bot confirms it, books the ride and posts it with the two
// accounts; the post is there to read. Then the user unlinks one account and shares again
// with another.
func TestChatbotSharesARide(t *testing.T) {
	bin := buildExample(t, "chatbot")
	demoOut, demoErr := startDemo(t)
	cmdLine := regexp.MustCompile(`(OAUTHBROKER_URL=\S+) (OAUTHBROKER_BOT=\S+) (OAUTHBROKER_API_KEY=\S+) (OAUTHBROKER_WEBHOOK_SECRET=\S+) go run \./examples/chatbot -listen (\S+)`)
	m, _ := waitOutput(t, demoOut, 0, cmdLine)
	bot := startExample(t, bin, []string{m[1], m[2], m[3], m[4], "USER=alice"}, "-listen", m[5])
	out, say := bot.out, bot.say
	waitOutput(t, out, 0, regexp.MustCompile(`Try "share my ride to the station"`))

	at := say("share my ride to the station")
	link, _ := waitOutput(t, out, at, regexp.MustCompile(`I need your Rides and Social accounts\. Open this to connect them .*\n\s+(http://\S+/bots/chatbot/connect\?link=\S+)`))

	at = len(out.String())
	st, page := openLink(t, newBrowser(t), link[1], "1001", "authorize")
	code := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)
	if st != http.StatusOK || code == nil || !strings.Contains(page, "alice (terminal)") || !strings.Contains(page, "Share-my-ride Bot") {
		t.Fatalf("the link's page after both accounts: %d\n%s", st, page)
	}
	waitOutput(t, out, at, regexp.MustCompile(`Your Social account is linked; it counts once you type the code`))
	at = say(code[1])
	waitOutput(t, out, at, regexp.MustCompile(`Confirmed: your Rides and Social accounts are connected\.`))
	shared, _ := waitOutput(t, out, at, regexp.MustCompile(`Booked ride_\d+: .*\nbot: Shared on Social: "On my way to the station: [^"]+" (http://\S+)`))
	if p := readPost(t, shared[1]); p.Author != "ada" || !strings.Contains(p.Text, "the station") {
		t.Errorf("the post: %+v", p)
	}

	// Unlink the social account; the next ride asks for that one only.
	at = say("unlink social")
	waitOutput(t, out, at, regexp.MustCompile(`Your Social account is disconnected\.`))
	at = say("share my ride to the airport")
	social, end := waitOutput(t, out, at, regexp.MustCompile(`I need your Social account\. Open this to connect it .*\n\s+(http://\S+/connect\?link=\S+)\nbot: I'll book the ride to the airport`))
	st, page = openLink(t, newBrowser(t), social[1], "1002", "authorize")
	code = regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)
	if st != http.StatusOK || code == nil || providerState(page, "rides") != "" {
		t.Fatalf("social link: %d\n%s", st, page)
	}
	say(code[1])
	shared, _ = waitOutput(t, out, end, regexp.MustCompile(`Shared on Social: "On my way to the airport: [^"]+" (http://\S+)`))
	if p := readPost(t, shared[1]); p.Author != "grace" {
		t.Errorf("the second post: %+v, want it by the newly linked account", p)
	}

	say("quit")
	bot.exit()
	if s := demoErr.String(); strings.Contains(s, "webhook: delivery failed") || strings.Contains(s, "sbx_at_") {
		t.Errorf("the demo's log:\n%s", s)
	}
}

type sandboxPost struct {
	Author string `json:"author"`
	Text   string `json:"text"`
}

// readPost GETs a post as anyone on the web would.
func readPost(t *testing.T, u string) sandboxPost {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p sandboxPost
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return p
}

// waitOutput waits until the output from offset from matches re, and returns the submatches
// and the offset where the match ends.
func waitOutput(t *testing.T, out *syncBuffer, from int, re *regexp.Regexp) ([]string, int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := out.String()[from:]
		if loc := re.FindStringSubmatchIndex(s); loc != nil {
			m := make([]string, len(loc)/2)
			for i := range m {
				if loc[2*i] >= 0 {
					m[i] = s[loc[2*i]:loc[2*i+1]]
				}
			}
			return m, from + loc[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the output never matched %s:\n%s", re, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
