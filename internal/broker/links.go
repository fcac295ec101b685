package broker

import (
	"context"
	"net/url"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// MaxLinkProviders bounds the providers of one link (and of one require call).
const MaxLinkProviders = 20

// LinkRequest is a bot asking for a link for one chat user and one or several providers.
type LinkRequest struct {
	Bot string
	// Providers are what the link links, in the order the page lists them: one at least,
	// each once. Their scopes are added to the provider's configured scopes.
	Providers   []Requirement
	Channel     string
	User        string
	UserLabel   string        // optional: how the connect page names the chat user
	RedirectURL string        // optional; must be on one of the bot's redirect_origins
	TTL         time.Duration // 0: the configured default
}

// NewLink is a created link: the URL to send to the user, and when it stops working.
type NewLink struct {
	URL       string
	ExpiresAt time.Time
	Providers []string
}

// CreateLink makes a link bound to one bot, channel and user for its providers, each of which
// can be linked once through it. Only the hash of its token is stored; the token itself exists
// only in the returned URL. Everything is validated first, so bad input stores nothing.
func (b *Broker) CreateLink(ctx context.Context, req LinkRequest) (NewLink, error) {
	bot := b.cfg.Bot(req.Bot)
	if bot == nil {
		return NewLink{}, newError(CodeUnknownBot, "there is no bot %q", req.Bot)
	}
	if len(req.Providers) == 0 {
		return NewLink{}, newError(CodeInvalidRequest, "a link needs a provider: give provider, or providers with at least one")
	}
	if err := b.validateRequirements(req.Bot, req.Providers); err != nil {
		return NewLink{}, err
	}
	if err := validateChannelUser(req.Channel, req.User); err != nil {
		return NewLink{}, err
	}
	if err := validateUserLabel(req.UserLabel); err != nil {
		return NewLink{}, err
	}
	if req.RedirectURL != "" {
		if err := ValidateRedirectURL(req.RedirectURL, b.origins[bot.Name]); err != nil {
			return NewLink{}, err
		}
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = b.cfg.Server.LinkTTL
	}
	if ttl < MinLinkTTL || ttl > b.cfg.Server.MaxLinkTTL {
		return NewLink{}, newError(CodeInvalidRequest, "ttl_seconds must be between %d and %d",
			int(MinLinkTTL.Seconds()), int(b.cfg.Server.MaxLinkTTL.Seconds()))
	}
	req.TTL = ttl
	return b.createLink(ctx, req)
}

// validateRequirements checks a list of providers of one bot: known, each once, valid scopes.
func (b *Broker) validateRequirements(bot string, reqs []Requirement) error {
	if len(reqs) > MaxLinkProviders {
		return newError(CodeInvalidRequest, "providers must list 1-%d providers", MaxLinkProviders)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		if _, _, err := b.lookup(bot, r.Provider); err != nil {
			return err
		}
		if seen[r.Provider] {
			return newError(CodeInvalidRequest, "provider %q is listed twice", r.Provider)
		}
		seen[r.Provider] = true
		if err := validateScopes(r.Scopes); err != nil {
			return err
		}
	}
	return nil
}

// createLink stores a link for a request that is already validated.
func (b *Broker) createLink(ctx context.Context, req LinkRequest) (NewLink, error) {
	now := b.now().UTC()
	token := newOrderedToken(now)
	l := store.Link{
		TokenHash:   tokenKey(token),
		Bot:         req.Bot,
		Channel:     req.Channel,
		User:        req.User,
		UserLabel:   req.UserLabel,
		RedirectURL: req.RedirectURL,
		CreatedAt:   now,
		ExpiresAt:   now.Add(req.TTL),
	}
	names := make([]string, len(req.Providers))
	for i, r := range req.Providers {
		l.Providers = append(l.Providers, store.LinkProvider{Provider: r.Provider, Scopes: r.Scopes})
		names[i] = r.Provider
	}
	stored, err := b.store.CreateLink(ctx, l)
	if err != nil {
		return NewLink{}, wrapError(err, CodeInternal, "storing the link failed")
	}
	return NewLink{URL: ConnectURL(b.cfg, req.Bot, token), ExpiresAt: stored.ExpiresAt, Providers: names}, nil
}

// ConnectURL is the address of a link's connect page: what the bot sends, and where the
// broker sends the browser back to after each provider.
func ConnectURL(cfg *config.Config, bot, token string) string {
	return cfg.Server.PublicURL + "/bots/" + bot + "/connect?link=" + url.QueryEscape(token)
}
