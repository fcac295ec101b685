// Package mcpserver is the broker's MCP endpoint, /mcp: the Model Context Protocol over
// Streamable HTTP, so that an LLM-driven bot acts through its users' linked accounts with four
// tools (docs/AGENTS.md).
//
// It is a face of the bot API, not a second API: every tool that reads or changes a chat
// user's accounts, or calls a provider, is one bot API call made in-process with the
// session's own bot key (api.go). The key check, the input rules, the rate limits, the
// signing proxy's guards and the error codes are therefore the bot API's, unchanged. What this
// package adds is what a model must never decide: the bot comes from the key, and the chat
// user from headers the bot's runtime sets, bound to the MCP session (caller.go). No tool
// takes a channel or a user.
//
// It imports broker, httpapi (the bearer parser), proxy (its header allow-list), metrics and
// the MCP SDK; nothing of the store or the providers.
package mcpserver

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/metrics"
)

// Options are the endpoint's dependencies.
type Options struct {
	Broker *broker.Broker
	// API is the bot API's handler (httpapi.New), called in-process with paths relative to
	// /api/v1.
	API     http.Handler
	Logger  *slog.Logger
	Metrics *metrics.Metrics
}

// SessionIdle is how long an MCP session lives without a request. Sessions live in the
// memory of the instance that opened them (docs/AGENTS.md says what that means behind a load
// balancer); an idle one is closed so that they cannot pile up.
const SessionIdle = 30 * time.Minute

// Server is the /mcp handler.
type Server struct {
	broker    *broker.Broker
	api       botAPI
	log       *slog.Logger
	metrics   *metrics.Metrics
	tools     map[string]bool // by name, for refuseUnknownTools
	toolNames []string
	handler   http.Handler
}

// New builds the endpoint with its tools.
func New(o Options) *Server {
	s := &Server{broker: o.Broker, api: botAPI{h: o.API}, log: o.Logger, metrics: o.Metrics, tools: map[string]bool{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	sdkLog := slog.New(warnAndAbove{s.log.Handler()})
	srv := mcp.NewServer(&mcp.Implementation{Name: "oauthbroker", Title: "oauthbroker: the user's linked accounts", Version: "1"},
		&mcp.ServerOptions{
			Instructions: instructions,
			Logger:       sdkLog,
			// Tools only: the server sends no log messages, prompts or resources.
			Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}},
		})
	for _, t := range s.toolList() {
		s.add(srv, t)
	}
	srv.AddReceivingMiddleware(s.refuseUnknownTools)
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		// Every answer is one JSON body: the tools send no progress or server-initiated
		// messages, so nothing needs an event stream.
		JSONResponse:   true,
		SessionTimeout: SessionIdle,
		// The SDK refuses loopback requests whose Host is not loopback (DNS rebinding). Every
		// request here carries a bot key a rebinding page does not have, and a broker behind a
		// reverse proxy on the same host receives exactly such requests.
		DisableLocalhostProtection: true,
		// Room for a call_api body of server.proxy.max_request_body, which the proxy checks
		// itself, and its JSON around it; a larger message is refused before any tool runs.
		MaxRequestBodyBytes: o.Broker.Config().Server.Proxy.MaxRequestBody + 1<<20,
		Logger:              sdkLog,
	})
	// The SDK binds a session to the TokenInfo.UserID of the request that opened it and
	// answers 403 to any later request of that session with another one: that is how a
	// session stays with its bot and chat user.
	bind := auth.RequireBearerToken(bindSession, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})
	s.handler = s.authenticate(bind(noStandaloneStream(streamable)))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// instructions are what an MCP client may show its model about this server as a whole.
const instructions = `Tools to act for the user you are talking with, through the accounts they linked (rides, social networks, code hosting, …). ` +
	`The user is fixed by the bot: no tool takes a user, and you cannot act for anyone else. ` +
	`Start with list_connected_accounts, or connect_accounts with the providers a task needs. ` +
	`When connect_accounts is not ready, show its message_for_user to the user as it is and wait for them. ` +
	`Then call_api calls a provider's API as the user; describe_provider tells where that API is and where it is documented.`

// noStandaloneStream answers GET with 405: the server never sends a message of its own, so
// it offers no standalone event stream (the MCP transport allows a server to say so), and no
// connection is held open for one.
func noStandaloneStream(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodDelete {
			w.Header().Set("Allow", "POST, DELETE")
			http.Error(w, "this MCP endpoint takes POST (and DELETE to end a session); it offers no event stream", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// warnAndAbove passes the SDK's warnings and errors to the broker's log, not its chatter
// about every session opened and closed.
type warnAndAbove struct{ slog.Handler }

func (h warnAndAbove) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}
func (h warnAndAbove) WithAttrs(a []slog.Attr) slog.Handler {
	return warnAndAbove{h.Handler.WithAttrs(a)}
}
func (h warnAndAbove) WithGroup(n string) slog.Handler { return warnAndAbove{h.Handler.WithGroup(n)} }

// withoutValues keeps a context's deadline and cancellation and none of its values. A tool
// call's context carries the values of the HTTP request that opened the MCP session (the SDK
// runs the session on it), among them that request's chi routing context, which chi hands to
// later requests: the bot API must start from a clean one.
type withoutValues struct{ context.Context }

func (withoutValues) Value(any) any { return nil }
