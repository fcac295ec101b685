package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/metrics"
)

// Error codes the MCP tools add to the broker's (docs/AGENTS.md lists them all).
const (
	CodeChatUserMissing = "chat_user_missing" // the session's requests lack the chat user headers
	CodeUnknownTool     = "unknown_tool"      // the model called a tool this server does not have
	CodeNotLinked       = broker.ReasonNotLinked
	CodeMissingScopes   = broker.ReasonMissingScopes
)

// toolError is a tool's refusal, as the model reads it: a stable code, what went wrong, and
// what to do next.
type toolError struct {
	Code              string `json:"code"`
	Message           string `json:"message"`
	NextStep          string `json:"next_step,omitempty"`
	ConnectURL        string `json:"connect_url,omitempty"`
	RetryAfterSeconds int    `json:"retry_after_seconds,omitempty"`
}

func (e *toolError) Error() string { return e.Code + ": " + e.Message }

func invalid(msg string) *toolError {
	return &toolError{Code: broker.CodeInvalidRequest, Message: msg, NextStep: "correct the arguments and call the tool again"}
}

// tool is one tool: its definition for the model and what it does.
type tool struct {
	name, title, description string
	schema                   string // the JSON Schema of its arguments
	readOnly, destructive    bool
	openWorld                bool
	run                      func(ctx context.Context, c *caller, args json.RawMessage) (any, error)
}

func (s *Server) toolList() []tool {
	return []tool{s.listAccountsTool(), s.connectTool(), s.callAPITool(), s.describeTool()}
}

// add registers t. Its arguments are checked against its schema here, not by the SDK, so that
// a wrong argument is a tool error with a code like every other.
func (s *Server) add(srv *mcp.Server, t tool) {
	var schema jsonschema.Schema
	if err := json.Unmarshal([]byte(t.schema), &schema); err != nil {
		panic(fmt.Sprintf("mcpserver: tool %s: schema: %v", t.name, err))
	}
	resolved, err := schema.Resolve(nil)
	if err != nil {
		panic(fmt.Sprintf("mcpserver: tool %s: schema: %v", t.name, err))
	}
	destructive, openWorld := t.destructive, t.openWorld
	srv.AddTool(&mcp.Tool{
		Name: t.name, Title: t.title, Description: t.description, InputSchema: json.RawMessage(t.schema),
		Annotations: &mcp.ToolAnnotations{Title: t.title, ReadOnlyHint: t.readOnly, DestructiveHint: &destructive, OpenWorldHint: &openWorld},
	}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return s.call(ctx, t, resolved, req), nil
	})
	s.tools[t.name] = true
	s.toolNames = append(s.toolNames, t.name)
}

// call runs one tool call: the chat user first, then the arguments, then the tool. It counts
// and logs the call (never its arguments or answer), and turns a panic into an internal
// error: the SDK runs tools on goroutines of its own, where a panic would end the process.
func (s *Server) call(ctx context.Context, t tool, schema *jsonschema.Resolved, req *mcp.CallToolRequest) (res *mcp.CallToolResult) {
	start := time.Now()
	ctx = withoutValues{ctx}
	c := callerOf(req)
	bot := metrics.Unknown
	if c != nil {
		bot = c.bot
	}
	outcome := "ok"
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(ctx, "mcp: tool panicked", "bot", bot, "tool", t.name, "stack", string(debug.Stack()))
			res, outcome = errorResult(&toolError{Code: broker.CodeInternal, Message: "internal error; the operator's log has the details"}), broker.CodeInternal
		}
		s.metrics.MCPToolCall(bot, t.name, outcome)
		s.log.InfoContext(ctx, "mcp: tool call", "bot", bot, "tool", t.name, "outcome", outcome, "duration_ms", time.Since(start).Milliseconds())
	}()
	out, err := s.run(ctx, t, schema, c, req.Params.Arguments)
	if err != nil {
		te := asToolError(err)
		if te.Code == broker.CodeInternal {
			s.log.ErrorContext(ctx, "mcp: tool failed", "bot", bot, "tool", t.name, "err", err)
		}
		outcome = te.Code
		if te.NextStep == "" {
			te.NextStep = nextStep(te.Code)
		}
		return errorResult(te)
	}
	return okResult(out)
}

