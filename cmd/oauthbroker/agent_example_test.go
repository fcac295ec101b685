package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAgentExampleSharesARide is examples/agent against `oauthbroker demo`, as a new user
// would try it: start the demo, run the command line it prints, open the link the scripted
// model shows, authorize on the sandbox's page, and type the code the page shows. The
// example's runtime confirms the code (the model never sees it), the model asks again, books
// the ride and posts it through call_api; the post is there to read, by the linked account.
func TestAgentExampleSharesARide(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH, so examples/agent cannot be built")
	}
	bin := filepath.Join(t.TempDir(), "agent")
	build := exec.Command(goCmd, "build", "-o", bin, "./examples/agent")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/agent: %v\n%s", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	demoOut, demoErr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-listen", "127.0.0.1:0", "-chatbot-listen", freeAddr(t)}, func(string) (string, bool) { return "", false }, demoOut, demoErr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo returned %v", err)
		}
	}()
	m, _ := waitOutput(t, demoOut, 0, regexp.MustCompile(`(OAUTHBROKER_URL=\S+) (OAUTHBROKER_BOT=agent) (OAUTHBROKER_API_KEY=\S+) go run \./examples/agent\n`))

	agent := exec.Command(bin, "-user", "alice", "-to", "the station")
	agent.Env = append(os.Environ(), m[1], m[2], m[3])
	stdin, err := agent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, agentErr := &syncBuffer{}, &syncBuffer{}
	agent.Stdout, agent.Stderr = out, agentErr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			agent.Process.Kill()
			<-exited
		}
	}()

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
		if _, err := io.WriteString(stdin, code[1]+"\n"); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, out, at, regexp.MustCompile(`bot: Code confirmed\.\n`))
		at = len(out.String())
	}
	shared, _ := waitOutput(t, out, asking, regexp.MustCompile(`\[model calls call_api\]\n\[model calls call_api\]\nbot: Booked ride_\d+: .* Shared on social: (http://\S+)\n`))
	if p := readPost(t, shared[1]); p.Author != "ada" || !strings.Contains(p.Text, "On my way to the station") {
		t.Errorf("the post: %+v", p)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("the agent exited with %v\n%s", err, agentErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not finish")
	}
	if strings.Contains(out.String(), "sbx_at_") || strings.Contains(demoErr.String(), "sbx_at_") {
		t.Error("a token was printed")
	}
}
