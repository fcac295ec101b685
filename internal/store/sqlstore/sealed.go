package sqlstore

import (
	"context"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// SealedBatch returns the sealed values of up to limit identities with IDs above afterID, in
// ID order, through the read connections: key rotation walks the store while the broker
// serves.
func (r *Rules) SealedBatch(ctx context.Context, afterID int64, limit int) ([]store.SealedValues, error) {
	if limit < 1 {
		return nil, r.errorf("sealed values after %d: limit %d must be positive", afterID, limit)
	}
	rows, err := r.db.Reader().Query(ctx, r.sql.SealedBatch, afterID, limit)
	var out []store.SealedValues
	if err == nil {
		out, err = Collect(rows, func(row Row) (store.SealedValues, error) {
			var v store.SealedValues
			err := row.Scan(&v.IdentityID, &v.Bot, &v.Channel, &v.User, &v.Provider, &v.ProviderUserID,
				&v.AccessToken, &v.AccessTokenSecret, &v.RefreshToken)
			return v, err
		})
	}
	if err != nil {
		return nil, r.errorf("sealed values after %d: %w", afterID, err)
	}
	return out, nil
}

// ReplaceSealed swaps an identity's sealed fields if they still hold old's values: a
// compare-and-swap in one statement, so a refresh committed between the read and this write
// wins (store.ErrConflict). updated_at is left alone: re-encryption changes nothing a user
// or bot can see.
func (r *Rules) ReplaceSealed(ctx context.Context, old, resealed store.SealedValues) error {
	if old.IdentityID != resealed.IdentityID {
		return r.errorf("replace sealed values of identity %d with those of %d", old.IdentityID, resealed.IdentityID)
	}
	w := r.db.Writer()
	n, err := w.Exec(ctx, r.sql.ReplaceSealed, resealed.AccessToken, resealed.AccessTokenSecret, resealed.RefreshToken,
		old.IdentityID, old.AccessToken, old.AccessTokenSecret, old.RefreshToken)
	if err == nil && n == 0 {
		err = refusal(w.QueryRow(ctx, r.sql.IdentityExists, old.IdentityID), store.ErrConflict)
	}
	if err != nil {
		return r.errorf("replace sealed values of identity %d: %w", old.IdentityID, err)
	}
	return nil
}
