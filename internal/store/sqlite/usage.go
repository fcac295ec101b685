package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// RecordProxyCall counts one proxied call; see store.UsageStore. One statement: the SELECT
// from identities scopes the write to the bot's own identity (nothing is inserted for an
// identity of another bot, or one unlinked meanwhile), and the upsert keeps the latest call's
// time and status when calls finish out of order.
func (s *Store) RecordProxyCall(ctx context.Context, c store.ProxyCall) error {
	if c.At.IsZero() {
		return fmt.Errorf("sqlite: record proxy call of identity %d: the time is the zero time", c.IdentityID)
	}
	res, err := s.writer.ExecContext(ctx, `INSERT INTO proxy_usage (identity_id, calls, last_used_at, last_status)
		SELECT id, 1, ?, ? FROM identities WHERE id = ? AND bot = ?
		ON CONFLICT (identity_id) DO UPDATE SET calls = calls + 1,
			last_status = CASE WHEN excluded.last_used_at >= last_used_at THEN excluded.last_status ELSE last_status END,
			last_used_at = max(last_used_at, excluded.last_used_at)`,
		millis(c.At), c.Status, c.IdentityID, c.Bot)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: record proxy call of identity %d: %w", c.IdentityID, err)
	}
	return nil
}

// ProxyUsage reads an identity's usage through the read pool.
func (s *Store) ProxyUsage(ctx context.Context, bot string, identityID int64) (store.ProxyUsage, error) {
	var (
		u    store.ProxyUsage
		last sql.NullInt64
	)
	err := s.reader.QueryRowContext(ctx, `SELECT u.calls, u.last_used_at, u.last_status
		FROM proxy_usage u JOIN identities i ON i.id = u.identity_id
		WHERE u.identity_id = ? AND i.bot = ?`, identityID, bot).Scan(&u.Calls, &last, &u.LastStatus)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ProxyUsage{}, nil
	}
	if err != nil {
		return store.ProxyUsage{}, fmt.Errorf("sqlite: proxy usage of identity %d: %w", identityID, err)
	}
	u.LastUsedAt = fromMillis(last)
	return u, nil
}
