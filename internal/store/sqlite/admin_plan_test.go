package sqlite

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The operators' list stays fast at a million rows only while SQLite keeps choosing the plans
// 0002_admin.sql and 0008 were written for. These tests pin them on an empty database with no
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
	switch {
	case p.probe.query != "":
		stmts = []listSQL{p.filterRows, p.searchIDs, p.probe, p.indexed}
		if p.probeTable.query != "" {
			stmts = append(stmts, p.probeTable)
		}
	case p.groups.filtered():
		// filterSpans' statement, then within either way.
		stmts = []listSQL{{p.groups.density(), p.groups.args(0, 0, 0)[3:]},
			{p.groups.within(false, listedColumns), p.groups.args(900, 1000, 51)},
			{p.groups.within(true, listedColumns), p.groups.args(900, 1000, 51)}}
	}
	var plans []string
	for _, st := range stmts {
		plans = append(plans, explain(t, s, st.query, st.args...))
	}
	return plans
}

// explain is SQLite's EXPLAIN QUERY PLAN of query, one line per step, each indented under its
// parent as the sqlite3 shell shows it.
func explain(t testing.TB, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
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
					plans := plan(t, s, q)
					if print {
						fmt.Printf("-- %+v\n%s\n\n", q, strings.Join(plans, "\n--\n"))
					}
					if bot == "" && provider == "" && status == "" {
						// The table itself, walked from the cursor: one step, no sort.
						want := "SCAN identities"
						if cursor != "" {
							want = "SEARCH identities USING INTEGER PRIMARY KEY"
						}
						if got := plans[0]; !strings.HasPrefix(got, want) || strings.Count(got, "\n") > 0 {
							t.Errorf("%+v: plan\n%s\nwant one step: %s…", q, got, want)
						}
						continue
					}
					// A filter: the largest id, and the filter's rows and groups from
					// identity_counts (by its primary key when the bot is one of the filters); then
					// the filter's rows in a span before the cursor, either through one range of the
					// filter index per group, sorted, or the table's rows in the span.
					groups := "SCAN identity_counts"
					if bot != "" {
						key := "bot=?"
						if provider != "" {
							key += " AND provider=?"
							if status != "" {
								key += " AND status=?"
							}
						}
						groups = "SEARCH identity_counts USING PRIMARY KEY (" + key + ")"
					}
					want := []string{
						groups + "\nSCALAR SUBQUERY 1\n  SEARCH identities",
						"SEARCH identities USING INDEX identities_admin_bot_provider_status (bot=? AND provider=? AND status=? AND id>? AND id<?)\n" +
							"LIST SUBQUERY 3\n  " + groups + "\nUSE TEMP B-TREE FOR ORDER BY",
						"SEARCH identities USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
					}
					if !slices.Equal(plans, want) {
						t.Errorf("%+v: plans\n%s\nwant\n%s", q, strings.Join(plans, "\n--\n"), strings.Join(want, "\n--\n"))
					}
				}
			}
		}
	}

	for _, q := range []store.IdentityListQuery{
		{Search: "ada", Limit: 50},
		{Search: "ada", Status: "active", Limit: 50},
		{Search: "ada", Bot: "b", Status: "active", OlderThan: 1000, Limit: 50},
		{Search: "ada", Provider: "p", NewerThan: 1000, Limit: 50},
	} {
		plans := plan(t, s, q)
		if print {
			fmt.Printf("-- %+v\n%s\n\n", q, strings.Join(plans, "\n--\n"))
		}
		count, ids, probe, indexed := plans[0], plans[1], plans[2], plans[3]
		// Counting and collecting ids read the five search indexes only.
		for _, p := range []string{ids, indexed} {
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
		// The probe walks the table newest first without filters; with them, it reads the
		// filter's groups' ranges of the filter index from the cursor to the window's bound
		// (at most probeRows rows, page decides) and sorts the matches among them.
		filtered := q.Bot != "" || q.Provider != "" || q.Status != ""
		cursor := " AND id<?)"
		switch {
		case q.NewerThan > 0:
			cursor = " AND id>?)"
		case q.OlderThan == 0:
			cursor = ")"
		}
		span := "id>? AND id<?)" // the bound and the cursor; the bound alone on the first page
		if cursor == ")" {
			span = "id>?)"
		}
		if filtered && !strings.Contains(probe, "SEARCH identities USING INDEX identities_admin_bot_provider_status (bot=? AND provider=? AND status=? AND "+span+"\nLIST SUBQUERY") ||
			!filtered && !strings.HasPrefix(probe, "CO-ROUTINE (subquery-1)\n  SCAN identities\n") {
			t.Errorf("%+v: the probe does not walk the filter's groups (or the table):\n%s", q, probe)
		}
		// With a filter, the probe of a span filterSpans reads by the table walks the table
		// from the cursor to the span's bound, newest first, and tests each row: one step.
		if filtered {
			walk := "SEARCH identities USING INTEGER PRIMARY KEY (" + strings.ReplaceAll(span, "id", "rowid")
			if len(plans) != 5 || plans[4] != walk {
				t.Errorf("%+v: the probe by the table does not walk the table's ids:\n%s", q, strings.Join(plans[4:], "\n--\n"))
			}
		} else if len(plans) != 4 {
			t.Errorf("%+v: a probe by the table without a filter:\n%s", q, strings.Join(plans[4:], "\n--\n"))
		}
		// Counting the filter's rows reads the filter index alone.
		if filtered && !strings.Contains(count, "SEARCH identities USING COVERING INDEX identities_admin_bot_provider_status (bot=? AND provider=? AND status=?"+cursor) {
			t.Errorf("%+v: counting the filter's rows does not read its groups in the filter index:\n%s", q, count)
		}
		for i, p := range plans {
			if strings.Contains(p, "TEMP B-TREE") && !(filtered && i == 2) {
				t.Errorf("%+v: a plan sorts:\n%s", q, p)
			}
		}
	}
}
