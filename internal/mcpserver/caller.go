package mcpserver

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/httpapi"
)

// The headers by which the bot's runtime names the chat user of a session. The model never
// sets them: it only chooses tools and their arguments, and no argument names a user.
const (
	HeaderChannel   = "X-OAuthBroker-Channel"
	HeaderUser      = "X-OAuthBroker-User"
	HeaderUserLabel = "X-OAuthBroker-User-Label"
)

// caller is who an MCP request acts for: the bot its key opened, and the chat user its
// headers name (label: how the connect page names them, "" for channel and user). problem,
// when set, is why there is no usable chat user; every tool answers it.
type caller struct {
	bot, key             string
	channel, user, label string
	problem              *toolError
}

type callerKey struct{}

// authenticate opens the bot of the request's key and reads its chat user. A missing or wrong
// key gets one answer, whatever the key: 401, as the bot API answers it.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := httpapi.BearerToken(r.Header.Get("Authorization"))
		bot, err := s.broker.BotForKey(key)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="oauthbroker"`)
			httpapi.WriteProblem(w, http.StatusUnauthorized, broker.CodeUnauthorized, broker.ErrorMessage(err))
			return
		}
		c := readCaller(bot, key, r.Header)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// readCaller reads the chat user from the headers, by the rules of the bot API.
func readCaller(bot, key string, h http.Header) *caller {
	c := &caller{bot: bot, key: key}
	var missing []string
	for _, f := range []struct {
		name string
		dst  *string
	}{{HeaderChannel, &c.channel}, {HeaderUser, &c.user}, {HeaderUserLabel, &c.label}} {
		switch vs := h.Values(f.name); {
		case len(vs) > 1:
			c.problem = invalid(f.name + " is sent more than once; send it once")
			return c
		case len(vs) == 1:
			*f.dst = vs[0]
		case f.name != HeaderUserLabel:
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		c.problem = &toolError{Code: CodeChatUserMissing,
			Message:  "this MCP session has no chat user: " + strings.Join(missing, " and ") + " missing",
			NextStep: "nothing you can do: the bot's runtime must send " + HeaderChannel + " and " + HeaderUser + " with every MCP request; tell the user this bot is misconfigured"}
		return c
	}
	if err := broker.ValidateChatUser(c.channel, c.user); err != nil {
		c.problem = invalid("the session's chat user (" + HeaderChannel + ", " + HeaderUser + "): " + broker.ErrorMessage(err))
		return c
	}
	if err := broker.ValidateUserLabel(c.label); err != nil {
		c.problem = invalid("the session's user label (" + HeaderUserLabel + "): " + broker.ErrorMessage(err))
	}
	return c
}

// binding is what the SDK binds a session to: the bot and the chat user, whatever their
// bytes (each part is length-prefixed, so no two pairs hash alike). The label is not part of
// it: it only names the user on pages.
func (c *caller) binding() string {
	h := sha256.New()
	for _, part := range []string{"mcp-session/v1", c.bot, c.channel, c.user} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil))
}

const callerExtra = "oauthbroker.caller"

// bindSession is the SDK's token verifier: authenticate has checked the key already, and the
// TokenInfo carries the caller to the tools and its binding to the session.
func bindSession(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
	c, ok := r.Context().Value(callerKey{}).(*caller)
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{UserID: c.binding(), Extra: map[string]any{callerExtra: c}}, nil
}

// callerOf is the caller of the HTTP request that carried a tool call (not of the one that
// opened the session: the SDK made sure both have the same binding).
func callerOf(req *mcp.CallToolRequest) *caller {
	if req == nil || req.Extra == nil || req.Extra.TokenInfo == nil {
		return nil
	}
	c, _ := req.Extra.TokenInfo.Extra[callerExtra].(*caller)
	return c
}
