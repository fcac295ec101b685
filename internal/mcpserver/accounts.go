package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
)

// apiIdentity is an identity as the bot API lists it (it never holds a token).
type apiIdentity struct {
	ID             int64     `json:"id"`
	Provider       string    `json:"provider"`
	ProviderUserID string    `json:"provider_user_id"`
	Name           string    `json:"name"`
	NickName       string    `json:"nickname"`
	Status         string    `json:"status"`
	Scopes         []string  `json:"scopes"`
	LinkedAt       time.Time `json:"linked_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// identities lists the session's chat user's identities, of one provider when given.
func (s *Server) identities(ctx context.Context, c *caller, provider string) ([]apiIdentity, error) {
	q := url.Values{"channel": {c.channel}, "user": {c.user}}
	if provider != "" {
		q.Set("provider", provider)
	}
	var out struct {
		Identities []apiIdentity `json:"identities"`
	}
	if err := s.api.json(ctx, c, "GET", "/bots/"+c.bot+"/identities", q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Identities, nil
}

// account is a linked account as the model sees it.
type account struct {
	AccountID   int64     `json:"account_id"`
	Provider    string    `json:"provider"`
	AccountName string    `json:"account_name"`
	Status      string    `json:"status"`
	Scopes      []string  `json:"scopes"`
	LinkedAt    time.Time `json:"linked_at"`
}

func accountName(id apiIdentity) string {
	switch {
	case id.Name != "" && id.NickName != "":
		return id.Name + " (@" + id.NickName + ")"
	case id.Name != "":
		return id.Name
	case id.NickName != "":
		return "@" + id.NickName
	}
	return id.ProviderUserID
}

func (s *Server) listAccountsTool() tool {
	return tool{
		name: "list_connected_accounts", title: "List the user's connected accounts", readOnly: true,
		description: `Lists the accounts the user you are talking with has connected to this bot: account_id, provider, account_name, status and the scopes granted. ` +
			`status is "active" (usable), "pending" (just linked; the user still has to type in the chat the code the connect page showed) or "relink_required" (the provider no longer accepts it: connect_accounts gives a link to reconnect). ` +
			`Also lists every provider this bot can connect. Never returns a token.`,
		schema: `{
  "type": "object",
  "properties": {
    "provider": {"type": "string", "minLength": 1, "description": "Only the accounts of this provider (one of the bot's providers)."}
  },
  "additionalProperties": false
}`,
		run: s.listAccounts,
	}
}

func (s *Server) listAccounts(ctx context.Context, c *caller, args json.RawMessage) (any, error) {
	var in struct {
		Provider string `json:"provider"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	ids, err := s.identities(ctx, c, in.Provider)
	if err != nil {
		return nil, s.withProviders(c, err)
	}
	out := struct {
		Accounts  []account `json:"accounts"`
		Providers []string  `json:"providers"`
	}{Accounts: []account{}, Providers: s.providerNames(c.bot)}
	for _, id := range ids {
		out.Accounts = append(out.Accounts, account{AccountID: id.ID, Provider: id.Provider, AccountName: accountName(id),
			Status: id.Status, Scopes: id.Scopes, LinkedAt: id.LinkedAt})
	}
	return out, nil
}

func (s *Server) providerNames(bot string) []string {
	var names []string
	if bc := s.broker.Config().Bot(bot); bc != nil {
		for _, p := range bc.Providers {
			names = append(names, p.Name)
		}
	}
	return names
}

// withProviders adds the bot's providers to an unknown_provider error, so the model can
// correct itself.
func (s *Server) withProviders(c *caller, err error) error {
	te := asToolError(err)
	if te.Code == broker.CodeUnknownProvider {
		te.NextStep = "use one of this bot's providers: " + strings.Join(s.providerNames(c.bot), ", ")
	}
	return te
}

func (s *Server) connectTool() tool {
	return tool{
		name: "connect_accounts", title: "Connect the user's accounts",
		description: `Makes sure the user has connected every provider a task needs, with the scopes it needs. ` +
			`Answers ready: true when all are usable (then use call_api). Otherwise it answers a connect_url, one link for the user to open in a browser, and message_for_user: ` +
			`show message_for_user to the user exactly as it is, wait until they say they are done, then call connect_accounts again with the same arguments. ` +
			`missing says why each provider is not usable: not_linked, relink_required (the provider stopped accepting the account) or missing_scopes. ` +
			`Never send the link anywhere but to this user.`,
		schema: `{
  "type": "object",
  "properties": {
    "providers": {
      "type": "array", "minItems": 1, "maxItems": 20, "uniqueItems": true,
      "items": {"type": "string", "minLength": 1},
      "description": "The providers the task needs, by the names list_connected_accounts lists under providers, e.g. [\"rides\", \"twitter\"]."
    },
    "scopes": {
      "type": "object",
      "additionalProperties": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 50},
      "description": "Optional: scopes a provider must have granted, beyond those the bot always asks for, by provider: {\"github\": [\"repo\"]}."
    }
  },
  "required": ["providers"],
  "additionalProperties": false
}`,
		run: s.connect,
	}
}

