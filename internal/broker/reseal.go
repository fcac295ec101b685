package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Key rotation lives here, beside tokenAAD, because re-encrypting a value needs the AAD that
// binds it to its identity and field. `oauthbroker keys rotate|retire|list` call these.

// ResealStats says what one Reseal pass did.
type ResealStats struct {
	Scanned    int            // identities read
	Resealed   int            // sealed values re-encrypted under the primary key
	Conflicts  int            // identities that changed under the pass (a refresh, a relink); retry
	Unreadable map[string]int // values that no key of the ring opens, by the key id they name
}

// Done reports whether the pass left nothing to do.
func (s ResealStats) Done() bool { return s.Resealed == 0 && s.Conflicts == 0 }

// tokenFields are the sealed fields of an identity, in the order SealedValues holds them.
var tokenFields = []string{"access_token", "access_token_secret", "refresh_token"}

func sealedFields(v *store.SealedValues) []*[]byte {
	return []*[]byte{&v.AccessToken, &v.AccessTokenSecret, &v.RefreshToken}
}

// Reseal re-encrypts every sealed value that is not under ring's primary key, walking the
// store in batches while brokers keep serving. Each identity is written back with a
// compare-and-swap, so a value a refresh replaced meanwhile is never overwritten with the
// stale one: it is counted as a conflict for the next pass instead. Values that no key opens
// are left as they are and counted, never replaced by anything.
func Reseal(ctx context.Context, st store.Store, ring *seal.KeyRing, batch int) (ResealStats, error) {
	stats := ResealStats{Unreadable: map[string]int{}}
	primary := ring.Primary()
	err := walkSealed(ctx, st, batch, func(v store.SealedValues) error {
		stats.Scanned++
		next, changed := v, 0
		owner := store.Identity{Bot: v.Bot, Channel: v.Channel, User: v.User, Provider: v.Provider, ProviderUserID: v.ProviderUserID}
		for i, field := range sealedFields(&next) {
			if len(*field) == 0 {
				continue
			}
			if kid, err := seal.KeyID(*field); err == nil && kid == primary {
				continue
			}
			aad := tokenAAD(owner, tokenFields[i])
			plain, err := ring.Open(*field, aad)
			if err != nil {
				kid, _ := seal.KeyID(*field)
				stats.Unreadable[kid]++
				continue
			}
			if *field, err = ring.Seal(plain, aad); err != nil {
				return err
			}
			changed++
		}
		if changed == 0 {
			return nil
		}
		switch err := st.ReplaceSealed(ctx, v, next); {
		case errors.Is(err, store.ErrConflict):
			stats.Conflicts++
		case errors.Is(err, store.ErrNotFound): // unlinked meanwhile: nothing left to protect
		case err != nil:
			return err
		default:
			stats.Resealed += changed
		}
		return nil
	})
	return stats, err
}

// CountByKey counts the sealed values in the store by the id of the key they are sealed
// under. A value too damaged to name a key is counted under "".
func CountByKey(ctx context.Context, st store.Store, batch int) (map[string]int, error) {
	counts := map[string]int{}
	err := walkSealed(ctx, st, batch, func(v store.SealedValues) error {
		for _, field := range sealedFields(&v) {
			if len(*field) > 0 {
				kid, _ := seal.KeyID(*field)
				counts[kid]++
			}
		}
		return nil
	})
	return counts, err
}

func walkSealed(ctx context.Context, st store.Store, batch int, fn func(store.SealedValues) error) error {
	if batch <= 0 {
		return fmt.Errorf("broker: batch size %d must be positive", batch)
	}
	after := int64(0)
	for {
		vs, err := st.SealedBatch(ctx, after, batch)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if err := fn(v); err != nil {
				return err
			}
		}
		if len(vs) < batch {
			return nil
		}
		after = vs[len(vs)-1].IdentityID
	}
}
