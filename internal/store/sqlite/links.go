package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

const selectLink = `SELECT id, token_hash, bot, provider, channel, user_id, scopes, redirect_url,
	created_at, expires_at, used_at FROM links`

// CreateLink inserts a link and returns it with its ID and its times as stored. A token hash
// that already exists is store.ErrConflict.
func (s *Store) CreateLink(ctx context.Context, l store.Link) (store.Link, error) {
	scopes, err := scopesJSON(l.Scopes)
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: create link: %w", err)
	}
	err = s.writer.QueryRowContext(ctx, `INSERT INTO links
		(token_hash, bot, provider, channel, user_id, scopes, redirect_url, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		l.TokenHash, l.Bot, l.Provider, l.Channel, l.User, scopes, l.RedirectURL,
		millis(l.CreatedAt), millis(l.ExpiresAt), millis(l.UsedAt),
	).Scan(&l.ID)
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: create link: %w", constraint(err))
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = normalTime(l.CreatedAt), normalTime(l.ExpiresAt), normalTime(l.UsedAt)
	return l, nil
}

// LinkByTokenHash returns the link with this token hash, used or not, expired or not.
func (s *Store) LinkByTokenHash(ctx context.Context, tokenHash []byte) (store.Link, error) {
	l, err := scanLink(s.linkByTokenHash.QueryRowContext(uncancelled(ctx), tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Link{}, fmt.Errorf("sqlite: link by token hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: link by token hash: %w", err)
	}
	return l, nil
}

// linkByID reads a link inside a write transaction.
func linkByID(ctx context.Context, tx *sql.Tx, id int64) (store.Link, error) {
	return scanLink(tx.QueryRowContext(ctx, selectLink+` WHERE id = ?`, id))
}

func scanLink(row rowScanner) (store.Link, error) {
	var (
		l                        store.Link
		scopes                   string
		created, expires, usedAt sql.NullInt64
	)
	err := row.Scan(&l.ID, &l.TokenHash, &l.Bot, &l.Provider, &l.Channel, &l.User, &scopes,
		&l.RedirectURL, &created, &expires, &usedAt)
	if err != nil {
		return store.Link{}, err
	}
	if l.Scopes, err = parseScopes(scopes); err != nil {
		return store.Link{}, fmt.Errorf("link %d: %w", l.ID, err)
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = fromMillis(created), fromMillis(expires), fromMillis(usedAt)
	return l, nil
}