// missingProvider is a provider the task needs that is not usable yet, and why.
type missingProvider struct {
	Provider string `json:"provider"`
	Reason   string `json:"reason"`
}

type connectAnswer struct {
	Ready bool `json:"ready"`
	// ConnectURL is one link for every missing provider, whatever the reason: the user opens
	// it once and connects them all on the broker's connect page.
	ConnectURL     string            `json:"connect_url,omitempty"`
	ExpiresAt      *time.Time        `json:"expires_at,omitempty"`
	Missing        []missingProvider `json:"missing,omitempty"`
	MessageForUser string            `json:"message_for_user,omitempty"`
	NextStep       string            `json:"next_step"`
}

type requirement struct {
	Provider string   `json:"provider"`
	Scopes   []string `json:"scopes,omitempty"`
}

func (s *Server) connect(ctx context.Context, c *caller, args json.RawMessage) (any, error) {
	var in struct {
		Providers []string            `json:"providers"`
		Scopes    map[string][]string `json:"scopes"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	for p := range in.Scopes {
		if !slices.Contains(in.Providers, p) {
			return nil, invalid(fmt.Sprintf("scopes names %q, which is not in providers", p))
		}
	}
	reqs := make([]requirement, len(in.Providers))
	for i, p := range in.Providers {
		reqs[i] = requirement{Provider: p, Scopes: in.Scopes[p]}
	}
	return s.require(ctx, c, reqs)
}

// require asks the bot API's require route for the providers, and turns its answer into one
// for the model: ready, or the one connect link to send and the sentence to send it with.
func (s *Server) require(ctx context.Context, c *caller, reqs []requirement) (*connectAnswer, error) {
	var res struct {
		Ready   bool `json:"ready"`
		Missing []struct {
			Provider string `json:"provider"`
			Reason   string `json:"reason"`
		} `json:"missing"`
		ConnectURL       string     `json:"connect_url"`
		ConnectExpiresAt *time.Time `json:"connect_expires_at"`
	}
	body := map[string]any{"channel": c.channel, "user": c.user, "providers": reqs}
	if c.label != "" {
		body["user_label"] = c.label
	}
	if err := s.api.json(ctx, c, "POST", "/bots/"+c.bot+"/require", "", body, &res); err != nil {
		return nil, s.withProviders(c, err)
	}
	if res.Ready {
		names := make([]string, len(reqs))
		for i, r := range reqs {
			names[i] = r.Provider
		}
		return &connectAnswer{Ready: true, NextStep: "every account is connected: call call_api with provider " + strings.Join(names, ", ")}, nil
	}
	if res.ConnectURL == "" {
		return nil, errors.New("mcpserver: require answered not ready without a connect_url")
	}
	out := &connectAnswer{ConnectURL: res.ConnectURL, ExpiresAt: res.ConnectExpiresAt}
	var asks []string
	for _, m := range res.Missing {
		out.Missing = append(out.Missing, missingProvider{Provider: m.Provider, Reason: m.Reason})
		asks = append(asks, ask(s.title(c.bot, m.Provider), m.Reason))
	}
	until := ""
	if out.ExpiresAt != nil {
		until = " until " + out.ExpiresAt.UTC().Format("15:04") + " UTC"
	}
	out.MessageForUser = fmt.Sprintf("Please open this link to %s: %s (it works%s).", joinAnd(asks), out.ConnectURL, until)
	if bc := s.broker.Config().Bot(c.bot); bc != nil && bc.Confirm == config.ConfirmCode {
		out.MessageForUser += " When the page shows a six-digit code, type it here in the chat."
	}
	out.NextStep = "show message_for_user to the user exactly as it is; when they say they are done, call connect_accounts again with the same arguments"
	return out, nil
}

// ask is what the user is asked to do for one missing provider.
func ask(title, reason string) string {
	switch reason {
	case broker.ReasonRelinkRequired:
		return "reconnect your " + title + " account"
	case broker.ReasonMissingScopes:
		return "give your " + title + " account the permissions this needs"
	}
	return "connect your " + title + " account"
}

// title is how a message names a bot's provider: its brand, else its configured name.
func (s *Server) title(bot, provider string) string {
	if info, err := s.broker.DescribeProvider(bot, provider); err == nil && info.Title != "" {
		return info.Title
	}
	return provider
}

func joinAnd(parts []string) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
