package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// SealedBatch returns the sealed values of up to limit identities with IDs above afterID.
// It reads through the pool: key rotation walks the store while the broker serves.
func (s *Store) SealedBatch(ctx context.Context, afterID int64, limit int) ([]store.SealedValues, error) {
	if limit < 1 {
		return nil, fmt.Errorf("sqlite: sealed values after %d: limit %d must be positive", afterID, limit)
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT id, bot, channel, user_id, provider, provider_user_id,
		access_token, access_token_secret, refresh_token FROM identities WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sealed values after %d: %w", afterID, err)
	}
	defer rows.Close()
	out := []store.SealedValues{}
	for rows.Next() {
		var v store.SealedValues
		if err := rows.Scan(&v.IdentityID, &v.Bot, &v.Channel, &v.User, &v.Provider, &v.ProviderUserID,
			&v.AccessToken, &v.AccessTokenSecret, &v.RefreshToken); err != nil {
			return nil, fmt.Errorf("sqlite: sealed values after %d: %w", afterID, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: sealed values after %d: %w", afterID, err)
	}
	return out, nil
}

// ReplaceSealed swaps an identity's sealed fields if they still hold old's values. `IS`
// compares NULL with NULL as equal, which a field the provider never issued needs.
// updated_at is left alone: re-encryption changes nothing a user or bot can see.
func (s *Store) ReplaceSealed(ctx context.Context, old, resealed store.SealedValues) error {
	if old.IdentityID != resealed.IdentityID {
		return fmt.Errorf("sqlite: replace sealed values of identity %d with those of %d", old.IdentityID, resealed.IdentityID)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE identities SET access_token = ?, access_token_secret = ?, refresh_token = ?
			WHERE id = ? AND access_token IS ? AND access_token_secret IS ? AND refresh_token IS ?`,
			resealed.AccessToken, resealed.AccessTokenSecret, resealed.RefreshToken,
			old.IdentityID, old.AccessToken, old.AccessTokenSecret, old.RefreshToken)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var exists int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM identities WHERE id = ?`, old.IdentityID).Scan(&exists)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return store.ErrConflict
	})
	if err != nil {
		return fmt.Errorf("sqlite: replace sealed values of identity %d: %w", old.IdentityID, err)
	}
	return nil
}
