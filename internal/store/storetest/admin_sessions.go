package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Operators' sessions (store.AdminStore).

func adminSession(token string, created time.Time, ttl time.Duration) store.AdminSession {
	return store.AdminSession{
		TokenHash: hash("session:" + token), Credential: hash("credential"),
		CreatedAt: created, ExpiresAt: created.Add(ttl),
	}
}

func createSession(t testing.TB, a store.AdminStore, as store.AdminSession) {
	t.Helper()
	if err := a.CreateAdminSession(t.Context(), as); err != nil {
		t.Fatalf("CreateAdminSession: %v", err)
	}
}

var adminSessionTests = []test{
	adminTest("a session reads back as stored, expired or not, until it is deleted", func(t *testing.T, s store.Store, a store.AdminStore) {
		as := adminSession("a", t0, time.Hour)
		createSession(t, a, as)
		got, err := a.AdminSession(t.Context(), as.TokenHash)
		if err != nil {
			t.Fatalf("AdminSession: %v", err)
		}
		if !bytes.Equal(got.TokenHash, as.TokenHash) || !bytes.Equal(got.Credential, as.Credential) ||
			!got.CreatedAt.Equal(as.CreatedAt) || !got.ExpiresAt.Equal(as.ExpiresAt) {
			t.Errorf("session %+v, want %+v", got, as)
		}
		if err := a.DeleteAdminSession(t.Context(), as.TokenHash); err != nil {
			t.Fatalf("DeleteAdminSession: %v", err)
		}
		_, err = a.AdminSession(t.Context(), as.TokenHash)
		wantErr(t, "AdminSession after delete", err, store.ErrNotFound)
		if err := a.DeleteAdminSession(t.Context(), as.TokenHash); err != nil {
			t.Errorf("deleting a deleted session: %v", err)
		}
		_, err = a.AdminSession(t.Context(), hash("never"))
		wantErr(t, "AdminSession of an unknown token", err, store.ErrNotFound)
	}),
	adminTest("creating a session deletes the expired ones and keeps the live ones", func(t *testing.T, s store.Store, a store.AdminStore) {
		old := adminSession("old", t0, time.Hour)
		live := adminSession("live", t0, 3*time.Hour)
		createSession(t, a, old)
		createSession(t, a, live)
		if _, err := a.AdminSession(t.Context(), old.TokenHash); err != nil {
			t.Fatalf("an expired session must read back until a login cleans it up: %v", err)
		}
		createSession(t, a, adminSession("new", t0.Add(time.Hour), time.Hour)) // old expires exactly now
		_, err := a.AdminSession(t.Context(), old.TokenHash)
		wantErr(t, "the expired session", err, store.ErrNotFound)
		if _, err := a.AdminSession(t.Context(), live.TokenHash); err != nil {
			t.Errorf("the live session: %v", err)
		}
	}),
	adminTest("a token hash is one session", func(t *testing.T, s store.Store, a store.AdminStore) {
		createSession(t, a, adminSession("a", t0, time.Hour))
		err := a.CreateAdminSession(t.Context(), adminSession("a", t0, 2*time.Hour))
		wantErr(t, "a second session with the same token", err, store.ErrConflict)
	}),
}
