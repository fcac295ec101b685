// Command chatbot is a small terminal chat bot built on oauthbroker's Go client (package
// client). Type a message, it answers. Its one trick is "share my ride": it books a ride
// with the user's rides account and posts about it with the user's social account — one
// action, two linked accounts.
//
// It shows the whole story of a bot on oauthbroker:
//
//   - one Require call says which accounts are ready and hands one link for the missing ones;
//   - the bot sends it in one message ("open this to connect your Rides and Social
//     accounts") and waits for the signed link.completed webhook rather than polling (with
//     confirm: code, for the code the page showed, which the user types in the chat);
//   - then it performs the combined action with the credentials Require returned.
//
// Against `oauthbroker demo` (no secrets, no internet), which prints this command line:
//
//	OAUTHBROKER_URL=http://127.0.0.1:8080 OAUTHBROKER_BOT=chatbot \
//	OAUTHBROKER_API_KEY=… OAUTHBROKER_WEBHOOK_SECRET=… go run ./examples/chatbot
//
// The demo's bot "chatbot" has two sandbox providers, "rides" and "social", each with a tiny
// API (book a ride, publish a post), and sends its webhooks to this program's -listen
// address. With real keys the providers would be uber and twitter; calling their APIs
// needs their own endpoints and, for Twitter's OAuth 1.0a, request signing: that is what the
// broker's API proxy is for, and this example switches to it when the proxy lands.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

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
		fmt.Fprintln(os.Stderr, "chatbot:", err)
		os.Exit(1)
	}
}

// errUsage: the command line is wrong, and the flag package has said how.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	env := func(k, def string) string {
		if v, ok := getenv(k); ok && v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("chatbot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address of the webhook receiver (the broker POSTs events to http://ADDR/webhook)")
	channel := fs.String("channel", "terminal", "the chat channel this terminal stands for")
	user := fs.String("user", env("USER", "alice"), "the chat user you are")
	rides := fs.String("rides", "rides", "the bot's provider for rides")
	social := fs.String("social", "social", "the bot's provider for posts")
	apiBase := fs.String("api", "", "base URL of the rides and social APIs (default: the demo's sandbox, OAUTHBROKER_URL/sandbox/api/v4)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./examples/chatbot [flags]

A terminal chat bot that shares your ride: it books a ride with your rides account and posts
about it with your social account, linking them through oauthbroker first.

Environment:
  OAUTHBROKER_URL             the broker (default http://127.0.0.1:8080)
  OAUTHBROKER_BOT             the bot (default chatbot)
  OAUTHBROKER_API_KEY         one of the bot's api_keys (required)
  OAUTHBROKER_WEBHOOK_SECRET  the bot's webhook_secret (required)
'oauthbroker demo' prints all four.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // the flag package said what is wrong
	}
	brokerURL := strings.TrimSuffix(env("OAUTHBROKER_URL", "http://127.0.0.1:8080"), "/")
	key, secret := env("OAUTHBROKER_API_KEY", ""), env("OAUTHBROKER_WEBHOOK_SECRET", "")
	if key == "" || secret == "" {
		return errors.New("set OAUTHBROKER_API_KEY and OAUTHBROKER_WEBHOOK_SECRET ('oauthbroker demo' prints them)")
	}
	if *apiBase == "" {
		*apiBase = brokerURL + "/sandbox/api/v4"
	}
	api, err := client.New(brokerURL, env("OAUTHBROKER_BOT", "chatbot"), key, client.WithUserAgent("oauthbroker-example-chatbot/1"))
	if err != nil {
		return err
	}
	// A first call checks the broker, the bot and the key before the user types anything.
	if _, err := api.Identities(ctx, *channel, *user, ""); err != nil {
		return fmt.Errorf("the broker at %s does not answer (is 'oauthbroker demo' running, and are these its values?): %w", brokerURL, err)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("cannot receive webhooks on %s (%v); the broker's webhook_url must point to this program's -listen", *listen, err)
	}
	events := make(chan client.Event, 16)
	srv := &http.Server{Handler: webhookReceiver(secret, events, stderr), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	b := &bot{api: api, out: stdout, channel: *channel, user: *user, rides: *rides, social: *social,
		actions: &actions{base: strings.TrimSuffix(*apiBase, "/"), http: &http.Client{Timeout: 10 * time.Second}}}
	b.say("Hi %s! I can share your ride: I book it with your %s account and post it with your %s account.", *user, title(*rides), title(*social))
	b.say(`Try "share my ride to the station". Also: "accounts", "unlink %s", "help", "quit".`, *social)
	return chat(ctx, b, stdin, events)
}

// chat is the bot's loop: one thing at a time, a line the user typed or an event the
// broker sent, so the bot's state needs no lock.
func chat(ctx context.Context, b *bot, stdin io.Reader, events <-chan client.Event) error {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok || b.handle(ctx, line) {
				b.say("Bye!")
				return nil
			}
		case ev := <-events:
			b.event(ctx, ev)
		}
	}
}

// webhookReceiver accepts the broker's signed events on POST /webhook. An event is handled
// once: deliveries are at least once, so a repeat (same id) is acknowledged and dropped.
func webhookReceiver(secret string, events chan<- client.Event, logw io.Writer) http.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhook", func(w http.ResponseWriter, r *http.Request) {
		ev, err := client.ReadWebhook(secret, r)
		if err != nil {
			fmt.Fprintln(logw, "chatbot: refused a webhook:", err)
			http.Error(w, "bad signature or stale event", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		dup := seen[ev.ID]
		mu.Unlock()
		if !dup {
			select {
			case events <- ev:
			case <-r.Context().Done():
				http.Error(w, "busy", http.StatusServiceUnavailable) // the broker retries
				return
			}
			mu.Lock()
			seen[ev.ID] = true
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
