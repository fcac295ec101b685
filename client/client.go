// Package client is the Go client of oauthbroker's bot API (docs/openapi.yaml): typed methods
// for every route, problem+json answers as *Error with the stable Code, and ReadWebhook and
// VerifyWebhook for the signed events the broker POSTs to a bot.
//
//	c, err := client.New("https://broker.example.com", "supportbot", os.Getenv("BROKER_KEY"))
//	req, err := c.Require(ctx, client.RequireRequest{Channel: "slack", User: "U024BE7LH",
//		Providers: []client.Requirement{{Provider: "uber"}, {Provider: "twitter"}}})
//	if !req.Ready {
//		// send req.ConnectURL to the user: one page links every missing account
//	}
//
// It is the one public package of the module (a documented exception to the internal/
// layout): it imports only the standard library, and nothing of the broker, so that a bot
// depends on the API and not on the server's code.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxAnswer bounds what the client reads of one answer; the largest real one (require with
// twenty providers) is a few kilobytes.
const maxAnswer = 1 << 20

// Client calls one bot's API on one broker. It is safe for concurrent use.
type Client struct {
	base   string // scheme://host[/prefix]/api/v1/bots/{bot}
	root   string // scheme://host[/prefix]/api/v1
	key    string
	http   *http.Client
	userAg string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends the requests through hc (for its transport, proxy or timeout). The
// default is a client with a 30-second timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithUserAgent sets the User-Agent of every request, e.g. "supportbot/1.4".
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAg = ua } }

