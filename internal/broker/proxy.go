package broker

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Error codes of the API proxy (docs/API.md, the proxy), in addition to those every
// identity route answers (not_found, relink_required, refresh_unavailable, …).
const (
	CodeProxyPathRejected  = "proxy_path_not_allowed" // the path could leave the provider's API base
	CodeProxyNotConfigured = "proxy_not_configured"   // the identity's provider has no API base URL
	CodePayloadTooLarge    = "payload_too_large"      // the request body is over server.proxy.max_request_body
	CodeResponseTooLarge   = "response_too_large"     // the provider's answer is over server.proxy.max_response_body
	CodeProviderTimeout    = "provider_timeout"       // the provider did not answer within server.outbound_timeout
	CodeRateLimited        = "rate_limited"           // the bot made more proxied calls than server.proxy.rate_limit allows
)

// recordTimeout bounds the write that counts a proxied call; it runs after the bot's request
// may have ended, so it cannot borrow that request's deadline.
const recordTimeout = 5 * time.Second

// ProxyAuth is one identity made ready for the API proxy: where its provider's API lives, and
// the identity's tokens to sign requests with. The tokens never leave it: callers get Sign,
// not the tokens, and its String says which identity it is and nothing more.
type ProxyAuth struct {
	Bot        string
	Provider   string
	IdentityID int64
	// BaseURL is the provider's API base: the provider's api_base_url from providers.yaml,
	// else its type's default (providers.Provider.APIBaseURL). No trailing slash.
	BaseURL string
	OAuth1  bool

	b       *Broker
	p       *providers.Provider
	id      store.Identity
	creds   Credentials
	retried bool
}

// ProxyAuth opens a bot's identity for a proxied call, the way Credentials does: refreshed
// first when its token expires within RefreshAhead, and refused (with the same codes) when it
// is pending, must be linked again or cannot be read.
func (b *Broker) ProxyAuth(ctx context.Context, bot string, identityID int64) (*ProxyAuth, error) {
	id, err := b.identity(ctx, bot, identityID)
	if err != nil {
		return nil, err
	}
	p, ok := b.providers.Lookup(bot, id.Provider)
	if !ok {
		return nil, newError(CodeProxyNotConfigured, "identity %d's provider %q is no longer configured", identityID, id.Provider)
	}
	base := p.APIBaseURL // the provider's api_base_url, else its type's
	if base == "" {
		// Checked before any refresh: a call that cannot be made must not spend a refresh.
		return nil, newError(CodeProxyNotConfigured, "provider %q (type %s) has no default API URL: set its api_base_url in providers.yaml", id.Provider, p.Type)
	}
	if id, err = b.fresh(ctx, id); err != nil {
		return nil, err
	}
	creds, err := b.credentialsOf(id)
	if err != nil {
		return nil, err
	}
	return &ProxyAuth{Bot: bot, Provider: id.Provider, IdentityID: id.ID, BaseURL: base, OAuth1: p.OAuth1,
		b: b, p: p, id: id, creds: creds}, nil
}

// String names the identity; fmt and slog print it instead of the fields holding tokens.
func (a *ProxyAuth) String() string {
	return "identity " + strconv.FormatInt(a.IdentityID, 10) + " of " + a.Bot + "/" + a.Provider
}

// GoString keeps %#v from printing the tokens too.
func (a *ProxyAuth) GoString() string { return a.String() }

// Sign authorizes req as the identity: an OAuth 1.0a signature over the method, URL, query
// and form body (RFC 5849), or the bearer token. Call it on each request sent, after the
// request is complete: a signature covers the exact URL and form.
func (a *ProxyAuth) Sign(req *http.Request) error {
	if err := a.p.SignRequest(req, a.creds.AccessToken, a.creds.AccessTokenSecret); err != nil {
		if errors.Is(err, providers.ErrInvalidInput) {
			return wrapError(err, CodeInvalidRequest, "the request cannot be signed for %s: a form body must be valid application/x-www-form-urlencoded", a.Provider)
		}
		return wrapError(err, CodeInternal, "signing the request failed")
	}
	return nil
}

// RefreshAfterRejection is called when the provider answered 401 to a request signed with the
// current token: the token may have been revoked or may have expired early. It refreshes once
// (under the identity's lease, so concurrent proxied calls refused together cause one refresh,
// and a refresh another request finished meanwhile is simply used) and reports whether there
// is a new token to retry with. It never retries twice, and never for OAuth 1.0a (its tokens
// do not expire: a 401 there is the provider's answer) or a provider that cannot refresh.
func (a *ProxyAuth) RefreshAfterRejection(ctx context.Context) (bool, error) {
	if a.retried || a.OAuth1 || !a.p.CanRefresh || len(a.id.RefreshToken) == 0 {
		return false, nil
	}
	a.retried = true
	rejected := a.id.AccessToken
	a.b.log.InfoContext(ctx, "proxy: the provider refused the access token; refreshing once",
		"bot", a.Bot, "identity", a.IdentityID, "provider", a.Provider)
	cur, err := a.b.refreshUnderLease(ctx, a.p, a.id, func(cur store.Identity, _ time.Time) bool {
		return bytes.Equal(cur.AccessToken, rejected)
	})
	if err != nil {
		return false, err
	}
	if bytes.Equal(cur.AccessToken, rejected) {
		return false, nil // the refresh is backing off after a failure: nothing new to try
	}
	creds, err := a.b.credentialsOf(cur)
	if err != nil {
		return false, err
	}
	a.id, a.creds = cur, creds
	return true, nil
}

// RecordProxyCall counts a finished proxied call in the identity's usage, with the status the
// bot received. The call happened whether or not the bot is still there, so the write does
// not end with the bot's request; a failure to count is logged, never the bot's problem.
func (b *Broker) RecordProxyCall(ctx context.Context, a *ProxyAuth, status int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := b.store.RecordProxyCall(ctx, store.ProxyCall{Bot: a.Bot, IdentityID: a.IdentityID, Provider: a.Provider,
		Status: status, At: b.now().UTC()})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		b.log.WarnContext(ctx, "proxy: counting the call failed", "bot", a.Bot, "identity", a.IdentityID, "err", err)
	}
}
