package broker

import (
	"context"
	"slices"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Reasons a required provider is missing (docs/openapi.yaml, require).
const (
	ReasonNotLinked      = "not_linked"
	ReasonRelinkRequired = "relink_required"
	ReasonMissingScopes  = "missing_scopes"
)

// Requirement is one provider a combined action needs, with the scopes it needs there.
type Requirement struct {
	Provider string
	Scopes   []string
}

// Missing is a required provider the user must (re)link, with the link to send.
type Missing struct {
	Provider string
	Reason   string
	Link     NewLink
}

// Requirements is the answer to Require: credentials for every ready provider, a link for
// every other one, and Connect, one link for all of them. Ready is true when nothing is
// missing (Connect is then the zero NewLink).
type Requirements struct {
	Ready       bool
	Credentials map[string]Credentials
	Missing     []Missing
	Connect     NewLink
}

// RequireRequest is a combined action's needs for one chat user.
type RequireRequest struct {
	Bot, Channel, User string
	UserLabel          string // optional: how the connect page names the chat user
	Providers          []Requirement
}

// Require prepares a combined action in one call. All input is validated before any link is
// made, so a bad request creates nothing. When the user linked several accounts of one
// provider, the most recently updated active one that has the scopes is used.
//
// Each missing provider gets a link of its own (as before links had several providers), and
// Connect is one link for all of them, to send in one message: with one provider missing it
// is that provider's link.
func (b *Broker) Require(ctx context.Context, req RequireRequest) (Requirements, error) {
	bot, channel, user, reqs := req.Bot, req.Channel, req.User, req.Providers
	if b.cfg.Bot(bot) == nil {
		return Requirements{}, newError(CodeUnknownBot, "there is no bot %q", bot)
	}
	if err := validateChannelUser(channel, user); err != nil {
		return Requirements{}, err
	}
	if len(reqs) == 0 {
		return Requirements{}, newError(CodeInvalidRequest, "providers must list 1-%d providers", MaxLinkProviders)
	}
	if err := b.validateRequirements(bot, reqs); err != nil {
		return Requirements{}, err
	}
	if err := validateUserLabel(req.UserLabel); err != nil {
		return Requirements{}, err
	}

	ids, err := b.store.Identities(ctx, store.IdentityQuery{Bot: bot, Channel: channel, User: user})
	if err != nil {
		return Requirements{}, wrapError(err, CodeInternal, "listing identities failed")
	}
	out := Requirements{Credentials: map[string]Credentials{}}
	var missing []Requirement
	for _, r := range reqs {
		best, reason := pick(ids, r)
		if reason == "" {
			// The same refresh as credentials: a token the provider refuses now turns into a
			// link for the user rather than a failed action.
			creds, err := b.freshCredentials(ctx, best)
			switch {
			case ErrorCode(err) == CodeRelinkRequired:
				reason = ReasonRelinkRequired
			case err != nil:
				return Requirements{}, err
			default:
				out.Credentials[r.Provider] = creds
				continue
			}
		}
		link, err := b.createLink(ctx, LinkRequest{Bot: bot, Providers: []Requirement{r}, Channel: channel, User: user,
			UserLabel: req.UserLabel, TTL: b.cfg.Server.LinkTTL})
		if err != nil {
			return Requirements{}, err
		}
		out.Missing = append(out.Missing, Missing{Provider: r.Provider, Reason: reason, Link: link})
		missing = append(missing, r)
	}
	switch len(missing) {
	case 0:
		out.Ready = true
	case 1:
		out.Connect = out.Missing[0].Link
	default:
		link, err := b.createLink(ctx, LinkRequest{Bot: bot, Providers: missing, Channel: channel, User: user,
			UserLabel: req.UserLabel, TTL: b.cfg.Server.LinkTTL})
		if err != nil {
			return Requirements{}, err
		}
		out.Connect = link
	}
	return out, nil
}

// pick chooses the identity that satisfies r, or says why none does.
func pick(ids []store.Identity, r Requirement) (store.Identity, string) {
	var best store.Identity
	found, relink, lacksScopes := false, false, false
	for _, id := range ids {
		if id.Provider != r.Provider {
			continue
		}
		switch id.Status {
		case store.StatusRelinkRequired:
			relink = true
			continue
		case store.StatusActive:
		default:
			continue
		}
		if !hasAll(id.Scopes, r.Scopes) {
			lacksScopes = true
			continue
		}
		if !found || id.UpdatedAt.After(best.UpdatedAt) {
			best, found = id, true
		}
	}
	switch {
	case found:
		return best, ""
	case lacksScopes:
		return store.Identity{}, ReasonMissingScopes
	case relink:
		return store.Identity{}, ReasonRelinkRequired
	}
	return store.Identity{}, ReasonNotLinked
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func (b *Broker) freshCredentials(ctx context.Context, id store.Identity) (Credentials, error) {
	id, err := b.fresh(ctx, id)
	if err != nil {
		return Credentials{}, err
	}
	return b.credentialsOf(id)
}
