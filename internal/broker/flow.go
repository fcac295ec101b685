package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// FlowState is what one browser carries between the auth and the callback request. The HTTP
// edge keeps it in a signed and encrypted cookie scoped to the provider's path, which is what
// binds the flow to this browser: a forwarded callback URL is useless without it. The store
// keeps only the hash of State, which is what makes the flow single-use.
type FlowState struct {
	Bot          string    `json:"b"`
	Provider     string    `json:"p"`
	State        string    `json:"s"`
	Session      string    `json:"g"`           // the provider's opaque session (OAuth 1.0a: the request token and its secret)
	CodeVerifier string    `json:"v,omitempty"` // PKCE
	ExpiresAt    time.Time `json:"e"`
	// Link is the link's token: the callback sends the browser back to the link's connect
	// page with it. The store has only its hash, so this browser's cookie is where it lives.
	Link string `json:"l"`
}

// BeginAuth starts one provider of a link: it checks that the link is live, has this provider
// still to link and is under its cap of open flows, then makes a fresh random state (never
// taken from the request), a PKCE verifier where the provider type sends one, and the
// provider's auth URL. Nothing is linked until a callback completes.
func (b *Broker) BeginAuth(ctx context.Context, bot, provider, linkToken string) (authURL string, fs FlowState, err error) {
	_, p, err := b.pageLookup(bot, provider)
	if err != nil {
		return "", FlowState{}, err
	}
	link, err := b.liveLink(ctx, bot, linkToken)
	if err != nil {
		return "", FlowState{}, err
	}
	lp, ok := link.Provider(provider)
	if !ok {
		return "", FlowState{}, linkNotValid()
	}
	if !lp.LinkedAt.IsZero() {
		return "", FlowState{}, alreadyLinked(p)
	}
	if err := b.checkOpenFlows(ctx, link); err != nil {
		return "", FlowState{}, err
	}
	now := b.now().UTC()
	fs = FlowState{Bot: bot, Provider: provider, State: newOrderedToken(now), ExpiresAt: now.Add(FlowTTL), Link: linkToken}
	challenge := ""
	if p.PKCE {
		fs.CodeVerifier = randomToken(32)
		sum := sha256.Sum256([]byte(fs.CodeVerifier))
		challenge = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	authURL, fs.Session, err = p.Begin(fs.State, lp.Scopes, challenge)
	if err != nil {
		b.log.WarnContext(ctx, "flow: begin at provider failed", "bot", bot, "provider", provider, "err", err)
		return "", FlowState{}, wrapError(err, CodeUpstream, "%s did not answer as expected; try again in a moment", providerTitle(p))
	}
	if err := b.store.CreateFlow(ctx, store.Flow{
		StateHash: tokenKey(fs.State), LinkID: link.ID, CreatedAt: now, ExpiresAt: fs.ExpiresAt,
	}); err != nil {
		return "", FlowState{}, wrapError(err, CodeInternal, "storing the flow failed")
	}
	return authURL, fs, nil
}

// Completed is the outcome of a successful callback.
type Completed struct {
	Identity IdentityInfo
	Relinked bool   // the same account was linked before; its identity was updated
	Provider string // the provider's display title
	// LinkID identifies the link; LinkURL is its connect page, where the browser goes next.
	LinkID  int64
	LinkURL string
	// LinkComplete: this was the link's last provider. Code is then, for confirm: code bots,
	// the one code the user types in the chat for every identity of the link.
	LinkComplete bool
	Code         string
	RedirectURL  string // the link's redirect_url, if the bot gave one
	// Page is the link's connect page as this callback left it, for the page the browser is
	// sent to next (RecentPage): the link as the flow was consumed, with this provider linked
	// and, when this callback completed the link, every provider linked and the link spent.
	Page Connect
}

// CompleteAuth finishes a flow. fs is the browser's flow cookie (nil when it sent none) and
// params the callback's query or form. Nothing in params counts before the state matches the
// browser's flow: an answer from the provider, "the user said no" included, belongs to the
// flow this browser started or to nobody. Checks run in the order that gives the user the most
// precise answer while storing nothing on any failure.
func (b *Broker) CompleteAuth(ctx context.Context, bot, provider string, fs *FlowState, params url.Values) (Completed, error) {
	bc, p, err := b.pageLookup(bot, provider)
	if err != nil {
		return Completed{}, err
	}
	if fs == nil {
		return Completed{}, newError(CodeFlowMissing, "this browser did not start the linking (or its cookie expired); open the link from the chat again in this browser")
	}
	if fs.Bot != bot || fs.Provider != provider || !b.stateMatches(p, fs, params) {
		return Completed{}, newError(CodeFlowInvalid, "this sign-in answer does not belong to the linking started in this browser; open the link from the chat again")
	}
	if !b.now().Before(fs.ExpiresAt) {
		return Completed{}, newError(CodeFlowExpired, "linking took too long; open the link from the chat again")
	}
	link, err := b.store.ConsumeFlow(ctx, tokenKey(fs.State), b.now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrFlowConsumed):
		return Completed{}, newError(CodeFlowInvalid, "this sign-in answer was already used; open the link from the chat again")
	case errors.Is(err, store.ErrExpired):
		return Completed{}, newError(CodeFlowExpired, "linking took too long; open the link from the chat again")
	case err != nil:
		return Completed{}, wrapError(err, CodeInternal, "reading the flow failed")
	}
	// The user said no at the provider (or it failed): the flow is spent now, so it no longer
	// counts against the link's cap, and nothing is stored. error_description is not shown:
	// anyone can put text in that URL.
	if params.Get("error") != "" || params.Has("denied") {
		if params.Has("denied") || params.Get("error") == "access_denied" {
			return Completed{}, newError(CodeAccessDenied, "you cancelled linking your %s account; nothing was linked", providerTitle(p))
		}
		return Completed{}, newError(CodeUpstream, "%s reported an error (%s); nothing was linked", providerTitle(p), safeErrorCode(params.Get("error")))
	}
	lp, ok := link.Provider(provider)
	if link.Bot != bot || !ok {
		return Completed{}, newError(CodeFlowInvalid, "this sign-in answer belongs to another link")
	}
	if !link.UsedAt.IsZero() {
		return Completed{}, usedError(link)
	}
	if !lp.LinkedAt.IsZero() {
		return Completed{}, alreadyLinked(p)
	}

	user, err := p.Complete(fs.Session, lp.Scopes, providers.CallbackInput{
		Code:          params.Get("code"),
		CodeVerifier:  fs.CodeVerifier,
		OAuthToken:    params.Get("oauth_token"),
		OAuthVerifier: params.Get("oauth_verifier"),
	})
	if err != nil {
		b.log.WarnContext(ctx, "flow: completing at provider failed", "bot", bot, "provider", provider, "err", err)
		return Completed{}, wrapError(err, CodeUpstream, "%s did not complete the sign-in; nothing was linked. Open the link from the chat again to retry", providerTitle(p))
	}
	done, err := b.storeLinked(ctx, bc, p, link, lp, user)
	if err != nil {
		return Completed{}, err
	}
	done.LinkURL = ConnectURL(b.cfg, bot, fs.Link)
	return done, nil
}

