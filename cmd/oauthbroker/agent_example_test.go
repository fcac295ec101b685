package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestAgentExampleSharesARide is examples/agent against `oauthbroker demo`, as a new user
// would try it: start the demo, run the command line it prints, open the link the scripted
// model shows, authorize on the sandbox's page, and type the code the page shows. The
// example's runtime confirms the code (the model never sees it), the model asks again, books
// the ride and posts it through call_api; the post is there to read, by the linked account.
func TestAgentExampleSharesARide(t *testing.T) {
	bin := buildExample(t, "agent")
	demoOut, demoErr := startDemo(t)
	m, _ := waitOutput(t, demoOut, 0, regexp.MustCompile(`(OAUTHBROKER_URL=\S+) (OAUTHBROKER_BOT=agent) (OAUTHBROKER_API_KEY=\S+) go run \./examples/agent\n`))
	agent := startExample(t, bin, []string{m[1], m[2], m[3]}, "-user", "alice", "-to", "the station")
	out := agent.out

	asked, asking := waitOutput(t, out, 0, regexp.MustCompile(`\[model calls connect_accounts\]\nbot: Please open (?:this link|these links) to connect your Rides account and connect your Social account[^\n]*\n((?:.*\n)*?).*When the page shows a six-digit code, type it here in the chat\.\n`))
	links := regexp.MustCompile(`http://\S+/auth\?link=[\w-]+`).FindAllString(out.String()[:asking], -1)
	if len(links) == 0 || len(asked) == 0 {
		t.Fatalf("no link in:\n%s", out)
	}
	at := asking
	for _, link := range links {
		st, page := openLink(t, newBrowser(t), link, "1001", "authorize")
		code := regexp.MustCompile(`<p class="code" id="code">(\d{6})</p>`).FindStringSubmatch(page)
		if st != http.StatusOK || code == nil {
			t.Fatalf("%s: %d, no code on the page:\n%s", link, st, page)
		}
		agent.say(code[1])
		waitOutput(t, out, at, regexp.MustCompile(`bot: Code confirmed\.\n`))
		at = len(out.String())
	}
	shared, _ := waitOutput(t, out, asking, regexp.MustCompile(`\[model calls call_api\]\n\[model calls call_api\]\nbot: Booked ride_\d+: .* Shared on social: (http://\S+)\n`))
	if p := readPost(t, shared[1]); p.Author != "ada" || !strings.Contains(p.Text, "On my way to the station") {
		t.Errorf("the post: %+v", p)
	}
	agent.exit()
	if strings.Contains(out.String(), "sbx_at_") || strings.Contains(demoErr.String(), "sbx_at_") {
		t.Error("a token was printed")
	}
}
