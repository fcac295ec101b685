// Command agent is a small MCP client that stands for an LLM-driven chat bot using
// oauthbroker's MCP endpoint (/mcp). Its "model" is a script (model.go): deterministic, no
// LLM, but it chooses tools and reads their answers the way a model given these tools would,
// for "share my ride": connect_accounts, show the user the one link it answers for both
// accounts, then call_api twice — book a ride with the rides account, post about it with the
// social account.
//
// The program plays the other part, the bot's runtime, which is what a real agent framework
// does around its model:
//
//   - it opens the MCP session with the bot's API key and the chat user in headers
//     (X-OAuthBroker-Channel, X-OAuthBroker-User, and X-OAuthBroker-User-Label, how the
//     connect page names the user): the model never chooses the user;
//   - it relays the user's chat lines to the model, except a six-digit code, which it
//     confirms with the broker itself (POST …/links/confirm): the one code the connect page
//     shows once every account of the link is linked proves that the person who linked them
//     is this chat user, so it must never pass through the model.
//
// Against `oauthbroker demo`, which prints this command line:
//
//	OAUTHBROKER_URL=http://127.0.0.1:8080 OAUTHBROKER_BOT=agent OAUTHBROKER_API_KEY=… go run ./examples/agent
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/oauthbroker/oauthbroker/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	env := func(k, def string) string {
		if v, ok := getenv(k); ok && v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	channel := fs.String("channel", "terminal", "the chat channel this terminal stands for")
	user := fs.String("user", env("USER", "alice"), "the chat user you are")
	to := fs.String("to", "the station", "where the ride goes")
	rides := fs.String("rides", "rides", "the bot's provider for rides")
	social := fs.String("social", "social", "the bot's provider for posts")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./examples/agent [flags]

A scripted agent that shares your ride through oauthbroker's MCP endpoint: it books a ride
with your rides account and posts about it with your social account, asking you to connect
them first.

Environment:
  OAUTHBROKER_URL      the broker (default http://127.0.0.1:8080)
  OAUTHBROKER_BOT      the bot (default agent)
  OAUTHBROKER_API_KEY  one of the bot's api_keys (required)
'oauthbroker demo' prints all three.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	brokerURL := strings.TrimSuffix(env("OAUTHBROKER_URL", "http://127.0.0.1:8080"), "/")
	key := env("OAUTHBROKER_API_KEY", "")
	if key == "" {
		return errors.New("set OAUTHBROKER_API_KEY ('oauthbroker demo' prints it)")
	}
	api, err := client.New(brokerURL, env("OAUTHBROKER_BOT", "agent"), key, client.WithUserAgent("oauthbroker-example-agent/1"))
	if err != nil {
		return err
	}

	// The runtime's part: the bot's key and the chat user go in headers on every MCP request.
	headers := http.Header{"Authorization": {"Bearer " + key}, "X-Oauthbroker-Channel": {*channel}, "X-Oauthbroker-User": {*user},
		"X-Oauthbroker-User-Label": {*user + " (" + *channel + ")"}}
	mc := mcp.NewClient(&mcp.Implementation{Name: "oauthbroker-example-agent", Version: "1"}, nil)
	session, err := mc.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: brokerURL + "/mcp", HTTPClient: &http.Client{Transport: withHeaders{headers}}, MaxRetries: -1,
	}, nil)
	if err != nil {
		return fmt.Errorf("the broker's MCP endpoint at %s does not answer (is 'oauthbroker demo' running, and are these its values?): %w", brokerURL, err)
	}
	defer session.Close()

	a := &agent{session: session, model: &model{to: *to, rides: *rides, social: *social}, out: stdout,
		confirm: func(code string) error { _, err := api.Confirm(ctx, *channel, *user, code); return err }}
	fmt.Fprintf(stdout, "you: share my ride to %s\n", *to)
	return a.converse(ctx, bufio.NewScanner(stdin))
}

// withHeaders adds the runtime's headers to every request of the MCP transport.
type withHeaders struct{ h http.Header }

func (t withHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range t.h {
		r.Header[k] = vs
	}
	return http.DefaultTransport.RoundTrip(r)
}

var sixDigits = regexp.MustCompile(`^\s*(\d{6})\s*$`)

// agent is the runtime's loop: the model decides, tools run, the user's lines come in.
type agent struct {
	session *mcp.ClientSession
	model   *model
	out     io.Writer
	confirm func(code string) error
}

func (a *agent) converse(ctx context.Context, in *bufio.Scanner) error {
	for {
		s := a.model.next()
		switch {
		case s.tool != "":
			fmt.Fprintf(a.out, "[model calls %s]\n", s.tool)
			res, err := a.session.CallTool(ctx, &mcp.CallToolParams{Name: s.tool, Arguments: s.args})
			if err != nil {
				return fmt.Errorf("%s: %w", s.tool, err)
			}
			text := ""
			if len(res.Content) > 0 {
				if t, ok := res.Content[0].(*mcp.TextContent); ok {
					text = t.Text
				}
			}
			a.model.observe(s.tool, text, res.IsError)
		case s.say != "":
			fmt.Fprintf(a.out, "bot: %s\n", s.say)
			if s.done {
				return nil
			}
			if !a.userSays(in) {
				return nil
			}
		}
	}
}

// userSays reads the user's next line for the model. A six-digit code is the runtime's to
// confirm, never the model's to see.
func (a *agent) userSays(in *bufio.Scanner) bool {
	for in.Scan() {
		line := in.Text()
		m := sixDigits.FindStringSubmatch(line)
		if m == nil {
			a.model.hear(line)
			return true
		}
		if err := a.confirm(m[1]); err != nil {
			fmt.Fprintf(a.out, "bot: That code did not work (%v). Try again, or type \"done\".\n", err)
			continue
		}
		fmt.Fprintln(a.out, "bot: Code confirmed.")
		a.model.hear("I typed the code the page showed")
		return true
	}
	return false
}
