package sqlite

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The operators' list stays fast at a million rows only while SQLite keeps choosing the plans
// 0002_admin.sql was written for. These tests pin them on an empty database with no
// statistics (as a fresh install runs), so a schema or query change that loses an index fails
// here rather than in production. OAUTHBROKER_PRINT_PLANS=1 prints them (docs/BENCHMARKS.md).

// plan is SQLite's EXPLAIN QUERY PLAN of every statement of a page, indented like the sqlite3
// shell prints it.
func plan(t testing.TB, s *Store, q store.IdentityListQuery) []string {
	t.Helper()
	p, err := listQueries(q, searchLimits{searchProbeRows, searchIndexedIDs})
	if err != nil {
		t.Fatal(err)
	}
	stmts := []listSQL{p.indexed}
	if p.probe.query != "" {
		stmts = []listSQL{p.filterRows, p.searchIDs, p.probe, p.indexed}
	}
	var plans []string
	for _, st := range stmts {
		rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+st.query, st.args...)
		if err != nil {
			t.Fatalf("explain %s: %v", st.query, err)
		}
		var lines []string
		depth := map[int]int{}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			depth[id] = depth[parent] + 1
			lines = append(lines, strings.Repeat("  ", depth[id]-1)+detail)
		}
		rows.Close()
		plans = append(plans, strings.Join(lines, "\n"))
	}
	return plans
}

func TestListPlansUseTheirIndexes(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	print := os.Getenv("OAUTHBROKER_PRINT_PLANS") != ""

	for _, bot := range []string{"", "b"} {
		for _, provider := range []string{"", "p"} {
			for _, status := range []string{"", "active"} {
				for _, cursor := range []string{"", "older", "newer"} {
					q := store.IdentityListQuery{Bot: bot, Provider: provider, Status: status, Limit: 50}
					switch cursor {
					case "older":
						q.OlderThan = 1000
					case "newer":
						q.NewerThan = 1000
					}
					// The index of exactly these filters, or the rowid itself without any.
					var cols []string
					for _, f := range []struct{ col, v string }{{"bot", bot}, {"provider", provider}, {"status", status}} {
						if f.v != "" {
							cols = append(cols, f.col)
						}
					}
					want := "SCAN identities"
					if len(cols) > 0 {
						want = "SEARCH identities USING INDEX identities_admin_" + strings.Join(cols, "_") + " ("
					} else if cursor != "" {
						want = "SEARCH identities USING INTEGER PRIMARY KEY"
					}
					got := plan(t, s, q)[0]
					if print {
						fmt.Printf("-- %+v\n%s\n\n", q, got)
					}
					if !strings.HasPrefix(got, want) || strings.Contains(got, "TEMP B-TREE") || strings.Count(got, "\n") > 0 {
						t.Errorf("%+v: plan\n%s\nwant one step: %s…, no sort", q, got, want)
					}
				}
			}
		}
	}

	for _, q := range []store.IdentityListQuery{
		{Search: "ada", Limit: 50},
		{Search: "ada", Bot: "b", Status: "active", OlderThan: 1000, Limit: 50},
		{Search: "ada", Provider: "p", NewerThan: 1000, Limit: 50},
	} {
		plans := plan(t, s, q)
		if print {
			fmt.Printf("-- %+v\n%s\n\n", q, strings.Join(plans, "\n--\n"))
		}
		count, probe, indexed := plans[1], plans[2], plans[3]
		// Counting and collecting ids read the five search indexes only.
		for _, p := range []string{count, indexed} {
			for _, idx := range []string{"user", "name", "nickname", "email", "surname"} {
				if !strings.Contains(p, "USING COVERING INDEX identities_admin_search_"+idx+" ") {
					t.Errorf("%+v: plan does not read the %s index alone:\n%s", q, idx, p)
				}
			}
		}
		// The page is read by rowid from the ids, the filters tested on those rows only.
		if !strings.HasPrefix(indexed, "SEARCH identities USING INTEGER PRIMARY KEY (rowid=?)") {
			t.Errorf("%+v: the index query does not read rows by id:\n%s", q, indexed)
		}
		// The probe walks the filter's own index (or the table, without filters), newest first.
		if q.Bot != "" && !strings.Contains(probe, "USING INDEX identities_admin_bot_status (") ||
			q.Provider != "" && !strings.Contains(probe, "USING INDEX identities_admin_provider (") {
			t.Errorf("%+v: the probe does not walk the filter's index:\n%s", q, probe)
		}
		for _, p := range plans {
			if strings.Contains(p, "TEMP B-TREE") {
				t.Errorf("%+v: a plan sorts:\n%s", q, p)
			}
		}
	}
}
