package broker

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The connect page: what a link opens. It names the bot and the chat user and lists the
// link's providers with their state; each provider starts with a click on it (BeginAuth), and
// the page offers to cancel the link ("this is not me").

// Connect is what the connect page shows about a link.
type Connect struct {
	LinkID    int64
	Bot       string // the bot's name, as in URLs
	BotName   string // how the page names the bot: its display_name, else its name
	UserLabel string // the link's user_label; "" when the page names the user by UserID on Channel
	Channel   string
	UserID    string
	Providers []ConnectProvider // in the link's order
	// RedirectURL is the link's redirect_url: where the browser goes once every provider is
	// linked.
	RedirectURL string
	ExpiresAt   time.Time
	Complete    bool // every provider is linked
	Cancelled   bool // someone said "this is not me"
	Confirm     bool // the bot confirms by code
}

// ConnectProvider is one provider of a link on its page.
type ConnectProvider struct {
	Name   string // as in URLs
	Title  string // as people know it, e.g. "GitHub"
	Linked bool
}

// ConnectPage reads the link behind a token for its page. provider is "" for the connect
// page's own address, or the provider of the older /bots/{bot}/{provider}/auth address, which
// must be one of the link's. A spent link (complete or cancelled) comes back with a
// CodeLinkUsed error *and* its Connect: the HTTP edge shows the outcome to the browser that
// finished it and the error to any other.
func (b *Broker) ConnectPage(ctx context.Context, bot, provider, token string) (Connect, error) {
	bc, _, err := b.pageLookup(bot, provider)
	if err != nil {
		return Connect{}, err
	}
	link, err := b.readLink(ctx, bot, token)
	if err != nil {
		return Connect{}, err
	}
	return b.checkPage(b.connectOf(bc, link), provider)
}

// RecentPage is ConnectPage for the page a callback just sent this browser to, from what the
// callback left (Completed.Page) instead of a read of the link: the same checks, on that
// view. It is the link as of the callback, moments before; the HTTP edge uses it once, for
// the browser that ran the callback, and reads the link for every other view. Display only:
// every action on the page reads the link again and the store's conditional writes decide.
func (b *Broker) RecentPage(bot, provider string, c Connect) (Connect, error) {
	if _, _, err := b.pageLookup(bot, provider); err != nil {
		return Connect{}, err
	}
	if c.Bot != bot { // what readLink checks of a link read from the store
		return Connect{}, linkNotValid()
	}
	return b.checkPage(c, provider)
}

// checkPage is what ConnectPage and RecentPage answer for a link's page c: not valid when the
// address names a provider the link does not cover; c with CodeLinkUsed when the link is spent
// (complete or cancelled); expired past its expiry; else c.
func (b *Broker) checkPage(c Connect, provider string) (Connect, error) {
	if provider != "" && !slices.ContainsFunc(c.Providers, func(p ConnectProvider) bool { return p.Name == provider }) {
		return Connect{}, linkNotValid()
	}
	if c.Complete || c.Cancelled {
		return c, spentError(c.Cancelled)
	}
	if !b.now().Before(c.ExpiresAt) {
		return Connect{}, expiredError()
	}
	return c, nil
}

// CancelLink spends a live link without linking anything more through it: the person who
// opened it says it is not theirs. What it linked already stays linked.
func (b *Broker) CancelLink(ctx context.Context, bot, token string) (Connect, error) {
	bc, _, err := b.pageLookup(bot, "")
	if err != nil {
		return Connect{}, err
	}
	link, err := b.liveLink(ctx, bot, token)
	if err != nil {
		return Connect{}, err
	}
	err = b.store.CancelLink(ctx, link.ID, b.now().UTC())
	if errors.Is(err, store.ErrLinkUsed) {
		return Connect{}, usedError(link)
	}
	if err != nil {
		return Connect{}, wrapError(err, CodeInternal, "cancelling the link failed")
	}
	b.log.InfoContext(ctx, "link cancelled on its page", "bot", bot, "link", link.ID)
	link.UsedAt, link.CancelledAt = b.now().UTC(), b.now().UTC()
	return b.connectOf(bc, link), nil
}

