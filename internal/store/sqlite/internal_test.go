package sqlite

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("migrations %+v", ms)
	}
}

func TestMigrationNumbering(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  string // part of the error; "" for none
	}{
		{"in order", []string{"0001_a.sql", "0002_b.sql"}, ""},
		{"sorted by number, not name", []string{"0010_j.sql", "0002_b.sql", "0001_a.sql", "0003_c.sql", "0004_d.sql",
			"0005_e.sql", "0006_f.sql", "0007_g.sql", "0008_h.sql", "0009_i.sql"}, ""},
		{"a gap", []string{"0001_a.sql", "0003_c.sql"}, "expected version 2"},
		{"a repeat", []string{"0001_a.sql", "0001_b.sql"}, "expected version 2"},
		{"starting at 2", []string{"0002_b.sql"}, "expected version 1"},
		{"no number", []string{"init.sql"}, "NNNN_description.sql"},
		{"version 0", []string{"0000_zero.sql"}, "NNNN_description.sql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys["m/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			fsys["m/README.md"] = &fstest.MapFile{Data: []byte("not a migration")}
			ms, err := loadMigrations(fsys, "m")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.want == "":
				for i, m := range ms {
					if m.version != i+1 {
						t.Errorf("migration %d is %s", i, m.name)
					}
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
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
