package broker

import (
	"context"
	"errors"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// IdentityInfo is an identity as bots and pages see it: which account of which provider, its
// status, scopes and times. It has no token field at all, so nothing built from it can show
// one.
type IdentityInfo struct {
	ID             int64
	Provider       string
	ProviderUserID string
	Name           string
	NickName       string
	Email          string
	AvatarURL      string
	Status         string
	Scopes         []string
	ExpiresAt      time.Time // zero when the provider gave no expiry
	LinkedAt       time.Time
	UpdatedAt      time.Time
}

func infoOf(id store.Identity) IdentityInfo {
	return IdentityInfo{
		ID: id.ID, Provider: id.Provider, ProviderUserID: id.ProviderUserID,
		Name: id.Name, NickName: id.NickName, Email: id.Email, AvatarURL: id.AvatarURL,
		Status: id.Status, Scopes: id.Scopes, ExpiresAt: id.ExpiresAt, LinkedAt: id.LinkedAt, UpdatedAt: id.UpdatedAt,
	}
}

func infosOf(ids []store.Identity) []IdentityInfo {
	out := make([]IdentityInfo, len(ids))
	for i, id := range ids {
		out[i] = infoOf(id)
	}
	return out
}

// Identities lists one chat user's identities, optionally of one provider, oldest first.
func (b *Broker) Identities(ctx context.Context, bot, channel, user, provider string) ([]IdentityInfo, error) {
	if b.cfg.Bot(bot) == nil {
		return nil, newError(CodeUnknownBot, "there is no bot %q", bot)
	}
	if err := validateChannelUser(channel, user); err != nil {
		return nil, err
	}
	if provider != "" {
		if _, _, err := b.lookup(bot, provider); err != nil {
			return nil, err
		}
	}
	ids, err := b.store.Identities(ctx, store.IdentityQuery{Bot: bot, Channel: channel, User: user, Provider: provider})
	if err != nil {
		return nil, wrapError(err, CodeInternal, "listing identities failed")
	}
	return infosOf(ids), nil
}

// Credentials is what a bot needs to call the provider as the user.
type Credentials struct {
	Provider          string
	TokenType         string // "bearer" or "oauth1"
	AccessToken       string
	AccessTokenSecret string    // OAuth 1.0a only
	ExpiresAt         time.Time // zero: the provider gave no expiry
}

// Credentials opens an identity's tokens for its bot, refreshing them first when they expire
// within RefreshAhead (see fresh): a bot is never handed an expired token.
//
// It reads the identity through store.IdentityTokens, which leaves the profile fields zero:
// nothing here, in fresh or in credentialsOf reads them, and a refresh works on the identity
// the store returns with its lease, read whole.
func (b *Broker) Credentials(ctx context.Context, bot string, identityID int64) (Credentials, error) {
	id, err := b.identityTokens(ctx, bot, identityID)
	if err != nil {
		return Credentials{}, err
	}
	if id, err = b.fresh(ctx, id); err != nil {
		return Credentials{}, err
	}
	return b.credentialsOf(id)
}

func (b *Broker) credentialsOf(id store.Identity) (Credentials, error) {
	switch id.Status {
	case store.StatusRelinkRequired:
		return Credentials{}, newError(CodeRelinkRequired, "identity %d must be linked again: the provider no longer accepts its tokens", id.ID)
	case store.StatusPending:
		return Credentials{}, newError(CodeIdentityPending, "identity %d waits for its confirmation code (POST links/confirm)", id.ID)
	}
	access, err := b.openToken(id, "access_token", id.AccessToken)
	if err != nil {
		return Credentials{}, err
	}
	secret, err := b.openToken(id, "access_token_secret", id.AccessTokenSecret)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		Provider: id.Provider, TokenType: id.TokenType,
		AccessToken: access, AccessTokenSecret: secret, ExpiresAt: id.ExpiresAt,
	}, nil
}

func (b *Broker) identity(ctx context.Context, bot string, identityID int64) (store.Identity, error) {
	return b.readIdentity(ctx, bot, identityID, store.Store.Identity)
}