func (s *Server) run(ctx context.Context, t tool, schema *jsonschema.Resolved, c *caller, args json.RawMessage) (any, error) {
	switch {
	case c == nil:
		return nil, errors.New("mcpserver: a tool call without its caller")
	case c.problem != nil:
		return nil, c.problem
	}
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage("{}")
	}
	var instance any
	if err := json.Unmarshal(args, &instance); err != nil {
		return nil, invalid("the arguments are not valid JSON")
	}
	if _, ok := instance.(map[string]any); !ok {
		return nil, invalid("the arguments must be a JSON object")
	}
	if err := schema.Validate(instance); err != nil {
		return nil, invalid("the arguments do not match the tool's input schema: " + schemaReason(err))
	}
	return t.run(ctx, c, args)
}

// schemaReason is the validator's message with the argument it is about named plainly:
// "validating root: validating /properties/method: enum: …" becomes "method: enum: …".
func schemaReason(err error) string {
	msg, arg := err.Error(), ""
	for strings.HasPrefix(msg, "validating ") {
		loc, rest, ok := strings.Cut(strings.TrimPrefix(msg, "validating "), ": ")
		if !ok {
			break
		}
		// A location is a path from the root: its first property is the argument.
		if p, ok := strings.CutPrefix(loc, "/properties/"); ok && arg == "" {
			arg, _, _ = strings.Cut(p, "/")
		}
		msg = rest
	}
	if arg != "" {
		return arg + ": " + msg
	}
	return msg
}

// decodeArgs decodes arguments the schema accepted into v.
func decodeArgs(args json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("the arguments could not be read: " + err.Error())
	}
	return nil
}

// asToolError is err as the model sees it: a broker error keeps its code and message; any
// other error is internal and says nothing of its cause.
func asToolError(err error) *toolError {
	var te *toolError
	if errors.As(err, &te) {
		return te
	}
	var be *broker.Error
	if errors.As(err, &be) {
		out := &toolError{Code: be.Code, Message: broker.ErrorMessage(be)}
		if be.RetryAfter > 0 {
			out.RetryAfterSeconds = int((be.RetryAfter + time.Second - 1) / time.Second)
		}
		return out
	}
	return &toolError{Code: broker.CodeInternal, Message: "internal error; the operator's log has the details"}
}

// nextStep is what a model can do about an error, by its code, where the tool said nothing
// more precise.
func nextStep(code string) string {
	switch code {
	case broker.CodeInvalidRequest:
		return "correct the arguments and call the tool again"
	case broker.CodeNotFound:
		return "list_connected_accounts lists the user's accounts and their account_id"
	case broker.CodeIdentityPending:
		return "ask the user to type in the chat the six-digit code the connect page showed them, then try again"
	case broker.CodeRateLimited, broker.CodeRefreshUnavailable:
		return "wait retry_after_seconds, then try again"
	case broker.CodeProxyPathRejected:
		return "send a path relative to the provider's API base (describe_provider gives it), like /user/repos"
	case broker.CodePayloadTooLarge:
		return "send a smaller body"
	case broker.CodeResponseTooLarge:
		return "ask for less: a filter, fewer fields or a smaller page"
	case broker.CodeUpstream, broker.CodeProviderTimeout:
		return "the provider did not answer as it should; try again later, and tell the user if it persists"
	case broker.CodeProxyNotConfigured:
		return "the broker cannot call this provider's API; tell the user this is not possible here"
	}
	return "tell the user the bot could not do this now"
}

// okResult is a tool's answer: the JSON both as structured content and as text, for clients
// that show their model only text.
func okResult(v any) *mcp.CallToolResult {
	data := encode(v)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(data)}}, StructuredContent: json.RawMessage(data)}
}

func errorResult(e *toolError) *mcp.CallToolResult {
	data := encode(map[string]*toolError{"error": e})
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: string(data)}}, StructuredContent: json.RawMessage(data)}
}

// encode is JSON without HTML escaping: a model copies URLs out of it, and must not copy
// \u0026 for &.
func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("mcpserver: encoding an answer: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// refuseUnknownTools answers a call of a tool the server does not have as a tool error that
// lists the tools, rather than the SDK's protocol error: a model reads tool errors and corrects
// itself, while a protocol error usually ends the turn.
func (s *Server) refuseUnknownTools(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		call, ok := req.(*mcp.CallToolRequest)
		if method != "tools/call" || !ok || call.Params == nil || s.tools[call.Params.Name] {
			return next(ctx, method, req)
		}
		bot := metrics.Unknown
		if c := callerOf(call); c != nil {
			bot = c.bot
		}
		s.metrics.MCPToolCall(bot, metrics.Unknown, CodeUnknownTool)
		name := call.Params.Name
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		return errorResult(&toolError{Code: CodeUnknownTool, Message: fmt.Sprintf("there is no tool %q", name),
			NextStep: "use one of: " + strings.Join(s.toolNames, ", ")}), nil
	}
}
