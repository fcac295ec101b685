package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// selectLink reads a link with its providers, one row per provider; callers add the WHERE on
// links (l) and selectLinkOrder.
const selectLink = `SELECT l.id, l.token_hash, l.bot, l.channel, l.user_id, l.user_label, l.redirect_url,
	l.created_at, l.expires_at, l.used_at, l.cancelled_at, p.provider, p.scopes, p.identity_id, p.linked_at
	FROM links l JOIN link_providers p ON p.link_id = l.id`

const selectLinkOrder = ` ORDER BY p.position`

// CreateLink inserts a link and its providers and returns it with its ID and its times as
// stored. A token hash that already exists, or a provider listed twice, is store.ErrConflict.
func (s *Store) CreateLink(ctx context.Context, l store.Link) (store.Link, error) {
	if len(l.Providers) == 0 {
		return store.Link{}, errors.New("sqlite: create link: a link needs at least one provider")
	}
	scopes := make([]string, len(l.Providers))
	for i, p := range l.Providers {
		var err error
		if scopes[i], err = scopesJSON(p.Scopes); err != nil {
			return store.Link{}, fmt.Errorf("sqlite: create link: %w", err)
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO links
			(token_hash, bot, channel, user_id, user_label, redirect_url, created_at, expires_at, used_at, cancelled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			l.TokenHash, l.Bot, l.Channel, l.User, l.UserLabel, l.RedirectURL,
			millis(l.CreatedAt), millis(l.ExpiresAt), millis(l.UsedAt), millis(l.CancelledAt),
		).Scan(&l.ID)
		if err != nil {
			return constraint(err)
		}
		for i, p := range l.Providers {
			_, err := tx.ExecContext(ctx, `INSERT INTO link_providers (link_id, position, provider, scopes, identity_id, linked_at)
				VALUES (?, ?, ?, ?, ?, ?)`, l.ID, i, p.Provider, scopes[i], nullID(p.IdentityID), millis(p.LinkedAt))
			if err != nil {
				return constraint(err)
			}
		}
		return nil
	})
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: create link: %w", err)
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt, l.CancelledAt = normalTime(l.CreatedAt), normalTime(l.ExpiresAt), normalTime(l.UsedAt), normalTime(l.CancelledAt)
	l.Providers = append([]store.LinkProvider(nil), l.Providers...)
	for i := range l.Providers {
		l.Providers[i].LinkedAt = normalTime(l.Providers[i].LinkedAt)
	}
	return l, nil
}

// LinkByTokenHash returns the link with this token hash, used or not, expired or not.
func (s *Store) LinkByTokenHash(ctx context.Context, tokenHash []byte) (store.Link, error) {
	rows, err := s.linkByTokenHash.QueryContext(uncancelled(ctx), tokenHash)
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: link by token hash: %w", err)
	}
	l, err := scanLink(rows)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Link{}, fmt.Errorf("sqlite: link by token hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: link by token hash: %w", err)
	}
	return l, nil
}

// linkByID reads a link inside a write transaction; sql.ErrNoRows when there is none.
func linkByID(ctx context.Context, tx *sql.Tx, id int64) (store.Link, error) {
	rows, err := tx.QueryContext(ctx, selectLink+` WHERE l.id = ?`+selectLinkOrder, id)
	if err != nil {
		return store.Link{}, err
	}
	return scanLink(rows)
}

// scanLink reads the rows of selectLink (one per provider) into one link and closes rows.
func scanLink(rows *sql.Rows) (store.Link, error) {
	defer rows.Close()
	var l store.Link
	for rows.Next() {
		var (
			p                                 store.LinkProvider
			scopes                            string
			identityID                        sql.NullInt64
			created, expires, used, cancelled sql.NullInt64
			linked                            sql.NullInt64
		)
		if err := rows.Scan(&l.ID, &l.TokenHash, &l.Bot, &l.Channel, &l.User, &l.UserLabel, &l.RedirectURL,
			&created, &expires, &used, &cancelled, &p.Provider, &scopes, &identityID, &linked); err != nil {
			return store.Link{}, err
		}
		var err error
		if p.Scopes, err = parseScopes(scopes); err != nil {
			return store.Link{}, fmt.Errorf("link %d: %w", l.ID, err)
		}
		p.IdentityID, p.LinkedAt = identityID.Int64, fromMillis(linked)
		l.CreatedAt, l.ExpiresAt, l.UsedAt, l.CancelledAt = fromMillis(created), fromMillis(expires), fromMillis(used), fromMillis(cancelled)
		l.Providers = append(l.Providers, p)
	}
	if err := rows.Err(); err != nil {
		return store.Link{}, err
	}
	if len(l.Providers) == 0 {
		return store.Link{}, sql.ErrNoRows
	}
	return l, nil
}

// CancelLink spends a link that is not spent yet; see store.Store.
func (s *Store) CancelLink(ctx context.Context, linkID int64, now time.Time) error {
	if now.IsZero() {
		return errors.New("sqlite: cancel link: now is the zero time")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE links SET used_at = ?, cancelled_at = ? WHERE id = ? AND used_at IS NULL`,
			millis(now), millis(now), linkID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var used sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT used_at FROM links WHERE id = ?`, linkID).Scan(&used)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return store.ErrLinkUsed
	})
	if err != nil {
		return fmt.Errorf("sqlite: cancel link %d: %w", linkID, err)
	}
	return nil
}

// nullID stores an id of 0 ("none") as NULL.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }
