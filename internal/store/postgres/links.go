package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// selectLink reads a link with its providers, one row per provider; callers add the WHERE on
// links (l) and selectLinkOrder.
const selectLink = `SELECT l.id, l.token_hash, l.bot, l.channel, l.user_id, l.user_label, l.redirect_url,
	l.created_at, l.expires_at, l.used_at, l.cancelled_at, p.provider, p.scopes, p.identity_id, p.linked_at
	FROM links l JOIN link_providers p ON p.link_id = l.id`

const selectLinkOrder = ` ORDER BY p.position`

// LinkByTokenHash returns the link with this token hash, used or not, expired or not.
func (s *Store) LinkByTokenHash(ctx context.Context, tokenHash []byte) (store.Link, error) {
	rows, err := s.pool.Query(ctx, selectLink+` WHERE l.token_hash = $1`+selectLinkOrder, tokenHash)
	if err != nil {
		return store.Link{}, fmt.Errorf("postgres: link by token hash: %w", err)
	}
	l, err := scanLink(rows)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Link{}, fmt.Errorf("postgres: link by token hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("postgres: link by token hash: %w", err)
	}
	return l, nil
}

// scanLink reads the rows of selectLink (one per provider) into one link and closes rows;
// pgx.ErrNoRows when there are none.
func scanLink(rows pgx.Rows) (store.Link, error) {
	defer rows.Close()
	var l store.Link
	for rows.Next() {
		var (
			p                                 store.LinkProvider
			scopes                            []string
			identityID                        pgtype.Int8
			created, expires, used, cancelled pgtype.Timestamptz
			linked                            pgtype.Timestamptz
		)
		if err := rows.Scan(&l.ID, &l.TokenHash, &l.Bot, &l.Channel, &l.User, &l.UserLabel, &l.RedirectURL,
			&created, &expires, &used, &cancelled, &p.Provider, &scopes, &identityID, &linked); err != nil {
			return store.Link{}, err
		}
		p.Scopes, p.IdentityID, p.LinkedAt = scopesOf(scopes), identityID.Int64, fromTS(linked)
		l.CreatedAt, l.ExpiresAt, l.UsedAt, l.CancelledAt = fromTS(created), fromTS(expires), fromTS(used), fromTS(cancelled)
		l.Providers = append(l.Providers, p)
	}
	if err := rows.Err(); err != nil {
		return store.Link{}, err
	}
	if len(l.Providers) == 0 {
		return store.Link{}, pgx.ErrNoRows
	}
	return l, nil
}

// nullID stores an id of 0 ("none") as NULL.
func nullID(id int64) pgtype.Int8 { return pgtype.Int8{Int64: id, Valid: id != 0} }

// ConsumeFlow marks the flow consumed and returns its link, in one statement.
//
// Single use rests on the conditional UPDATE: of any number of callers on any number of
// instances, the first takes the row lock and sets consumed_at; every other one waits for
// that lock, re-checks "consumed_at IS NULL" on the committed row, and changes nothing. Only
// then does it ask why, so the answer cannot race with another consumer.
func (s *Store) ConsumeFlow(ctx context.Context, stateHash []byte, now time.Time) (store.Link, error) {
	if now.IsZero() {
		return store.Link{}, errors.New("postgres: consume flow: now is the zero time")
	}
	rows, err := s.pool.Query(ctx, `WITH consumed AS (
			UPDATE flows SET consumed_at = $1
			WHERE state_hash = $2 AND consumed_at IS NULL AND expires_at > $1
			RETURNING link_id)
		`+selectLink+` WHERE l.id = (SELECT link_id FROM consumed)`+selectLinkOrder, ts(now), stateHash)
	var link store.Link
	if err == nil {
		link, err = scanLink(rows)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.WhyNotConsumed(ctx, pgConn{s.pool}, stateHash)
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("postgres: consume flow: %w", err)
	}
	return link, nil
}
