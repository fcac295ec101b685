package sqlite

import (
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The lifecycle's queries run on every delivery round and every new identity, the janitor's
// on every batch: each must search an index, never scan a table that grows with the deployment.
func TestLifecycleQueriesUseIndexes(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []struct {
		name    string
		query   string
		args    []any
		indexes []string
	}{
		{"due events", dueEvents, []any{0, 10}, []string{"webhook_outbox_due", "webhook_outbox_identity"}},
		{"dead events", `SELECT id FROM webhook_outbox WHERE state = ? ORDER BY id DESC LIMIT ?`, []any{"dead", 10}, []string{"webhook_outbox_state"}},
		{"pruning", `SELECT id FROM webhook_outbox WHERE state = 'delivered' AND delivered_at < ?`, []any{0}, []string{"webhook_outbox_state"}},
		{"next identity id", `SELECT ` + nextIdentityID, nil, []string{"identity_events_identity"}},
		// The janitor's batches (retention.go): the oldest rows through their expiry indexes,
		// or, for links and flows, the table's own b-tree from its start (TestPurgePlans).
		{"purge confirmations", purgeSQL[store.PurgeConfirmations], []any{0, 10}, []string{"confirmations_expires"}},
		{"purge admin sessions", purgeSQL[store.PurgeAdminSessions], []any{0, 10}, []string{"admin_sessions_expires"}},
		// What deleting a link cascades to: SQLite looks each up by the link's id.
		{"a purged link's providers", `SELECT 1 FROM link_providers WHERE link_id = ?`, []any{1}, []string{"SEARCH link_providers", "(link_id=?)"}},
		{"a purged link's flows", `SELECT 1 FROM flows WHERE link_id = ?`, []any{1}, []string{"flows_link_id"}},
		{"a purged link's codes", `SELECT 1 FROM confirmations WHERE link_id = ?`, []any{1}, []string{"confirmations_link"}},
	} {
		rows, err := s.reader.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q.query, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
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
		for _, index := range q.indexes {
			if !strings.Contains(joined, index) {
				t.Errorf("%s: plan %s does not use %s", q.name, joined, index)
			}
		}
		if strings.Contains(joined, "SCAN ") && !strings.Contains(joined, "SCAN CONSTANT ROW") {
			t.Errorf("%s: plan %s scans a table", q.name, joined)
		}
	}
}

// The janitor's batch of links or flows reads the table from its oldest row and stops after
// the window (a co-routine's LIMIT), then deletes by rowid, and a link's dependants by their
// link_id: no sort, no scan of a whole table.
func TestPurgePlans(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for table, want := range map[string]string{
		store.PurgeLinks: "SEARCH links USING INTEGER PRIMARY KEY (rowid=?)\nLIST SUBQUERY 2\n" +
			"  CO-ROUTINE (subquery-1)\n    SCAN links\n  SCAN (subquery-1)\n" +
			// What the deleted links cascade to, each by its link_id.
			"SEARCH link_providers USING PRIMARY KEY (link_id=?)\n" +
			"SEARCH confirmations USING COVERING INDEX confirmations_link (link_id=?)\n" +
			"SEARCH flows USING COVERING INDEX flows_link_id (link_id=?)",
		store.PurgeFlows: "SEARCH flows USING INTEGER PRIMARY KEY (rowid=?)\nLIST SUBQUERY 2\n" +
			"  CO-ROUTINE (subquery-1)\n    SCAN flows\n  SCAN (subquery-1)",
	} {
		if got := explain(t, s, purgeSQL[table], 0, 10); got != want {
			t.Errorf("purge %s: plan\n%s\nwant\n%s", table, got, want)
		}
	}
}
