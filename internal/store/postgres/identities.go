package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// CompleteLink is the rules' (sqlstore.Rules.CompleteLink), with what the provider's
// answers say cleaned of NUL first (withoutNUL).
func (s *Store) CompleteLink(ctx context.Context, p store.CompleteLinkParams) (store.Linked, error) {
	p.Identity = withoutNUL(p.Identity)
	return s.Rules.CompleteLink(ctx, p)
}

// withoutNUL replaces NUL characters in what the provider's profile and token answers say
// (names, email, avatar, token type, scopes) with U+FFFD: PostgreSQL text cannot hold NUL, and
// a profile field must not make a link fail. The identity's keys are left as they are: a NUL
// there is refused by the database, never silently changed.
func withoutNUL(in store.Identity) store.Identity {
	clean := func(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }
	in.Name, in.NickName, in.Email, in.AvatarURL, in.TokenType = clean(in.Name), clean(in.NickName), clean(in.Email), clean(in.AvatarURL), clean(in.TokenType)
	if slices.ContainsFunc(in.Scopes, func(s string) bool { return strings.Contains(s, "\x00") }) {
		scopes := make([]string, len(in.Scopes))
		for i, sc := range in.Scopes {
			scopes[i] = clean(sc)
		}
		in.Scopes = scopes
	}
	return in
}

// Identities lists one chat user's identities, optionally of one provider, oldest first.
func (s *Store) Identities(ctx context.Context, q store.IdentityQuery) ([]store.Identity, error) {
	query, args := selectIdentity+` WHERE bot = $1 AND channel = $2 AND user_id = $3 ORDER BY linked_at, id`, []any{q.Bot, q.Channel, q.User}
	if q.Provider != "" {
		query = selectIdentity + ` WHERE bot = $1 AND channel = $2 AND user_id = $3 AND provider = $4 ORDER BY linked_at, id`
		args = append(args, q.Provider)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: identities of %s user %q: %w", q.Channel, q.User, err)
	}
	out, err := sqlstore.Collect(rows, scanIdentity)
	if err != nil {
		return nil, fmt.Errorf("postgres: identities of %s user %q: %w", q.Channel, q.User, err)
	}
	return out, nil
}

// Identity returns one identity of a bot; store.ErrNotFound also for another bot's identity.
func (s *Store) Identity(ctx context.Context, bot string, id int64) (store.Identity, error) {
	out, err := scanIdentity(s.pool.QueryRow(ctx, selectIdentity+` WHERE id = $1 AND bot = $2`, id, bot))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Identity{}, fmt.Errorf("postgres: identity %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Identity{}, fmt.Errorf("postgres: identity %d: %w", id, err)
	}
	return out, nil
}

// IdentityTokens is Identity narrowed to the keys, status and tokens (store.Store). Reads
// made together share one query (tokenreads.go).
func (s *Store) IdentityTokens(ctx context.Context, bot string, id int64) (store.Identity, error) {
	return readToken(s.tokens, ctx, bot, id)
}

func scanIdentity(row rowScanner) (store.Identity, error) {
	var (
		i                        store.Identity
		scopes                   []string
		expires, linked, updated pgtype.Timestamptz
	)
	err := row.Scan(&i.ID, &i.Bot, &i.Channel, &i.User, &i.Provider, &i.ProviderUserID,
		&i.Name, &i.NickName, &i.Email, &i.AvatarURL, &i.Status, &scopes,
		&i.AccessToken, &i.AccessTokenSecret, &i.RefreshToken, &i.TokenType, &expires,
		&linked, &updated)
	if err != nil {
		return store.Identity{}, err
	}
	i.Scopes = scopesOf(scopes)
	i.ExpiresAt, i.LinkedAt, i.UpdatedAt = fromTS(expires), fromTS(linked), fromTS(updated)
	return i, nil
}
