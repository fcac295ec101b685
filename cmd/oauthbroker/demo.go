package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The demo's chat user: what a bot would pass for the person it is talking to.
const (
	demoBot     = "demo"
	demoChannel = "terminal"
	demoUser    = "alice"
)

func runDemo(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on (loopback; use :0 for any free port)")
	dataDir := fs.String("data", "", "directory for the demo's SQLite store and key file (default: a temporary directory, deleted on exit)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	chatbotListen := fs.String("chatbot-listen", defaultChatbotListen, "where examples/chatbot receives the webhooks of the demo's bot \"chatbot\" (its -listen)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: oauthbroker demo [flags]

Runs the broker with a built-in configuration and a built-in sandbox OAuth 2 provider (at
/sandbox/, with an Authorize / Deny page), so you can link an account with no secrets and no
internet. It prints a link to open in a browser, and the curl commands that then confirm the
code the page shows (as a bot does when the user types it in the chat) and show the linked
identity and its credentials. The bot is "demo" (confirm: code), its provider "sandbox", and
the chat user is channel "terminal", user "alice". A second bot, "chatbot", with two sandbox
providers ("rides", "social"), is the one examples/chatbot talks to; a third, "agent", is the
one examples/agent talks to over MCP (/mcp). The demo prints both command lines. Stop it with
Ctrl-C.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError{code: 2}
	}
	log, err := newLogger(stderr, "text", *logLevel)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "oauthbroker-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return exitError{code: 1, msg: fmt.Sprintf("cannot listen on %s: %v\n(is another demo running? pick another address with -listen 127.0.0.1:8081, or -listen 127.0.0.1:0)", *listen, err)}
	}
	defer ln.Close()
	publicURL := "http://" + ln.Addr().String()
	apiKey, clientSecret := randomString(24), randomString(24)
	chat, agent := newDemoChatbot(*chatbotListen), newDemoAgent()
	cfg, err := config.Parse("demo (built-in)", []byte(demoConfig(publicURL, ln.Addr().String(), filepath.Join(dir, "oauthbroker.db"), apiKey, clientSecret)+chat.configYAML()+agent.configYAML()),
		config.LoadOptions{Getenv: getenv, Types: providers.Types()})
	if err != nil {
		return fmt.Errorf("the built-in demo configuration is invalid (a bug): %w", err)
	}

	sb, err := sandbox.New(sandbox.Options{
		Prefix: "/sandbox",
		Clients: append([]sandbox.Client{{
			ID: "demo-client", Name: "the demo bot", Secret: clientSecret, RedirectURIs: []string{cfg.CallbackURL(demoBot, "sandbox")},
		}}, append(chat.sandboxClients(cfg), agent.sandboxClients(cfg)...)...),
		Users: []sandbox.User{
			{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@sandbox.example"},
			{ID: "1002", Login: "grace", Name: "Grace Hopper", Email: "grace@sandbox.example"},
		},
	})
	if err != nil {
		return err
	}
	// The admin pages get a fresh random password, unless the environment sets one.
	adminPassword, adminFromEnv := getenv("OAUTHBROKER_ADMIN_PASSWORD")
	if !adminFromEnv || adminPassword == "" {
		adminPassword, adminFromEnv = randomString(15), false
	}
	demoEnv := func(k string) (string, bool) {
		if k == "OAUTHBROKER_ADMIN_PASSWORD" {
			return adminPassword, true
		}
		return getenv(k)
	}
	a, err := app.Open(ctx, cfg, app.Options{
		Getenv: demoEnv, Log: log, SandboxURL: publicURL + "/sandbox",
		Mount: func(r chi.Router) { r.Handle("/sandbox/*", http.StripPrefix("/sandbox", sandbox.NewDemoAPIs(sb))) },
	})
	if err != nil {
		return err
	}
	defer a.Store.Close()
	defer a.StartBackground(ctx)()

	link, err := a.Broker.CreateLink(ctx, broker.LinkRequest{Bot: demoBot, Providers: []broker.Requirement{{Provider: "sandbox"}},
		Channel: demoChannel, User: demoUser, UserLabel: "Alice (terminal)"})
	if err != nil {
		return err
	}
	printDemoIntro(stdout, publicURL, apiKey, link, dir, *dataDir == "", adminPassword, adminFromEnv)
	chat.printIntro(stdout, publicURL)
	agent.printIntro(stdout, publicURL)
	go announceLinks(ctx, a.Broker, stdout, publicURL, apiKey)
	return serveUntilDone(ctx, app.HTTPServer(a.Handler, cfg), ln, log)
}

