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

const linkColumns = `id, token_hash, bot, provider, channel, user_id, scopes, redirect_url,
	created_at, expires_at, used_at`

// CreateLink inserts a link and returns it with its ID and its times as stored. A token hash
// that already exists is store.ErrConflict.
func (s *Store) CreateLink(ctx context.Context, l store.Link) (store.Link, error) {
	err := s.pool.QueryRow(ctx, `INSERT INTO links
		(token_hash, bot, provider, channel, user_id, scopes, redirect_url, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		l.TokenHash, l.Bot, l.Provider, l.Channel, l.User, scopesArray(l.Scopes), l.RedirectURL,
		ts(l.CreatedAt), ts(l.ExpiresAt), ts(l.UsedAt),
	).Scan(&l.ID)
	if err != nil {
		return store.Link{}, fmt.Errorf("postgres: create link: %w", constraint(err))
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = normalTime(l.CreatedAt), normalTime(l.ExpiresAt), normalTime(l.UsedAt)
	return l, nil
}

// LinkByTokenHash returns the link with this token hash, used or not, expired or not.
func (s *Store) LinkByTokenHash(ctx context.Context, tokenHash []byte) (store.Link, error) {
	l, err := scanLink(s.pool.QueryRow(ctx, `SELECT `+linkColumns+` FROM links WHERE token_hash = $1`, tokenHash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Link{}, fmt.Errorf("postgres: link by token hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("postgres: link by token hash: %w", err)
	}
	return l, nil
}

func scanLink(row rowScanner) (store.Link, error) {
	var (
		l                        store.Link
		scopes                   []string
		created, expires, usedAt pgtype.Timestamptz
	)
	err := row.Scan(&l.ID, &l.TokenHash, &l.Bot, &l.Provider, &l.Channel, &l.User, &scopes,
		&l.RedirectURL, &created, &expires, &usedAt)
	if err != nil {
		return store.Link{}, err
	}
	l.Scopes = scopesOf(scopes)
	l.CreatedAt, l.ExpiresAt, l.UsedAt = fromTS(created), fromTS(expires), fromTS(usedAt)
	return l, nil
}

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
	link, err := scanLink(s.pool.QueryRow(ctx, `WITH consumed AS (
			UPDATE flows SET consumed_at = $1
			WHERE state_hash = $2 AND consumed_at IS NULL AND expires_at > $1
			RETURNING link_id)
		SELECT `+linkColumns+` FROM links WHERE id = (SELECT link_id FROM consumed)`, ts(now), stateHash))
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

// CountOpenFlows counts the chat user's flows that are neither consumed nor expired at now,
// through the user's links (links_user) and their flows (flows_link_id).
func (s *Store) CountOpenFlows(ctx context.Context, bot, channel, user string, now time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM links l JOIN flows f ON f.link_id = l.id
		WHERE l.bot = $1 AND l.channel = $2 AND l.user_id = $3 AND f.consumed_at IS NULL AND f.expires_at > $4`,
		bot, channel, user, ts(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count open flows of %s/%s: %w", bot, channel, err)
	}
	return n, nil
}