// stateMatches compares the callback's state with the browser's: OAuth 2 echoes our state;
// OAuth 1.0a has none, so the returned oauth_token must be the request token we obtained.
func (b *Broker) stateMatches(p *providers.Provider, fs *FlowState, params url.Values) bool {
	want, got := fs.State, params.Get("state")
	if p.OAuth1 {
		rt, err := p.RequestToken(fs.Session)
		if err != nil || rt == "" {
			return false
		}
		want, got = rt, params.Get("oauth_token")
		if got == "" {
			got = params.Get("denied") // Twitter sends the request token as denied= on cancel
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// storeLinked seals the tokens and writes identity, event, the provider's use of the link and
// — when it was the link's last provider — the confirmation, in one store transaction.
func (b *Broker) storeLinked(ctx context.Context, bc *config.Bot, p *providers.Provider, link store.Link, lp store.LinkProvider, u providers.User) (Completed, error) {
	now := b.now().UTC()
	id := store.Identity{
		Bot: link.Bot, Channel: link.Channel, User: link.User, Provider: lp.Provider,
		ProviderUserID: u.ID,
		Name:           u.Name, NickName: u.NickName, Email: u.Email, AvatarURL: u.AvatarURL,
		Status:    store.StatusActive,
		Scopes:    u.Scopes, // what the provider granted, not only what was asked
		TokenType: "bearer",
		ExpiresAt: b.expiry(u.ExpiresAt),
	}
	if p.OAuth1 {
		id.TokenType = "oauth1"
	}
	var err error
	if id.AccessToken, err = b.sealToken(id, "access_token", u.AccessToken); err != nil {
		return Completed{}, err
	}
	if id.AccessTokenSecret, err = b.sealToken(id, "access_token_secret", u.AccessTokenSecret); err != nil {
		return Completed{}, err
	}
	if id.RefreshToken, err = b.sealToken(id, "refresh_token", u.RefreshToken); err != nil {
		return Completed{}, err
	}

	params := store.CompleteLinkParams{LinkID: link.ID, Identity: id, Now: now, Webhook: b.hasWebhook(link.Bot)}
	code := ""
	if bc.Confirm == config.ConfirmCode {
		// Whether this callback completes the link is known inside the store's transaction
		// only (another provider may finish at the same moment), so every callback brings a
		// code; the store keeps the completing one's.
		params.Identity.Status = store.StatusPending
		code = sixDigits()
		params.Confirmation = &store.Confirmation{
			Bot: link.Bot, Channel: link.Channel, User: link.User,
			CodeHash:  b.codeHash(link.Bot, link.Channel, link.User, code),
			ExpiresAt: now.Add(ConfirmTTL),
		}
	}
	stored, err := b.store.CompleteLink(ctx, params)
	if errors.Is(err, store.ErrLinkUsed) {
		return Completed{}, usedError(link)
	}
	if err != nil {
		return Completed{}, wrapError(err, CodeInternal, "storing the identity failed")
	}
	if params.Webhook {
		b.eventQueued()
	}
	if !stored.LinkComplete {
		code = ""
	}
	b.log.InfoContext(ctx, "flow: identity linked", "bot", stored.Identity.Bot, "provider", stored.Identity.Provider,
		"identity", stored.Identity.ID, "relinked", !stored.Created, "status", stored.Identity.Status, "link_complete", stored.LinkComplete)
	return Completed{
		Identity: infoOf(stored.Identity), Relinked: !stored.Created, Provider: providerTitle(p),
		LinkID: link.ID, LinkComplete: stored.LinkComplete, Code: code, RedirectURL: link.RedirectURL,
		Page: b.connectOf(bc, linkedNow(link, lp.Provider, stored.LinkComplete, now)),
	}, nil
}

// linkedNow is link as the callback that linked provider left it: that provider linked and,
// when the callback completed the link, every provider linked and the link spent.
func linkedNow(link store.Link, provider string, complete bool, now time.Time) store.Link {
	link.Providers = slices.Clone(link.Providers)
	for i := range link.Providers {
		if link.Providers[i].Provider == provider || complete {
			if link.Providers[i].LinkedAt.IsZero() {
				link.Providers[i].LinkedAt = now
			}
		}
	}
	if complete {
		link.UsedAt = now
	}
	return link
}

// sixDigits is a uniformly random confirmation code.
func sixDigits() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic("broker: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// safeErrorCode passes through only RFC 6749 error codes, so a crafted callback URL cannot put
// arbitrary text on our page.
func safeErrorCode(code string) string {
	switch code {
	case "invalid_request", "unauthorized_client", "unsupported_response_type", "invalid_scope",
		"server_error", "temporarily_unavailable", "consent_required", "login_required", "interaction_required":
		return code
	}
	return "unknown error"
}

// providerTitle is what pages call a provider: its type's brand, else its configured name.
func providerTitle(p *providers.Provider) string { return p.Title }
