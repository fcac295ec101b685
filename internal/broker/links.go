package broker

import (
	"context"
	"net/url"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// LinkRequest is a bot asking for a link for one chat user and one provider.
type LinkRequest struct {
	Bot         string
	Provider    string
	Channel     string
	User        string
	Scopes      []string      // on top of the provider's configured scopes
	RedirectURL string        // optional; must be on one of the bot's redirect_origins
	TTL         time.Duration // 0: the configured default
}

// NewLink is a created link: the URL to send to the user, and when it stops working.
type NewLink struct {
	URL       string
	ExpiresAt time.Time
}

// CreateLink makes a single-use link bound to one bot, provider, channel and user. Only the
// hash of its token is stored; the token itself exists only in the returned URL.
func (b *Broker) CreateLink(ctx context.Context, req LinkRequest) (NewLink, error) {
	bot, _, err := b.lookup(req.Bot, req.Provider)
	if err != nil {
		return NewLink{}, err
	}
	if err := validateChannelUser(req.Channel, req.User); err != nil {
		return NewLink{}, err
	}
	if err := validateScopes(req.Scopes); err != nil {
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
	return b.createLink(ctx, req.Bot, req.Provider, req.Channel, req.User, req.Scopes, req.RedirectURL, ttl)
}

// createLink stores a link for input that is already validated.
func (b *Broker) createLink(ctx context.Context, bot, provider, channel, user string, scopes []string, redirectURL string, ttl time.Duration) (NewLink, error) {
	token := randomToken(32)
	now := b.now().UTC()
	l, err := b.store.CreateLink(ctx, store.Link{
		TokenHash:   hashToken(token),
		Bot:         bot,
		Provider:    provider,
		Channel:     channel,
		User:        user,
		Scopes:      scopes,
		RedirectURL: redirectURL,
		CreatedAt:   now,
		ExpiresAt:   now.Add(ttl),
	})
	if err != nil {
		return NewLink{}, wrapError(err, CodeInternal, "storing the link failed")
	}
	return NewLink{
		URL:       b.cfg.Server.PublicURL + "/bots/" + bot + "/" + provider + "/auth?link=" + url.QueryEscape(token),
		ExpiresAt: l.ExpiresAt,
	}, nil
}
