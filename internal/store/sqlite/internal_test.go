package sqlite

import (
	"strings"
	"testing"
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

// The hot and the per-user queries must search an index, never scan a table.
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
		{selectIdentitiesOfUser, []any{"b", "c", "u"}, "sqlite_autoindex_identities_1"},
		{selectIdentitiesOfUserOf, []any{"b", "c", "u", "p"}, "sqlite_autoindex_identities_1"},
		{selectLink + ` WHERE token_hash = ?`, []any{[]byte("h")}, "sqlite_autoindex_links_1"},
		{`SELECT consumed_at FROM flows WHERE state_hash = ?`, []any{[]byte("h")}, "sqlite_autoindex_flows_1"},
		{`SELECT identity_id, code_hash FROM confirmations` + liveConfirmations, []any{"b", "c", "u", 0, 5}, "confirmations_user"},
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
		if !strings.Contains(joined, q.index) || strings.Contains(joined, "SCAN ") {
			t.Errorf("plan of %s:\n  %s\nwant a search using %s", q.query, joined, q.index)
		}
	}
}
