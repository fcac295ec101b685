package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

var sealedTests = []test{
	{"SealedBatch walks every identity in ID order with its AAD parts", func(t *testing.T, s store.Store) {
		var ids []store.Identity
		for i := range 5 {
			in := account("github", fmt.Sprint(i))
			if i == 2 {
				in.RefreshToken = nil // a provider that issued none
				in.AccessTokenSecret = []byte("sealed-secret")
			}
			got, _ := linkAccount(t, s, in, t0)
			ids = append(ids, got)
		}
		var seen []store.SealedValues
		after := int64(0)
		for {
			batch, err := s.SealedBatch(t.Context(), after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) == 0 {
				break
			}
			if len(batch) > 2 {
				t.Fatalf("batch of %d, limit 2", len(batch))
			}
			seen = append(seen, batch...)
			after = batch[len(batch)-1].IdentityID
		}
		if len(seen) != len(ids) {
			t.Fatalf("walked %d identities, want %d", len(seen), len(ids))
		}
		for i, v := range seen {
			in := ids[i]
			if v.IdentityID != in.ID || v.Bot != in.Bot || v.Channel != in.Channel || v.User != in.User || v.Provider != in.Provider ||
				v.ProviderUserID != in.ProviderUserID || !sealedEqual(v.AccessToken, in.AccessToken) ||
				!sealedEqual(v.AccessTokenSecret, in.AccessTokenSecret) || !sealedEqual(v.RefreshToken, in.RefreshToken) {
				t.Errorf("values %d = %+v, identity %+v", i, v, in)
			}
		}
		if _, err := s.SealedBatch(t.Context(), 0, 0); err == nil {
			t.Error("limit 0 accepted")
		}
	}},
	{"ReplaceSealed swaps only values that did not change since they were read", func(t *testing.T, s store.Store) {
		in := account("gitlab", "1")
		in.RefreshToken = nil
		got, _ := linkAccount(t, s, in, t0)
		batch, err := s.SealedBatch(t.Context(), 0, 10)
		if err != nil || len(batch) != 1 {
			t.Fatalf("SealedBatch: %+v, %v", batch, err)
		}
		old := batch[0]
		next := old
		next.AccessToken = []byte("resealed-access")
		if err := s.ReplaceSealed(t.Context(), old, next); err != nil {
			t.Fatal(err)
		}
		after := getIdentity(t, s, got.ID)
		if string(after.AccessToken) != "resealed-access" || after.RefreshToken != nil || !after.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("after ReplaceSealed: %+v", after)
		}
		// old is stale now, as after a refresh: the swap must be refused.
		wantErr(t, "stale ReplaceSealed", s.ReplaceSealed(t.Context(), old, next), store.ErrConflict)

		// A refresh between read and write wins.
		acquire(t, s, got.ID, "h", t0)
		if _, err := s.StoreRefreshed(t.Context(), refreshed(got.ID, "h", t0.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		stale := next
		stale.AccessToken = []byte("resealed-again")
		wantErr(t, "ReplaceSealed after a refresh", s.ReplaceSealed(t.Context(), next, stale), store.ErrConflict)
		if cur := getIdentity(t, s, got.ID); string(cur.AccessToken) != "sealed-access-2" || string(cur.RefreshToken) != "sealed-refresh-2" {
			t.Errorf("ReplaceSealed overwrote the refreshed tokens: %q, %q", cur.AccessToken, cur.RefreshToken)
		}
		if err := s.DeleteIdentity(t.Context(), bot, got.ID, store.Event{At: t0}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "ReplaceSealed of a deleted identity", s.ReplaceSealed(t.Context(), next, stale), store.ErrNotFound)
	}},
	{"ReplaceSealed compares every sealed field it writes", func(t *testing.T, s store.Store) {
		// Each field alone changes between the read and the write, NULL to a value too; each
		// time the write must be refused and leave the change in place.
		for i, change := range []struct {
			name string
			set  func(v *store.SealedValues)
		}{
			{"access_token", func(v *store.SealedValues) { v.AccessToken = []byte("changed-access") }},
			{"access_token_secret", func(v *store.SealedValues) { v.AccessTokenSecret = []byte("changed-secret") }}, // was NULL
			{"refresh_token", func(v *store.SealedValues) { v.RefreshToken = []byte("changed-refresh") }},
			{"refresh_token to NULL", func(v *store.SealedValues) { v.RefreshToken = nil }},
		} {
			t.Run(change.name, func(t *testing.T) {
				in, _ := linkAccount(t, s, account("gitlab", fmt.Sprint(i)), t0)
				batch, err := s.SealedBatch(t.Context(), in.ID-1, 1)
				if err != nil || len(batch) != 1 || batch[0].IdentityID != in.ID || batch[0].AccessTokenSecret != nil {
					t.Fatalf("SealedBatch: %+v, %v", batch, err)
				}
				read := batch[0]
				meanwhile := read
				change.set(&meanwhile)
				if err := s.ReplaceSealed(t.Context(), read, meanwhile); err != nil {
					t.Fatal(err)
				}
				before := getIdentity(t, s, in.ID)
				resealed := read
				resealed.AccessToken, resealed.AccessTokenSecret, resealed.RefreshToken = []byte("re-a"), []byte("re-s"), []byte("re-r")
				wantErr(t, "ReplaceSealed over a changed "+change.name, s.ReplaceSealed(t.Context(), read, resealed), store.ErrConflict)
				checkIdentity(t, getIdentity(t, s, in.ID), before)
			})
		}
	}},
}
