package sqlite

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The commits reach the database file itself in the background, while the store stays open:
// a copy of the file alone, without its WAL, soon holds a link just made. The writer no
// longer checkpoints before a thousand pages, so without the background checkpoints the file
// would get the link only at Close.
func TestCommitsReachTheFileWhileOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if _, err := s.CreateLink(t.Context(), store.Link{TokenHash: []byte("in the file"), Bot: "bot", Channel: "slack", User: "U1",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), Providers: []store.LinkProvider{{Provider: "github"}}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, err := linksInFileAlone(t, path)
		if err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file alone holds %d links (%v) 10 s after the commit, want 1", n, err)
		}
	}
}

// linksInFileAlone counts the links in a copy of the database file at path, without its WAL.
// A copy taken while a checkpoint writes may be torn; the caller tries again.
func linksInFileAlone(t *testing.T, path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	cp := filepath.Join(t.TempDir(), "copy")
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+cp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT count(*) FROM links`).Scan(&n)
	return n, err
}
