package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestAgentExampleSharesARide is examples/agent against `oauthbroker demo`, as a new user
// would try it: start the demo, run the command line it prints, open the one link the
// scripted model shows, connect both accounts on its page in one visit (Authorize on the
// sandbox's page for each), and type the one code the page then shows. The example's runtime
// confirms the code (the model never sees it), the model asks again, books the ride and posts
// it through call_api; the post is there to read, by the linked account.
func TestAgentExampleSharesARide(t *testing.T) {
	bin := buildExample(t, "agent")
	demoOut, demoErr := startDemo(t)
	m, _ := waitOutput(t, demoOut, 0, regexp.MustCompile(`(OAUTHBROKER_URL=\S+) (OAUTHBROKER_BOT=agent) (OAUTHBROKER_API_KEY=\S+) go run \./examples/agent\n`))
	agent := startExample(t, bin, []string{m[1], m[2], m[3]}, "-user", "alice", "-to", "the station")
	out := agent.out

	link, asking := waitOutput(t, out, 0, regexp.MustCompile(`\[model calls connect_accounts\]\nbot: Please open this link to connect your Rides account and connect your Social account: (http://\S+/bots/agent/connect\?link=[\w-]+) \(it works until \d\d:\d\d UTC\)\. When the page shows a six-digit code, type it here in the chat\.\n`))
	st, page := openLink(t, newBrowser(t), link[1], "1001", "authorize")
	code := pageCode(page)
	if st != http.StatusOK || code == "" || providerState(page, "rides") != "linked" || providerState(page, "social") != "linked" ||
		!strings.Contains(page, "alice (terminal)") || !strings.Contains(page, "Share-my-ride Agent") {
		t.Fatalf("the link's page after both accounts: %d\n%s", st, page)
	}
	agent.say(code)
	shared, _ := waitOutput(t, out, asking, regexp.MustCompile(`^bot: Code confirmed\.\n\[model calls connect_accounts\]\n\[model calls call_api\]\n\[model calls call_api\]\nbot: Booked ride_\d+: .* Shared on social: (http://\S+)\n`))
	if p := readPost(t, shared[1]); p.Author != "ada" || !strings.Contains(p.Text, "On my way to the station") {
		t.Errorf("the post: %+v", p)
	}
	agent.exit()
	if strings.Contains(out.String(), "sbx_at_") || strings.Contains(demoErr.String(), "sbx_at_") {
		t.Error("a token was printed")
	}
}
