package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// A chat user's identities, read through the UNIQUE index's (bot, channel, user_id) prefix.
// They are not ordered in SQL: ORDER BY linked_at would make SQLite open a sorter (a temporary
// b-tree) for every call, which cost more than the lookup itself (17.5 µs against 8 µs per
// call, measured on 100,000 identities); a user has a handful of identities, which
// sortIdentities orders in Go.
const (
	selectIdentitiesOfUser   = selectIdentity + ` WHERE bot = ? AND channel = ? AND user_id = ?`
	selectIdentitiesOfUserOf = selectIdentity + ` WHERE bot = ? AND channel = ? AND user_id = ? AND provider = ?`
)

// Identities lists one chat user's identities, optionally of one provider, oldest first.
func (s *Store) Identities(ctx context.Context, q store.IdentityQuery) ([]store.Identity, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if q.Provider == "" {
		rows, err = s.identitiesByUser.QueryContext(uncancelled(ctx), q.Bot, q.Channel, q.User)
	} else {
		rows, err = s.identitiesByUserOf.QueryContext(uncancelled(ctx), q.Bot, q.Channel, q.User, q.Provider)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: identities of %s user %q: %w", q.Channel, q.User, err)
	}
	defer rows.Close()
	out := []store.Identity{}
	for rows.Next() {
		id, err := scanIdentity(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: identities of %s user %q: %w", q.Channel, q.User, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: identities of %s user %q: %w", q.Channel, q.User, err)
	}
	sortIdentities(out)
	return out, nil
}

// sortIdentities orders identities oldest first, as linked_at, id.
func sortIdentities(ids []store.Identity) {
	slices.SortFunc(ids, func(a, b store.Identity) int {
		if c := a.LinkedAt.Compare(b.LinkedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// Identity returns one identity of a bot; store.ErrNotFound also for another bot's identity.
func (s *Store) Identity(ctx context.Context, bot string, id int64) (store.Identity, error) {
	out, err := scanIdentity(s.identityByID.QueryRowContext(uncancelled(ctx), id, bot))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Identity{}, fmt.Errorf("sqlite: identity %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Identity{}, fmt.Errorf("sqlite: identity %d: %w", id, err)
	}
	return out, nil
}

// selectIdentityTokens reads what IdentityTokens returns: the credentials read asks for
// nothing else, and each column left out is one conversion and usually one allocation fewer.
const selectIdentityTokens = `SELECT id, bot, channel, user_id, provider, provider_user_id, status,
	access_token, access_token_secret, refresh_token, token_type, expires_at
	FROM identities WHERE id = ? AND bot = ?`

// IdentityTokens is Identity narrowed to the keys, status and tokens (store.Store).
func (s *Store) IdentityTokens(ctx context.Context, bot string, id int64) (store.Identity, error) {
	if s.tokenReads != nil {
		return s.identityTokensOnPool(bot, id)
	}
	var (
		i       store.Identity
		expires sql.NullInt64
	)
	err := s.identityTokensByID.QueryRowContext(uncancelled(ctx), id, bot).Scan(&i.ID, &i.Bot, &i.Channel,
		&i.User, &i.Provider, &i.ProviderUserID, &i.Status,
		&i.AccessToken, &i.AccessTokenSecret, &i.RefreshToken, &i.TokenType, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Identity{}, fmt.Errorf("sqlite: identity %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Identity{}, fmt.Errorf("sqlite: identity %d: %w", id, err)
	}
	i.ExpiresAt = fromMillis(expires)
	return i, nil
}

// identityTokensOnPool is IdentityTokens on the token reads' connections: the columns of
// selectIdentityTokens, in its order.
func (s *Store) identityTokensOnPool(bot string, id int64) (store.Identity, error) {
	var c [12]column
	found, err := s.tokenReads.row(id, bot, c[:])
	if err != nil {
		return store.Identity{}, fmt.Errorf("sqlite: identity %d: %w", id, err)
	}
	if !found {
		return store.Identity{}, fmt.Errorf("sqlite: identity %d: %w", id, store.ErrNotFound)
	}
	i := store.Identity{
		ID: c[0].value, Bot: c[1].text(), Channel: c[2].text(), User: c[3].text(), Provider: c[4].text(),
		ProviderUserID: c[5].text(), Status: c[6].text(),
		AccessToken: c[7].blob(), AccessTokenSecret: c[8].blob(), RefreshToken: c[9].blob(), TokenType: c[10].text(),
	}
	if c[11].kind == sqliteInteger {
		i.ExpiresAt = fromMillis(sql.NullInt64{Int64: c[11].value, Valid: true})
	}
	return i, nil
}

func scanIdentity(row rowScanner) (store.Identity, error) {
	var (
		i                        store.Identity
		scopes                   string
		expires, linked, updated sql.NullInt64
	)
	err := row.Scan(&i.ID, &i.Bot, &i.Channel, &i.User, &i.Provider, &i.ProviderUserID,
		&i.Name, &i.NickName, &i.Email, &i.AvatarURL, &i.Status, &scopes,
		&i.AccessToken, &i.AccessTokenSecret, &i.RefreshToken, &i.TokenType, &expires,
		&linked, &updated)
	if err != nil {
		return store.Identity{}, err
	}
	if i.Scopes, err = parseScopes(scopes); err != nil {
		return store.Identity{}, fmt.Errorf("identity %d: %w", i.ID, err)
	}
	i.ExpiresAt, i.LinkedAt, i.UpdatedAt = fromMillis(expires), fromMillis(linked), fromMillis(updated)
	return i, nil
}

// uncancelled drops ctx's cancellation for the hot indexed reads (one identity, one user's
// identities, a link by its hash). database/sql starts a goroutine per query to watch a
// cancellable context and the driver registers an interrupt for it; for a read that takes
// microseconds from the page cache that costs more than it could ever save. Slow queries
// (admin lists, writes) keep their context.
func uncancelled(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
