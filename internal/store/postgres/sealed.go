package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// SealedBatch returns the sealed values of up to limit identities with IDs above afterID,
// in ID order (a range scan of the primary key).
func (s *Store) SealedBatch(ctx context.Context, afterID int64, limit int) ([]store.SealedValues, error) {
	if limit < 1 {
		return nil, fmt.Errorf("postgres: sealed values after %d: limit %d must be positive", afterID, limit)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, bot, channel, user_id, provider, provider_user_id,
		access_token, access_token_secret, refresh_token FROM identities WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: sealed values after %d: %w", afterID, err)
	}
	out, err := collect(rows, func(r rowScanner) (store.SealedValues, error) {
		var v store.SealedValues
		err := r.Scan(&v.IdentityID, &v.Bot, &v.Channel, &v.User, &v.Provider, &v.ProviderUserID,
			&v.AccessToken, &v.AccessTokenSecret, &v.RefreshToken)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: sealed values after %d: %w", afterID, err)
	}
	return out, nil
}

// ReplaceSealed swaps an identity's sealed fields if they still hold old's values: a
// compare-and-swap in one UPDATE, so a refresh committed on another instance between the read
// and this write wins. IS NOT DISTINCT FROM compares NULL with NULL as equal, which a field
// the provider never issued needs. updated_at is left alone: re-encryption changes nothing a
// user or bot can see.
func (s *Store) ReplaceSealed(ctx context.Context, old, resealed store.SealedValues) error {
	if old.IdentityID != resealed.IdentityID {
		return fmt.Errorf("postgres: replace sealed values of identity %d with those of %d", old.IdentityID, resealed.IdentityID)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE identities SET access_token = $1, access_token_secret = $2, refresh_token = $3
		WHERE id = $4 AND access_token IS NOT DISTINCT FROM $5 AND access_token_secret IS NOT DISTINCT FROM $6
		  AND refresh_token IS NOT DISTINCT FROM $7`,
		resealed.AccessToken, resealed.AccessTokenSecret, resealed.RefreshToken,
		old.IdentityID, old.AccessToken, old.AccessTokenSecret, old.RefreshToken)
	if err == nil && tag.RowsAffected() == 0 {
		var one int
		err = s.pool.QueryRow(ctx, `SELECT 1 FROM identities WHERE id = $1`, old.IdentityID).Scan(&one)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			err = store.ErrNotFound
		case err == nil:
			err = store.ErrConflict
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: replace sealed values of identity %d: %w", old.IdentityID, err)
	}
	return nil
}