func demoConfig(publicURL, listen, dbPath, apiKey, clientSecret string) string {
	return fmt.Sprintf(`server:
  public_url: %q
  listen: %q
storage:
  driver: sqlite
  dsn: %q
bots:
  %s:
    api_keys: [%q]
    display_name: Demo Bot
    confirm: code
    providers:
      sandbox: { type: sandbox, key: demo-client, secret: %q }
`, publicURL, listen, dbPath, demoBot, apiKey, clientSecret)
}

func printDemoIntro(w io.Writer, publicURL, apiKey string, link broker.NewLink, dir string, temporary bool, adminPassword string, adminFromEnv bool) {
	api := publicURL + "/api/v1/bots/" + demoBot
	fmt.Fprintf(w, `
oauthbroker demo — broker and a sandbox OAuth provider, all on this machine (no secrets, no internet)

 1. Open this link in a browser (it works until %s). Its page says who asks and for whom:
    click "Connect Sandbox", then pick an account and click Authorize on the sandbox's page.

    %s

 2. The page then shows a six-digit code. A chat user types it in the chat and the bot
    confirms it; do that here, with the code in place of CODE:

    curl -s -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
      -d '{"channel":"%s","user":"%s","code":"CODE"}' %s/links/confirm

 3. Then see the identity the bot "%s" has for chat user %q (active once confirmed):

    curl -s -H 'Authorization: Bearer %s' '%s/identities?channel=%s&user=%s'

 4. And its credentials (ID is the "id" from step 3; the broker also prints it here once linked):

    curl -s -H 'Authorization: Bearer %s' %s/identities/ID/credentials

 A new link for the same user, as a bot would ask for one:

    curl -s -X POST -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
      -d '{"provider":"sandbox","channel":"%s","user":"%s"}' %s/links

`, link.ExpiresAt.Local().Format("15:04:05"), link.URL, apiKey, demoChannel, demoUser, api, demoBot, demoUser,
		apiKey, api, demoChannel, demoUser, apiKey, api, apiKey, demoChannel, demoUser, api)
	printDemoAdmin(w, publicURL, adminPassword, adminFromEnv)
	where := dir
	if temporary {
		where += " (deleted when the demo stops)"
	}
	fmt.Fprintf(w, " Data: %s\n Stop with Ctrl-C.\n\n", where)
}

// announceLinks prints each newly linked identity of the demo user, and again once its code is
// confirmed, with its credentials command: the person trying the demo sees each step land
// without polling by hand.
func announceLinks(ctx context.Context, b *broker.Broker, w io.Writer, publicURL, apiKey string) {
	seen := map[int64]string{} // identity → the status last printed
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ids, err := b.Identities(ctx, demoBot, demoChannel, demoUser, "")
		if err != nil {
			continue
		}
		for _, id := range ids {
			if seen[id.ID] == id.Status {
				continue
			}
			seen[id.ID] = id.Status
			if id.Status == store.StatusPending {
				fmt.Fprintf(w, " Linked: identity %d (%s @%s), pending: confirm the code the page shows (step 2).\n\n", id.ID, id.Name, id.NickName)
				continue
			}
			fmt.Fprintf(w, " Linked: identity %d (%s @%s), %s. Its credentials:\n\n    curl -s -H 'Authorization: Bearer %s' %s/api/v1/bots/%s/identities/%d/credentials\n\n",
				id.ID, id.Name, id.NickName, strings.ReplaceAll(id.Status, "_", " "), apiKey, publicURL, demoBot, id.ID)
		}
	}
}

// printDemoAdmin prints where the admin pages are and how to log in.
func printDemoAdmin(w io.Writer, publicURL, password string, fromEnv bool) {
	if fromEnv {
		password = "the one in OAUTHBROKER_ADMIN_PASSWORD"
	}
	fmt.Fprintf(w, ` 5. Every linked identity is on the admin page: log in, search "alice", unlink:

    %s/admin/
    password: %s

`, publicURL, password)
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