// identityTokens is identity through store.IdentityTokens: keys, status and tokens only.
func (b *Broker) identityTokens(ctx context.Context, bot string, identityID int64) (store.Identity, error) {
	return b.readIdentity(ctx, bot, identityID, store.Store.IdentityTokens)
}

// readIdentity reads one of bot's identities with read (the whole row, or its tokens only),
// answering an unknown bot or identity with the API's errors. read is a method expression, so
// choosing it costs the credentials read no closure.
func (b *Broker) readIdentity(ctx context.Context, bot string, identityID int64,
	read func(s store.Store, ctx context.Context, bot string, id int64) (store.Identity, error)) (store.Identity, error) {
	if b.cfg.Bot(bot) == nil {
		return store.Identity{}, newError(CodeUnknownBot, "there is no bot %q", bot)
	}
	id, err := read(b.store, ctx, bot, identityID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Identity{}, newError(CodeNotFound, "bot %q has no identity %d", bot, identityID)
	}
	if err != nil {
		return store.Identity{}, wrapError(err, CodeInternal, "reading the identity failed")
	}
	return id, nil
}

// Unlink revokes the identity's grant at the provider where the provider offers a way to
// (best effort, within RevokeTimeout), then deletes the identity whatever the revocation's
// outcome, which its history keeps (the unlinked event's outcome: revoked, revoke_failed or
// not_revoked), and queues identity.unlinked.
func (b *Broker) Unlink(ctx context.Context, bot string, identityID int64) error {
	id, err := b.identity(ctx, bot, identityID)
	if err != nil {
		return err
	}
	outcome, detail := b.revoke(ctx, id)
	err = b.store.DeleteIdentity(ctx, bot, identityID, store.Event{
		Kind: store.EventUnlinked, Outcome: outcome, Detail: "unlinked " + actor(ctx) + "; " + detail, At: b.now().UTC(),
		Webhook: b.hasWebhook(bot),
	})
	if errors.Is(err, store.ErrNotFound) {
		return newError(CodeNotFound, "bot %q has no identity %d", bot, identityID)
	}
	if err != nil {
		return wrapError(err, CodeInternal, "deleting the identity failed")
	}
	b.eventQueued()
	b.log.InfoContext(ctx, "identity unlinked", "bot", bot, "identity", identityID, "revocation", outcome)
	return nil
}

// Confirm activates the pending identities of the link whose connect page showed this code
// to this chat user: every identity of that link, in the link's order.
func (b *Broker) Confirm(ctx context.Context, bot, channel, user, code string) ([]IdentityInfo, error) {
	bc := b.cfg.Bot(bot)
	if bc == nil {
		return nil, newError(CodeUnknownBot, "there is no bot %q", bot)
	}
	if bc.Confirm != config.ConfirmCode {
		return nil, newError(CodeConfirmDisabled, "bot %q does not use confirmation codes (confirm: none)", bot)
	}
	if err := validateChannelUser(channel, user); err != nil {
		return nil, err
	}
	if len(code) != 6 || !isDigits(code) {
		return nil, newError(CodeInvalidRequest, "code must be the six digits shown on the connect page")
	}
	ids, err := b.store.Confirm(ctx, store.ConfirmParams{
		Bot: bot, Channel: channel, User: user,
		CodeHash:    b.codeHash(bot, channel, user, code),
		MaxAttempts: ConfirmMaxAttempts,
		Now:         b.now().UTC(),
		Webhook:     b.hasWebhook(bot),
	})
	switch {
	case errors.Is(err, store.ErrWrongCode):
		return nil, newError(CodeWrongCode, "that code is not the one shown to this user; after %d wrong tries the code is void", ConfirmMaxAttempts)
	case errors.Is(err, store.ErrNotFound):
		return nil, newError(CodeNoConfirmation, "this user has no linking waiting for a code (none started, too many wrong tries, or older than %d minutes); send a new link", int(ConfirmTTL.Minutes()))
	case err != nil:
		return nil, wrapError(err, CodeInternal, "confirming failed")
	}
	b.eventQueued()
	for _, id := range ids {
		b.log.InfoContext(ctx, "identity confirmed", "bot", bot, "identity", id.ID)
	}
	return infosOf(ids), nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