// New returns a client of bot's API at the broker brokerURL (its public_url, e.g.
// "https://broker.example.com"), authenticating with apiKey, one of the bot's api_keys.
func New(brokerURL, bot, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(brokerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: broker URL %q must be an absolute http(s) URL without query", brokerURL)
	}
	if bot == "" || apiKey == "" {
		return nil, errors.New("client: bot and API key are required")
	}
	root := strings.TrimSuffix(u.String(), "/") + "/api/v1"
	c := &Client{
		root:   root,
		base:   root + "/bots/" + url.PathEscape(bot),
		key:    apiKey,
		http:   &http.Client{Timeout: 30 * time.Second},
		userAg: "oauthbroker-go-client/1",
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// LinkRequest asks for a link for one chat user and one provider (Provider, with Scopes) or
// several (Providers, each with its scopes): each is linked once through the link, in one
// visit of its page.
type LinkRequest struct {
	Provider  string        `json:"provider,omitempty"`
	Providers []Requirement `json:"providers,omitempty"`
	Channel   string        `json:"channel"`
	User      string        `json:"user"`
	// UserLabel is how the connect page names the chat user ("Ada (@ada)"), at most 64
	// printable characters; empty: the page shows User and Channel.
	UserLabel string   `json:"user_label,omitempty"`
	Scopes    []string `json:"scopes,omitempty"` // with Provider: added to its configured scopes
	// RedirectURL is where the browser goes once every provider of the link is linked; its
	// origin must be one of the bot's redirect_origins. Empty: the page says "All set".
	RedirectURL string `json:"redirect_url,omitempty"`
	// TTL is the link's lifetime, rounded up to whole seconds; 0 for the broker's default.
	TTL time.Duration `json:"-"`
}

// Link is the URL of a link's connect page, to send to the one chat user it was made for.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Providers []string  `json:"providers"`
}

// CreateLink asks for a link (POST /links).
func (c *Client) CreateLink(ctx context.Context, req LinkRequest) (Link, error) {
	body := struct {
		LinkRequest
		TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	}{req, int64((req.TTL + time.Second - 1) / time.Second)}
	var out Link
	err := c.do(ctx, http.MethodPost, c.base+"/links", body, http.StatusCreated, &out)
	return out, err
}

// Identity is one linked account of a chat user. It never carries a token.
type Identity struct {
	ID             int64    `json:"id"`
	Provider       string   `json:"provider"`
	ProviderUserID string   `json:"provider_user_id"`
	Name           string   `json:"name"`
	NickName       string   `json:"nickname"`
	Email          string   `json:"email"`
	AvatarURL      string   `json:"avatar_url"`
	Status         string   `json:"status"` // StatusActive, StatusPending or StatusRelinkRequired
	Scopes         []string `json:"scopes"`
	// ExpiresAt is when the access token expires; nil when the provider gave no expiry.
	ExpiresAt *time.Time `json:"expires_at"`
	LinkedAt  time.Time  `json:"linked_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Identity statuses.
const (
	StatusActive         = "active"
	StatusPending        = "pending"         // waits for its confirmation code (confirm: code bots)
	StatusRelinkRequired = "relink_required" // the provider no longer accepts its tokens
)

// Identities lists one chat user's identities, of one provider when provider is not empty
// (GET /identities).
func (c *Client) Identities(ctx context.Context, channel, user, provider string) ([]Identity, error) {
	q := url.Values{"channel": {channel}, "user": {user}}
	if provider != "" {
		q.Set("provider", provider)
	}
	var out struct {
		Identities []Identity `json:"identities"`
	}
	err := c.do(ctx, http.MethodGet, c.base+"/identities?"+q.Encode(), nil, http.StatusOK, &out)
	return out.Identities, err
}

// Credentials are what a bot needs to call a provider as the user.
type Credentials struct {
	Provider string `json:"provider"`
	// TokenType is "bearer" (send Authorization: Bearer AccessToken) or "oauth1" (Twitter:
	// sign with the app's consumer key and secret, AccessToken and AccessTokenSecret).
	TokenType         string     `json:"token_type"`
	AccessToken       string     `json:"access_token"`
	AccessTokenSecret string     `json:"access_token_secret,omitempty"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"` // nil: no expiry given
}

// Credentials reads an identity's credentials (GET /identities/{id}/credentials). The broker
// refreshes them first when they are about to expire. Errors to expect: CodeRelinkRequired
// (send a new link), CodeIdentityPending, and CodeRefreshUnavailable with Error.RetryAfter.
func (c *Client) Credentials(ctx context.Context, identityID int64) (Credentials, error) {
	var out Credentials
	err := c.do(ctx, http.MethodGet, c.base+"/identities/"+strconv.FormatInt(identityID, 10)+"/credentials", nil, http.StatusOK, &out)
	return out, err
}

// Unlink revokes the identity's grant at the provider where it can, and deletes it
// (DELETE /identities/{id}).
func (c *Client) Unlink(ctx context.Context, identityID int64) error {
	return c.do(ctx, http.MethodDelete, c.base+"/identities/"+strconv.FormatInt(identityID, 10), nil, http.StatusNoContent, nil)
}

// Confirm activates the pending identities of the link whose connect page showed code to
// this chat user (POST /links/confirm; bots with confirm: code), and returns them in the
// link's order. A wrong code is *Error with CodeWrongCode; CodeNoPendingConfirmation means
// there is nothing to confirm any more: send a new link.
func (c *Client) Confirm(ctx context.Context, channel, user, code string) ([]Identity, error) {
	var out struct {
		Identities []Identity `json:"identities"`
	}
	err := c.do(ctx, http.MethodPost, c.base+"/links/confirm", map[string]string{"channel": channel, "user": user, "code": code}, http.StatusOK, &out)
	return out.Identities, err
}

// Requirement is one provider a combined action needs, with the scopes it needs there.
type Requirement struct {
	Provider string
	Scopes   []string
}

// MarshalJSON sends a bare provider name when no scopes are asked for.
func (r Requirement) MarshalJSON() ([]byte, error) {
	if len(r.Scopes) == 0 {
		return json.Marshal(r.Provider)
	}
	return json.Marshal(struct {
		Provider string   `json:"provider"`
		Scopes   []string `json:"scopes"`
	}{r.Provider, r.Scopes})
}

// RequireRequest lists what a combined action needs for one chat user.
type RequireRequest struct {
	Channel   string        `json:"channel"`
	User      string        `json:"user"`
	UserLabel string        `json:"user_label,omitempty"` // see LinkRequest.UserLabel
	Providers []Requirement `json:"providers"`
}

// Requirements is the answer of Require.
type Requirements struct {
	Ready       bool                   `json:"ready"`       // nothing is missing
	Credentials map[string]Credentials `json:"credentials"` // provider name → credentials
	Missing     []Missing              `json:"missing"`
	// ConnectURL links every missing provider in one visit: send it in one message. Empty
	// when ready.
	ConnectURL       string     `json:"connect_url,omitempty"`
	ConnectExpiresAt *time.Time `json:"connect_expires_at,omitempty"`
}

// Missing is a provider the user must link (again), with a fresh link of its own.
type Missing struct {
	Provider  string    `json:"provider"`
	Reason    string    `json:"reason"` // ReasonNotLinked, ReasonRelinkRequired or ReasonMissingScopes
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Reasons a required provider is missing.
const (
	ReasonNotLinked      = "not_linked"
	ReasonRelinkRequired = "relink_required"
	ReasonMissingScopes  = "missing_scopes"
)

// Require prepares a combined action in one call (POST /require): credentials for every
// provider that is ready, a link for every one that is not, and ConnectURL for all of them.
func (c *Client) Require(ctx context.Context, req RequireRequest) (Requirements, error) {
	var out Requirements
	err := c.do(ctx, http.MethodPost, c.base+"/require", req, http.StatusOK, &out)
	return out, err
}

// OpenAPI returns the broker's OpenAPI 3.1 document of this API (GET /api/v1/openapi.yaml).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.root+"/openapi.yaml", nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("User-Agent", c.userAg)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: GET openapi.yaml: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("client: GET openapi.yaml: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errorOf(resp, data)
	}
	return data, nil
}

// do sends one request and decodes a want-status answer into out, or returns the problem.
func (c *Client) do(ctx context.Context, method, u string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode the request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAg)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error would repeat method and URL; the cause is what matters (context.Canceled
		// stays visible to errors.Is).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("client: %s %s: %w", method, strings.TrimPrefix(u, c.root), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("client: %s %s: reading the answer: %w", method, strings.TrimPrefix(u, c.root), err)
	}
	if resp.StatusCode != want {
		return errorOf(resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: %s %s: the answer is not the documented JSON: %w", method, strings.TrimPrefix(u, c.root), err)
	}
	return nil
}
