package broker

import (
	"context"
	"errors"

	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Outcomes of the revocation an unlink tries first, as its unlinked event records them.
const (
	RevokeDone        = "revoked"       // the provider confirmed it
	RevokeFailed      = "revoke_failed" // tried, and the provider failed or refused
	RevokeUnsupported = "not_revoked"   // the provider offers no revocation (or is gone from the config)
)

// revoke ends the identity's grant at its provider, best effort: within RevokeTimeout, and
// whatever happens the caller goes on to delete the identity. It returns the outcome and a
// sentence for the history; neither ever holds a token.
func (b *Broker) revoke(ctx context.Context, id store.Identity) (outcome, detail string) {
	p, ok := b.providers.Lookup(id.Bot, id.Provider)
	if !ok {
		return RevokeUnsupported, "nothing revoked: provider " + id.Provider + " is no longer configured"
	}
	title := providerTitle(p)
	if !p.CanRevoke() {
		return RevokeUnsupported, title + " offers no revocation; the token stays valid there until it expires or the user removes the app"
	}
	var g providers.Grant
	for _, f := range []struct {
		name   string
		sealed []byte
		out    *string
	}{
		{"access_token", id.AccessToken, &g.AccessToken},
		{"access_token_secret", id.AccessTokenSecret, &g.AccessTokenSecret},
		{"refresh_token", id.RefreshToken, &g.RefreshToken},
	} {
		v, err := b.openToken(id, f.name, f.sealed)
		if err != nil {
			return RevokeFailed, "not revoked at " + title + ": the stored token cannot be decrypted"
		}
		*f.out = v
	}
	ctx, cancel := context.WithTimeout(ctx, RevokeTimeout)
	defer cancel()
	if err := p.RevokeGrant(ctx, g); err != nil {
		b.log.WarnContext(ctx, "unlink: revocation at the provider failed; unlinking anyway", "bot", id.Bot,
			"identity", id.ID, "provider", id.Provider, "err", err)
		var ue *providers.UpstreamError
		if errors.As(err, &ue) || errors.Is(err, providers.ErrInvalidInput) {
			// Both are built to be shown: redacted, without tokens.
			return RevokeFailed, "revocation at " + title + " failed: " + err.Error()
		}
		return RevokeFailed, "revocation at " + title + " failed"
	}
	return RevokeDone, "revoked at " + title
}
