package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// TestFilesAreOwnerOnly: under umask 022 (files 0644 by default) the database, its WAL and its
// shared-memory file are 0600 from their creation, and a database an older version left 0644
// is narrowed when opened. Not parallel: the umask belongs to the whole process.
func TestFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })

	check := func(t *testing.T, path string) {
		t.Helper()
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			info, err := os.Stat(name)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(name), err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want -rw-------", filepath.Base(name), info.Mode().Perm())
			}
		}
	}
	n := 0
	write := func(t *testing.T, s *Store) {
		t.Helper()
		now := time.Now()
		n++
		if _, err := s.CreateLink(context.Background(), store.Link{TokenHash: []byte{byte(n)}, Bot: "b",
			Providers: []store.LinkProvider{{Provider: "p"}}, Channel: "c", User: "u", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("new database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new.db")
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		write(t, s) // the WAL and -shm exist once something was written
		check(t, path)
	})
	t.Run("database left readable by an older version", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		write(t, s)
		s.Close()
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Chmod(name, 0o644); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		s, err = Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		write(t, s)
		check(t, path)
	})
}
