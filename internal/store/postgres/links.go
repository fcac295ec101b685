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

// CreateLink inserts a link and its providers and returns it with its ID and its times as
// stored. A token hash that already exists, or a provider listed twice, is store.ErrConflict.
func (s *Store) CreateLink(ctx context.Context, l store.Link) (store.Link, error) {
	if len(l.Providers) == 0 {
		return store.Link{}, errors.New("postgres: create link: a link needs at least one provider")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO links
			(token_hash, bot, channel, user_id, user_label, redirect_url, created_at, expires_at, used_at, cancelled_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			l.TokenHash, l.Bot, l.Channel, l.User, l.UserLabel, l.RedirectURL,
			ts(l.CreatedAt), ts(l.ExpiresAt), ts(l.UsedAt), ts(l.CancelledAt),
		).Scan(&l.ID)
		if err != nil {
			return constraint(err)
		}
		for i, p := range l.Providers {
			_, err := tx.Exec(ctx, `INSERT INTO link_providers (link_id, position, provider, scopes, identity_id, linked_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, l.ID, i, p.Provider, scopesArray(p.Scopes), nullID(p.IdentityID), ts(p.LinkedAt))
			if err != nil {
				return constraint(err)
			}
		}
		return nil
	})
	if err != nil {
		return store.Link{}, fmt.Errorf("postgres: create link: %w", err)
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

// CancelLink spends a link that is not spent yet; see store.Store. The conditional UPDATE
// takes the link's row lock, so a completion of the same link waits and then finds it spent.
func (s *Store) CancelLink(ctx context.Context, linkID int64, now time.Time) error {
	if now.IsZero() {
		return errors.New("postgres: cancel link: now is the zero time")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE links SET used_at = $1, cancelled_at = $1 WHERE id = $2 AND used_at IS NULL`, ts(now), linkID)
	if err == nil && tag.RowsAffected() == 0 {
		var one int
		err = s.pool.QueryRow(ctx, `SELECT 1 FROM links WHERE id = $1`, linkID).Scan(&one)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			err = store.ErrNotFound
		case err == nil:
			err = store.ErrLinkUsed
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: cancel link %d: %w", linkID, err)
	}
	return nil
}

// nullID stores an id of 0 ("none") as NULL.
func nullID(id int64) pgtype.Int8 { return pgtype.Int8{Int64: id, Valid: id != 0} }

// CreateFlow records a started flow. A state hash that exists already is store.ErrConflict;
// a flow for a link that does not exist is store.ErrNotFound.
func (s *Store) CreateFlow(ctx context.Context, f store.Flow) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO flows (state_hash, link_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4)`, f.StateHash, f.LinkID, ts(f.CreatedAt), ts(f.ExpiresAt))
	if isForeignKey(err) {
		return fmt.Errorf("postgres: create flow for link %d: link %w", f.LinkID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: create flow for link %d: %w", f.LinkID, constraint(err))
	}
	return nil
}

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
		err = s.whyNotConsumed(ctx, stateHash)
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("postgres: consume flow: %w", err)
	}
	return link, nil
}

// whyNotConsumed tells an unknown flow from a consumed or an expired one. A flow that is both
// consumed and expired reports consumed: it was used. consumed_at is never cleared, so this
// later read cannot contradict the UPDATE that found nothing to do.
func (s *Store) whyNotConsumed(ctx context.Context, stateHash []byte) error {
	var consumed pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT consumed_at FROM flows WHERE state_hash = $1`, stateHash).Scan(&consumed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	case consumed.Valid:
		return store.ErrFlowConsumed
	default:
		return store.ErrExpired
	}
}

// CountOpenFlows counts the link's flows that are neither consumed nor expired at now, by
// flows_link_id.
func (s *Store) CountOpenFlows(ctx context.Context, linkID int64, now time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM flows WHERE link_id = $1 AND consumed_at IS NULL AND expires_at > $2`,
		linkID, ts(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count open flows of link %d: %w", linkID, err)
	}
	return n, nil
}
