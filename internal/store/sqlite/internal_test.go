package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store/storetest"
)

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("migrations %+v", ms)
	}
}

func TestReadPoolCannotWrite(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.reader.ExecContext(t.Context(), `INSERT INTO identity_events (identity_id, bot, kind, at) VALUES (1, 'b', 'k', 0)`)
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("write through the read pool: %v, want a read-only error", err)
	}
}

// Every connection of the read pool has the page cache set for it.
func TestReadPoolCacheSize(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var conns []*sql.Conn
	for range 2 { // two at once: two connections of the pool
		c, err := s.reader.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for _, c := range conns {
		var kib int
		if err := c.QueryRowContext(t.Context(), `PRAGMA cache_size`).Scan(&kib); err != nil {
			t.Fatal(err)
		}
		if kib != -readerCacheKiB {
			t.Errorf("a read connection's cache_size is %d, want %d (KiB)", kib, -readerCacheKiB)
		}
	}
}

// The hot and the per-user queries must search an index, never scan a table or sort.
func TestQueriesUseIndexes(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []struct {
		query string
		args  []any
		index string
	}{
		{selectIdentity + ` WHERE id = ? AND bot = ?`, []any{1, "b"}, "INTEGER PRIMARY KEY"},
		{selectIdentityTokens, []any{1, "b"}, "INTEGER PRIMARY KEY"},
		{selectIdentitiesOfUser, []any{"b", "c", "u"}, "sqlite_autoindex_identities_1"},
		{selectIdentitiesOfUserOf, []any{"b", "c", "u", "p"}, "sqlite_autoindex_identities_1"},
		{selectLinkByTokenHash, []any{[]byte("h")}, "sqlite_autoindex_links_1"},
		{selectLinkByTokenHash, []any{[]byte("h")}, "SEARCH p USING PRIMARY KEY (link_id=?)"},
		{`SELECT linked_at FROM link_providers WHERE link_id = ? AND provider = ?`, []any{1, "p"}, "sqlite_autoindex_link_providers_2"},
		{`SELECT c.identity_id FROM confirmations c WHERE c.link_id = ?`, []any{1}, "confirmations_link"},
		{`SELECT consumed_at FROM flows WHERE state_hash = ?`, []any{[]byte("h")}, "sqlite_autoindex_flows_1"},
		{`SELECT identity_id, link_id, code_hash FROM confirmations` + liveConfirmations, []any{"b", "c", "u", 0, 5}, "confirmations_user"},
		{`SELECT id FROM identity_events WHERE identity_id = ? AND bot = ? ORDER BY id`, []any{1, "b"}, "identity_events_identity"},
	} {
		rows, err := s.reader.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q.query, q.args...)
		if err != nil {
			t.Fatalf("explain %s: %v", q.query, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, q.index) || strings.Contains(joined, "SCAN ") || strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("plan of %s:\n  %s\nwant a search using %s", q.query, joined, q.index)
		}
	}
}

// TestConnectMigrationKeepsLinks: links made before links had several providers read back
// after 0006 (storetest.CheckMigratedLinks).
func TestConnectMigrationKeepsLinks(t *testing.T) {
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	s, err := open(filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := applyMigrations(ctx, s.writer, ms[:5]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO links (token_hash, bot, provider, channel, user_id, scopes, created_at, expires_at, used_at)
			VALUES (x'01', 'b', 'github', 'c', 'u', '["repo"]', 1000, 2000, NULL)`,
		`INSERT INTO links (token_hash, bot, provider, channel, user_id, scopes, created_at, expires_at, used_at)
			VALUES (x'02', 'b', 'twitter', 'c', 'u', '[]', 1000, 2000, 1500)`,
	} {
		if _, err := s.writer.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.init(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigratedLinks(t, s)
}

// TestPurgedLinksLeaveNothing: deleting a link through the writer takes its providers, flows
// and codes with it, as its foreign keys say (storetest.CheckPurgedLinksLeaveNothing).
func TestPurgedLinksLeaveNothing(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckPurgedLinksLeaveNothing(t, s, func(query string) int {
		var n int
		if err := s.reader.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	})
}
