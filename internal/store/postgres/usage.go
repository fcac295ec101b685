package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// RecordProxyCall counts one proxied call; see store.UsageStore. One statement: the SELECT
// from identities scopes the write to the bot's own identity, and the upsert keeps the latest
// call's time and status when calls finish out of order. Concurrent calls of one identity
// queue on its usage row, so no count is lost. A call racing an unlink on another instance
// either finds no identity or fails the foreign key once the delete commits: both are
// store.ErrNotFound, and the call counts nowhere.
func (s *Store) RecordProxyCall(ctx context.Context, c store.ProxyCall) error {
	if c.At.IsZero() {
		return fmt.Errorf("postgres: record proxy call of identity %d: the time is the zero time", c.IdentityID)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO proxy_usage AS u (identity_id, calls, last_used_at, last_status)
		SELECT id, 1, $1, $2 FROM identities WHERE id = $3 AND bot = $4
		ON CONFLICT (identity_id) DO UPDATE SET calls = u.calls + 1,
			last_status = CASE WHEN excluded.last_used_at >= u.last_used_at THEN excluded.last_status ELSE u.last_status END,
			last_used_at = greatest(u.last_used_at, excluded.last_used_at)`,
		ts(c.At), c.Status, c.IdentityID, c.Bot)
	switch {
	case isForeignKey(err), err == nil && tag.RowsAffected() == 0:
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: record proxy call of identity %d: %w", c.IdentityID, err)
	}
	return nil
}

// ProxyUsage reads an identity's usage; the zero ProxyUsage when there is none.
func (s *Store) ProxyUsage(ctx context.Context, bot string, identityID int64) (store.ProxyUsage, error) {
	var (
		u    store.ProxyUsage
		last pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, `SELECT u.calls, u.last_used_at, u.last_status
		FROM proxy_usage u JOIN identities i ON i.id = u.identity_id
		WHERE u.identity_id = $1 AND i.bot = $2`, identityID, bot).Scan(&u.Calls, &last, &u.LastStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ProxyUsage{}, nil
	}
	if err != nil {
		return store.ProxyUsage{}, fmt.Errorf("postgres: proxy usage of identity %d: %w", identityID, err)
	}
	u.LastUsedAt = fromTS(last)
	return u, nil
}
