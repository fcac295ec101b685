package main

import (
	"fmt"
	"io"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// The demo's third bot, "agent", is the one examples/agent talks to over MCP (/mcp): "share my
// ride" with the same two sandbox APIs as the chat bot's, as providers of its own and without
// a webhook (an agent learns that accounts are linked by asking connect_accounts again). It
// keeps the default confirm: code: the example's runtime confirms the one code the connect
// page shows once both accounts are linked.
const demoAgentBot = "agent"

type demoAgent struct{ apiKey, ridesSecret, socialSecret string }

func newDemoAgent() demoAgent {
	return demoAgent{apiKey: randomString(24), ridesSecret: randomString(24), socialSecret: randomString(24)}
}

func (d demoAgent) configYAML() string {
	return fmt.Sprintf(`  %s:
    api_keys: [%q]
    display_name: Share-my-ride Agent
    providers:
      rides:  { type: sandbox, key: demo-agent-rides,  secret: %q, scopes: [%s] }
      social: { type: sandbox, key: demo-agent-social, secret: %q, scopes: [%s] }
`, demoAgentBot, d.apiKey, d.ridesSecret, sandbox.ScopeRides, d.socialSecret, sandbox.ScopePosts)
}

func (d demoAgent) sandboxClients(cfg *config.Config) []sandbox.Client {
	return []sandbox.Client{
		{ID: "demo-agent-rides", Name: "the agent (Sandbox Rides)", Secret: d.ridesSecret, RedirectURIs: []string{cfg.CallbackURL(demoAgentBot, "rides")}},
		{ID: "demo-agent-social", Name: "the agent (Sandbox Social)", Secret: d.socialSecret, RedirectURIs: []string{cfg.CallbackURL(demoAgentBot, "social")}},
	}
}

func (d demoAgent) printIntro(w io.Writer, publicURL string) {
	fmt.Fprintf(w, ` And an agent, the same "share my ride" through the MCP endpoint (%s/mcp), with a
 scripted model (docs/AGENTS.md): in another terminal, in the repository, run

    OAUTHBROKER_URL=%s OAUTHBROKER_BOT=%s OAUTHBROKER_API_KEY=%s go run ./examples/agent

`, publicURL, publicURL, demoAgentBot, d.apiKey)
}
