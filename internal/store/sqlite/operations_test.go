package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCountOpenFlowsUsesTheLinkIndex: the count runs before every started flow, so it must
// walk one link's flows, never the whole flows table.
func TestCountOpenFlowsUsesTheLinkIndex(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+countOpenFlows, 1, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	all := strings.Join(plan, "\n")
	if !strings.Contains(all, "flows_link_id") || strings.Contains(all, "SCAN") {
		t.Errorf("plan:\n%s\nwant a search of flows by flows_link_id, no scan", all)
	}
}

func TestSchemaCurrentNoticesAMissingMigration(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SchemaCurrent(t.Context()); err != nil {
		t.Fatalf("fresh store: %v", err)
	}
	// A backup from before the newest migration, restored under a running broker.
	if _, err := s.writer.Exec(`DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	if err := s.SchemaCurrent(t.Context()); err == nil || !strings.Contains(err.Error(), "this binary needs") {
		t.Errorf("SchemaCurrent after losing a migration: %v", err)
	}
}
