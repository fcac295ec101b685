package sqlstore

import (
	"context"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// RecordProxyCall counts one proxied call; see store.UsageStore. One statement: it scopes the
// write to the bot's own identity (nothing is counted for an identity of another bot, or one
// unlinked meanwhile), and keeps the latest call's time and status when calls finish out of
// order. A call racing an unlink either finds no identity or fails the foreign key once the
// delete commits: both are store.ErrNotFound, and the call counts nowhere.
func (r *Rules) RecordProxyCall(ctx context.Context, c store.ProxyCall) error {
	if c.At.IsZero() {
		return r.errorf("record proxy call of identity %d: the time is the zero time", c.IdentityID)
	}
	n, err := r.db.Writer().Exec(ctx, r.sql.RecordProxyCall, r.codec.Time(c.At), c.Status, c.IdentityID, c.Bot)
	if r.codec.IsForeignKey(err) || err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return r.errorf("record proxy call of identity %d: %w", c.IdentityID, err)
	}
	return nil
}

// ProxyUsage reads an identity's usage; the zero ProxyUsage when there is none.
func (r *Rules) ProxyUsage(ctx context.Context, bot string, identityID int64) (store.ProxyUsage, error) {
	var u store.ProxyUsage
	last := r.codec.NullTime()
	err := r.db.Reader().QueryRow(ctx, r.sql.ProxyUsage, identityID, bot).Scan(&u.Calls, last, &u.LastStatus)
	if noRows(err) {
		return store.ProxyUsage{}, nil
	}
	if err != nil {
		return store.ProxyUsage{}, r.errorf("proxy usage of identity %d: %w", identityID, err)
	}
	u.LastUsedAt = last.Time()
	return u, nil
}
