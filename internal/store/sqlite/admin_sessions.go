package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// CreateAdminSession stores an operator's session and, in the same transaction, deletes
// every session that has expired by its creation time: logins are rare, so this keeps the
// table small without a background job.
func (s *Store) CreateAdminSession(ctx context.Context, as store.AdminSession) error {
	switch {
	case len(as.TokenHash) == 0:
		return errors.New("sqlite: create admin session: empty token hash")
	case as.CreatedAt.IsZero() || as.ExpiresAt.IsZero():
		return errors.New("sqlite: create admin session: created or expiry time is the zero time")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE expires_at <= ?`, millis(as.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO admin_sessions (token_hash, credential, created_at, expires_at)
			VALUES (?, ?, ?, ?)`, as.TokenHash, nonNil(as.Credential), millis(as.CreatedAt), millis(as.ExpiresAt))
		return constraint(err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create admin session: %w", err)
	}
	return nil
}

// AdminSession returns the session with this token hash, expired or not.
func (s *Store) AdminSession(ctx context.Context, tokenHash []byte) (store.AdminSession, error) {
	var (
		as               store.AdminSession
		created, expires sql.NullInt64
	)
	err := s.reader.QueryRowContext(ctx, `SELECT token_hash, credential, created_at, expires_at
		FROM admin_sessions WHERE token_hash = ?`, tokenHash).Scan(&as.TokenHash, &as.Credential, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AdminSession{}, fmt.Errorf("sqlite: admin session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AdminSession{}, fmt.Errorf("sqlite: admin session: %w", err)
	}
	as.CreatedAt, as.ExpiresAt = fromMillis(created), fromMillis(expires)
	return as, nil
}

// DeleteAdminSession ends a session; ending one that does not exist is not an error, so a
// double logout is harmless.
func (s *Store) DeleteAdminSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM admin_sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("sqlite: delete admin session: %w", err)
	}
	return nil
}

// nonNil stores an empty credential as an empty blob: the column is NOT NULL, and a nil
// []byte would be sent as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