func (b *Broker) connectOf(bc *config.Bot, link store.Link) Connect {
	c := Connect{
		LinkID: link.ID, Bot: bc.Name, BotName: bc.Name, UserLabel: link.UserLabel, Channel: link.Channel, UserID: link.User,
		RedirectURL: link.RedirectURL, ExpiresAt: link.ExpiresAt,
		Cancelled: !link.CancelledAt.IsZero(), Confirm: bc.Confirm == config.ConfirmCode,
	}
	if bc.DisplayName != "" {
		c.BotName = bc.DisplayName
	}
	c.Complete = !c.Cancelled && !link.UsedAt.IsZero()
	for _, lp := range link.Providers {
		title := lp.Provider
		if p, ok := b.providers.Lookup(bc.Name, lp.Provider); ok {
			title = providerTitle(p)
		}
		c.Providers = append(c.Providers, ConnectProvider{Name: lp.Provider, Title: title, Linked: !lp.LinkedAt.IsZero()})
	}
	return c
}

// linkNotValid is the answer for a link, bot or provider that does not exist: it repeats
// nothing from the URL, and does not tell which part was wrong, so the answer confirms no
// bot name and no token that exists elsewhere.
func linkNotValid() *Error {
	return newError(CodeLinkNotFound, "this link is not valid; ask the bot for a new one")
}

// pageLookup is lookup for the browser's pages: the same codes (operators' metrics tell them
// apart), with linkNotValid's message instead of one that repeats the URL's words on the
// broker's origin. provider "" looks up the bot only.
func (b *Broker) pageLookup(bot, provider string) (*config.Bot, *providers.Provider, error) {
	bc := b.cfg.Bot(bot)
	if bc == nil {
		return nil, nil, &Error{Code: CodeUnknownBot, Message: linkNotValid().Message}
	}
	if provider == "" {
		return bc, nil, nil
	}
	p, ok := b.providers.Lookup(bot, provider)
	if !ok {
		return nil, nil, &Error{Code: CodeUnknownProvider, Message: linkNotValid().Message}
	}
	return bc, p, nil
}

// readLink returns the link behind a token if it belongs to this bot, spent or expired or not.
// A link of another bot is reported as not valid, not as "wrong bot": the answer must not
// confirm that a token exists elsewhere.
func (b *Broker) readLink(ctx context.Context, bot, token string) (store.Link, error) {
	// An ordered token, or one of 32 random bytes alone (a link made before tokens were
	// ordered, still live for up to max_link_ttl after an upgrade); both base64url.
	if len(token) != orderedTokenLen && len(token) != legacyTokenLen {
		return store.Link{}, linkNotValid()
	}
	link, err := b.store.LinkByTokenHash(ctx, tokenKey(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.Link{}, linkNotValid()
	}
	if err != nil {
		return store.Link{}, wrapError(err, CodeInternal, "reading the link failed")
	}
	if link.Bot != bot {
		return store.Link{}, linkNotValid()
	}
	return link, nil
}

// liveLink is readLink for a link that can still be used: not spent, not expired.
func (b *Broker) liveLink(ctx context.Context, bot, token string) (store.Link, error) {
	link, err := b.readLink(ctx, bot, token)
	if err != nil {
		return store.Link{}, err
	}
	if !link.UsedAt.IsZero() {
		return store.Link{}, usedError(link)
	}
	if !b.now().Before(link.ExpiresAt) {
		return store.Link{}, expiredError()
	}
	return link, nil
}

func usedError(link store.Link) *Error { return spentError(!link.CancelledAt.IsZero()) }

func spentError(cancelled bool) *Error {
	if cancelled {
		return newError(CodeLinkUsed, "this link was cancelled; ask the bot for a new one")
	}
	return newError(CodeLinkUsed, "this link was already used; ask the bot for a new one")
}

// alreadyLinked: this provider of a live link was linked through it (each provider once).
func alreadyLinked(p *providers.Provider) *Error {
	return newError(CodeLinkUsed, "your %s account is already linked through this link", providerTitle(p))
}

func expiredError() *Error {
	return newError(CodeLinkExpired, "this link has expired; ask the bot for a new one")
}
