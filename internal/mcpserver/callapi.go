package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/proxy"
)

// MaxAnswerBody is the most of a provider's answer call_api shows the model; the rest is cut
// with a note. A model's context is small, and an API answer that does not fit is one to ask
// for in pages.
const MaxAnswerBody = 32 << 10

func (s *Server) callAPITool() tool {
	return tool{
		name: "call_api", title: "Call a provider's API as the user", destructive: true, openWorld: true,
		description: `Calls a provider's API as the user you are talking with, through one of their connected accounts: by provider (their most recently linked usable account) or by account_id (from list_connected_accounts). ` +
			`The broker signs the request as the user; never send tokens or an Authorization header. ` +
			`path is relative to the provider's API base URL (describe_provider gives it and the documentation), e.g. "/user/repos"; put parameters in query, not in path. ` +
			`body is a JSON value sent as application/json, or a string sent as it is (set Content-Type in headers); with Content-Type application/x-www-form-urlencoded an object is sent as a form. ` +
			`Answers the provider's status, selected headers and body (JSON when the provider answered JSON; long answers are cut, with a note). ` +
			`A provider's own error (4xx, 5xx) is an answer like any other, with its status. POST, PUT, PATCH and DELETE change things at the provider: do them only when the user asked for it.`,
		schema: `{
  "type": "object",
  "properties": {
    "provider": {"type": "string", "minLength": 1, "description": "The provider to call as the user, e.g. \"github\". Give provider or account_id, not both."},
    "account_id": {"type": "integer", "minimum": 1, "description": "The account to call as, from list_connected_accounts, when the user has several of one provider."},
    "method": {"type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]},
    "path": {"type": "string", "minLength": 1, "maxLength": 4096, "description": "The API path relative to the provider's API base URL, percent-encoded where needed, without ? or #, e.g. \"/1.1/statuses/update.json\"."},
    "query": {
      "type": "object",
      "additionalProperties": {"type": ["string", "number", "boolean", "array"], "items": {"type": ["string", "number", "boolean"]}},
      "description": "Query parameters, e.g. {\"per_page\": 10}; an array repeats the parameter."
    },
    "headers": {
      "type": "object", "additionalProperties": {"type": "string"},
      "description": "Request headers. Only these reach the provider: ` + strings.Join(proxy.RequestHeaders(), ", ") + `."
    },
    "body": {"description": "The request body: a JSON value (sent as JSON), or a string sent as it is."}
  },
  "required": ["method", "path"],
  "additionalProperties": false
}`,
		run: s.callAPI,
	}
}

// callArgs are call_api's arguments.
type callArgs struct {
	Provider  string                     `json:"provider"`
	AccountID int64                      `json:"account_id"`
	Method    string                     `json:"method"`
	Path      string                     `json:"path"`
	Query     map[string]json.RawMessage `json:"query"`
	Headers   map[string]string          `json:"headers"`
	Body      json.RawMessage            `json:"body"`
}

// outbound is the request call_api makes of the proxy, before an account is chosen.
type outbound struct {
	method, path, rawQuery string // path: as the model sent it, without its leading slash
	header                 http.Header
	body                   []byte
}

// parseCall checks call_api's arguments and builds the request. It refuses what would change
// the shape of the proxy's URL (a query or fragment in the path); which paths may be called is
// the proxy's own rule, applied when the request reaches it.
func parseCall(in callArgs) (*outbound, error) {
	if (in.Provider == "") == (in.AccountID == 0) {
		return nil, invalid("give provider or account_id (exactly one of them)")
	}
	out := &outbound{method: in.Method, path: strings.TrimPrefix(in.Path, "/"), header: http.Header{}}
	if strings.ContainsAny(out.path, "?#") {
		return nil, &toolError{Code: broker.CodeProxyPathRejected, Message: "the path holds ? or #",
			NextStep: "put query parameters in query, and send the path alone"}
	}
	q := url.Values{}
	for k, raw := range in.Query {
		var list []any
		if json.Unmarshal(raw, &list) != nil {
			list = []any{json.RawMessage(raw)}
		}
		for _, v := range list {
			q.Add(k, scalar(v))
		}
	}
	out.rawQuery = q.Encode()
	allowed := proxy.RequestHeaders()
	for k, v := range in.Headers {
		name := http.CanonicalHeaderKey(k)
		if !slices.Contains(allowed, name) {
			return nil, invalid(fmt.Sprintf("header %q does not reach providers (the broker signs each request itself); these do: %s", k, strings.Join(allowed, ", ")))
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return nil, invalid(fmt.Sprintf("header %s holds a control character", name))
		}
		out.header.Set(name, v)
	}
	body, err := requestBody(in.Body, out.header)
	if err != nil {
		return nil, err
	}
	if body != nil && (in.Method == http.MethodGet || in.Method == http.MethodHead) {
		return nil, invalid(in.Method + " takes no body; put parameters in query")
	}
	out.body = body
	return out, nil
}

