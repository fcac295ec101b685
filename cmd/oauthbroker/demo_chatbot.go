package main

import (
	"fmt"
	"io"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// The demo's second bot, "chatbot", is the one examples/chatbot talks to: "share my ride"
// needs a rides account and a social account, so it has two sandbox providers, each with
// its own client at the sandbox and a tiny API (sandbox.DemoAPIs), and a webhook to the
// example's address. It is a bot of its own so that the first bot's demo never sends events
// to a chat bot that is not running.
const (
	demoChatBot          = "chatbot"
	defaultChatbotListen = "127.0.0.1:8081"
)

type demoChatbot struct {
	listen                    string // where examples/chatbot receives the webhook
	apiKey, webhookSecret     string
	ridesSecret, socialSecret string
}

func newDemoChatbot(listen string) demoChatbot {
	return demoChatbot{listen: listen, apiKey: randomString(24), webhookSecret: randomString(24),
		ridesSecret: randomString(24), socialSecret: randomString(24)}
}

func (c demoChatbot) webhookURL() string { return "http://" + c.listen + "/webhook" }

// configYAML is the bot's entry under bots:, appended to the demo's configuration.
func (c demoChatbot) configYAML() string {
	return fmt.Sprintf(`  %s:
    api_keys: [%q]
    display_name: Share-my-ride Bot
    webhook_url: %q
    webhook_secret: %q
    providers:
      rides:  { type: sandbox, key: demo-rides,  secret: %q, scopes: [%s] }
      social: { type: sandbox, key: demo-social, secret: %q, scopes: [%s] }
`, demoChatBot, c.apiKey, c.webhookURL(), c.webhookSecret, c.ridesSecret, sandbox.ScopeRides, c.socialSecret, sandbox.ScopePosts)
}

// sandboxClients are the two providers' registrations at the sandbox.
func (c demoChatbot) sandboxClients(cfg *config.Config) []sandbox.Client {
	return []sandbox.Client{
		{ID: "demo-rides", Name: "the chat bot (Sandbox Rides)", Secret: c.ridesSecret, RedirectURIs: []string{cfg.CallbackURL(demoChatBot, "rides")}},
		{ID: "demo-social", Name: "the chat bot (Sandbox Social)", Secret: c.socialSecret, RedirectURIs: []string{cfg.CallbackURL(demoChatBot, "social")}},
	}
}

// printIntro tells how to start the example chat bot against this demo.
func (c demoChatbot) printIntro(w io.Writer, publicURL string) {
	listen := ""
	if c.listen != defaultChatbotListen {
		listen = " -listen " + c.listen
	}
	fmt.Fprintf(w, ` And the example chat bot, "share my ride" (two accounts, webhooks, a ride and a post):
 in another terminal, in the repository, run

    OAUTHBROKER_URL=%s OAUTHBROKER_BOT=%s OAUTHBROKER_API_KEY=%s OAUTHBROKER_WEBHOOK_SECRET=%s go run ./examples/chatbot%s

`, publicURL, demoChatBot, c.apiKey, c.webhookSecret, listen)
}
