package sqlstore

import (
	"context"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// IdentityTotals returns the number of identities per bot, provider and status, from the
// counts the backend's triggers keep in step with identities inside every writing
// transaction: a handful of rows, where counting would read a million.
func (r *Rules) IdentityTotals(ctx context.Context) ([]store.IdentityTotal, error) {
	rows, err := r.db.Reader().Query(ctx, r.sql.IdentityTotals)
	var out []store.IdentityTotal
	if err == nil {
		out, err = Collect(rows, func(row Row) (store.IdentityTotal, error) {
			var t store.IdentityTotal
			err := row.Scan(&t.Bot, &t.Provider, &t.Status, &t.Count)
			return t, err
		})
	}
	if err != nil {
		return nil, r.errorf("identity totals: %w", err)
	}
	return out, nil
}

// CreateAdminSession stores an operator's session and, in the same transaction, deletes
// every session that has expired by its creation time: logins are rare, so this keeps the
// table small without a background job.
func (r *Rules) CreateAdminSession(ctx context.Context, as store.AdminSession) error {
	switch {
	case len(as.TokenHash) == 0:
		return r.errorf("create admin session: empty token hash")
	case as.CreatedAt.IsZero() || as.ExpiresAt.IsZero():
		return r.errorf("create admin session: created or expiry time is the zero time")
	}
	err := r.db.InTx(ctx, func(tx Conn) error {
		if _, err := tx.Exec(ctx, r.sql.DeleteExpiredAdminSessions, r.codec.Time(as.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, r.sql.InsertAdminSession, as.TokenHash, nonNil(as.Credential), r.codec.Time(as.CreatedAt), r.codec.Time(as.ExpiresAt))
		return r.codec.Constraint(err)
	})
	if err != nil {
		return r.errorf("create admin session: %w", err)
	}
	return nil
}

// AdminSession returns the session with this token hash, expired or not.
func (r *Rules) AdminSession(ctx context.Context, tokenHash []byte) (store.AdminSession, error) {
	var as store.AdminSession
	created, expires := r.codec.NullTime(), r.codec.NullTime()
	err := r.db.Reader().QueryRow(ctx, r.sql.AdminSession, tokenHash).Scan(&as.TokenHash, &as.Credential, created, expires)
	if noRows(err) {
		return store.AdminSession{}, r.errorf("admin session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AdminSession{}, r.errorf("admin session: %w", err)
	}
	as.CreatedAt, as.ExpiresAt = created.Time(), expires.Time()
	return as, nil
}

// DeleteAdminSession ends a session; ending one that does not exist is not an error, so a
// double logout is harmless.
func (r *Rules) DeleteAdminSession(ctx context.Context, tokenHash []byte) error {
	if _, err := r.db.Writer().Exec(ctx, r.sql.DeleteAdminSession, tokenHash); err != nil {
		return r.errorf("delete admin session: %w", err)
	}
	return nil
}