// scalar is one query value as text: a string as it is, a number or boolean as JSON writes it.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.RawMessage:
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return string(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// requestBody encodes call_api's body and sets its Content-Type unless the model did.
func requestBody(raw json.RawMessage, h http.Header) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	var text string
	switch {
	case raw[0] == '"' && json.Unmarshal(raw, &text) == nil:
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
		return []byte(text), nil
	case raw[0] == '{' && mt == "application/x-www-form-urlencoded":
		var fields map[string]any
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, invalid("body is not a JSON object")
		}
		form := url.Values{}
		for k, v := range fields {
			switch v.(type) {
			case map[string]any, []any, nil:
				return nil, invalid(fmt.Sprintf("form field %q must be a string, number or boolean", k))
			}
			form.Set(k, scalar(v))
		}
		return []byte(form.Encode()), nil
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, invalid("body is not valid JSON")
	}
	return compact.Bytes(), nil
}

func (s *Server) callAPI(ctx context.Context, c *caller, args json.RawMessage) (any, error) {
	var in callArgs
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	out, err := parseCall(in)
	if err != nil {
		return nil, err
	}
	acct, err := s.pickAccount(ctx, c, in.Provider, in.AccountID)
	if err != nil {
		return nil, err
	}
	prefix := "/bots/" + c.bot + "/identities/" + strconv.FormatInt(acct.ID, 10) + "/proxy"
	ans, err := s.api.do(ctx, c, out.method, prefix+"/"+out.path, out.rawQuery, out.header, out.body, MaxAnswerBody)
	if err != nil {
		return nil, err
	}
	if ans.header.Get(proxy.HeaderIdentity) == "" {
		// The broker's own answer: the proxy refused the call, or the provider could not be
		// reached. Nothing of the provider's is in it.
		te := ans.problem()
		if te.Code == broker.CodeProxyPathRejected {
			// The proxy's advice names its own route; the model is told its own in NextStep.
			te.Message, _, _ = strings.Cut(te.Message, "; ")
		}
		return nil, s.refusal(ctx, c, acct.Provider, te)
	}
	if ans.cut {
		return nil, &toolError{Code: broker.CodeUpstream,
			Message: "the provider's answer broke off, or grew past the broker's limit (server.proxy.max_response_body); nothing of it is shown"}
	}
	return answerOf(acct, ans, prefix, out.method), nil
}

// pickAccount finds the account to call as among the session's chat user's own: the one
// account_id names, or the provider's usable one linked or refreshed last (as require picks).
// An account_id of anyone else is not found, exactly like one that does not exist.
func (s *Server) pickAccount(ctx context.Context, c *caller, provider string, id int64) (apiIdentity, error) {
	ids, err := s.identities(ctx, c, provider)
	if err != nil {
		return apiIdentity{}, s.withProviders(c, err)
	}
	if id != 0 {
		for _, a := range ids {
			if a.ID == id {
				return a, nil // its status is the proxy's to check
			}
		}
		return apiIdentity{}, &toolError{Code: broker.CodeNotFound, Message: fmt.Sprintf("account %d is not one of this user's accounts", id),
			NextStep: "list_connected_accounts lists the user's accounts and their account_id"}
	}
	var best *apiIdentity
	pending, relink := false, false
	for i, a := range ids {
		switch a.Status {
		case "active":
			if best == nil || a.UpdatedAt.After(best.UpdatedAt) {
				best = &ids[i]
			}
		case "pending":
			pending = true
		case broker.ReasonRelinkRequired:
			relink = true
		}
	}
	switch {
	case best != nil:
		return *best, nil
	case pending:
		return apiIdentity{}, &toolError{Code: broker.CodeIdentityPending,
			Message: "the user's " + s.title(c.bot, provider) + " account is linked but not confirmed yet"}
	case relink:
		return apiIdentity{}, s.refusal(ctx, c, provider, &toolError{Code: broker.CodeRelinkRequired,
			Message: "the user's " + s.title(c.bot, provider) + " account must be connected again: the provider no longer accepts it"})
	}
	return apiIdentity{}, s.refusal(ctx, c, provider, &toolError{Code: CodeNotLinked,
		Message: "the user has not connected a " + s.title(c.bot, provider) + " account"})
}

