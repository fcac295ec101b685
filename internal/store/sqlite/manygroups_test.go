package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// OpenManyGroups is a store of n identities in 1,800 groups of about one size: 20 bots × 30
// providers × 3 statuses, about 90 % of them active, 5 % pending and 5 % relink_required, the
// user ids U1 to Un in the order the rows were made. A filter on one status matches 600
// groups, on one provider 60, on one bot 90. BenchmarkListIdentitiesManyGroups and the span
// tests below share it.
func OpenManyGroups(tb testing.TB, n int) *Store {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "groups.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	// Straight through the driver in one statement: the store has no API to write an
	// identity without a link, and the rows need nothing but their bot, provider and status.
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO identities
		(id, bot, channel, user_id, provider, provider_user_id, status, linked_at, updated_at)
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		SELECT i, 'bot' || (i * 2654435761 % 4294967291 % 20), 'slack', 'U' || i,
			'provider' || (i * 40503 % 65521 % 30), i,
			CASE i * 97 % 101 % 20 WHEN 0 THEN 'pending' WHEN 1 THEN 'relink_required' ELSE 'active' END, i, i
		FROM n`, n); err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestFilterSpansWeighTheRowsTheGroupsSort: over a span of thousands of ids, a filter whose
// rows are most of the span is read by the table even across 600 groups (through them, each
// row found would be read from the index and sorted), while a rare filter and one of few
// groups keep their groups. Both ways give the same rows; this pins which is taken.
func TestFilterSpansWeighTheRowsTheGroupsSort(t *testing.T) {
	s := OpenManyGroups(t, 18_000) // ten rows a group
	for _, c := range []struct {
		g     listGroups
		n     int
		table bool
	}{
		{listGroups{status: store.StatusActive}, 5000, true},                                   // 600 groups, 90 % of the rows
		{listGroups{status: store.StatusPending}, 5000, false},                                 // 600 groups, 5 %: a span of 20,000 ids
		{listGroups{bot: "bot3", provider: "provider7", status: store.StatusActive}, 5, false}, // one group
		{listGroups{status: store.StatusActive}, 51, true},                                     // a page: a short span
	} {
		tx, err := s.reader.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var ways []bool
		err = filterSpans(t.Context(), tx, c.g, c.n, func(byTable bool, args []any) (n int, err error) {
			ways = append(ways, byTable)
			err = tx.QueryRowContext(t.Context(), `SELECT count(*) FROM (`+c.g.within(byTable, "id")+`)`, args...).Scan(&n)
			return n, err
		})
		_ = tx.Rollback()
		if err != nil {
			t.Fatalf("%+v: %v", c.g, err)
		}
		if len(ways) == 0 || ways[0] != c.table {
			t.Errorf("%+v, %d rows: spans read by the table %v, want the first %v", c.g, c.n, ways, c.table)
		}
	}
}