// refusal adds to a refused call what the user must do for an account to (re)connect: a fresh
// link, with the sentence to send it with.
func (s *Server) refusal(ctx context.Context, c *caller, provider string, te *toolError) *toolError {
	if te.Code != CodeNotLinked && te.Code != broker.CodeRelinkRequired {
		return te
	}
	te.NextStep = "call connect_accounts with this provider, show its message_for_user to the user, and try again once they are done"
	if ca, err := s.require(ctx, c, []requirement{{Provider: provider}}); err == nil && !ca.Ready {
		te.ConnectURL = ca.ConnectURL
		te.NextStep = "show the user this message as it is, and try again once they are done: " + ca.MessageForUser
	}
	return te
}

// callAnswer is call_api's answer.
type callAnswer struct {
	AccountID int64             `json:"account_id"`
	Provider  string            `json:"provider"`
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      any               `json:"body,omitempty"`
	BodyBytes int64             `json:"body_bytes"`
	Truncated bool              `json:"body_truncated,omitempty"`
	Note      string            `json:"note,omitempty"`
}

// answerHeaders are the provider's headers the model sees: what describes the body, where to
// go next (Location, Link: as paths for call_api), caching validators and rate limits.
var answerHeaders = []string{"Content-Type", "Location", "Link", "Etag", "Last-Modified", "Retry-After"}

func answerOf(acct apiIdentity, ans *apiAnswer, prefix, method string) callAnswer {
	out := callAnswer{AccountID: acct.ID, Provider: acct.Provider, Status: ans.status, BodyBytes: ans.size, Headers: map[string]string{}}
	for k, vs := range ans.header {
		lower := strings.ToLower(k)
		if slices.Contains(answerHeaders, k) || strings.HasPrefix(lower, "x-ratelimit-") || strings.HasPrefix(lower, "x-rate-limit-") || strings.HasPrefix(lower, "ratelimit") {
			// The proxy points Location and Link under the API base back into itself: for the
			// model, that is a call_api path.
			out.Headers[k] = strings.ReplaceAll(strings.Join(vs, ", "), prefix+"/", "/")
		}
	}
	body := ans.body
	if method == http.MethodHead || len(body) == 0 {
		return withNote(out)
	}
	out.Truncated = ans.size > int64(len(body))
	mt, _, _ := mime.ParseMediaType(ans.header.Get("Content-Type"))
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	switch {
	case isJSON && !out.Truncated && json.Valid(body):
		out.Body = json.RawMessage(body)
	case utf8.Valid(trimPartialRune(body)):
		out.Body = string(trimPartialRune(body))
	default:
		out.Note = fmt.Sprintf("the answer is binary (%s, %d bytes) and is not shown", mt, ans.size)
		return out
	}
	if out.Truncated {
		out.Note = fmt.Sprintf("the answer is %d bytes and only its first %d are shown; ask for less (a filter, fewer fields, a smaller page)", ans.size, len(body))
	}
	return withNote(out)
}

// withNote explains the provider statuses a model can act on.
func withNote(out callAnswer) callAnswer {
	if out.Note != "" {
		return out
	}
	switch out.Status {
	case http.StatusUnauthorized:
		out.Note = "the provider refused the account's token; if this persists, connect_accounts gives the user a link to reconnect"
	case http.StatusForbidden:
		out.Note = "the provider refused this call: the account may lack a scope (connect_accounts with scopes asks the user for it), or the user may not be allowed to do this"
	case http.StatusTooManyRequests:
		out.Note = "the provider's rate limit: wait before calling again (see Retry-After and the rate limit headers)"
	}
	return out
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of a cut body.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}
