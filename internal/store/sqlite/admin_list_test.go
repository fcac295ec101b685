package sqlite

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The benchmark's code path at a small size, run with every test: seed synthetic identities
// with SeedIdentities, then check every way ListIdentities can take against a plain reading
// of the whole table.

const smokeRows = 3000

func TestListIdentitiesAgreesWithAFullScan(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if err := s.SeedIdentities(t.Context(), smokeRows); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d identities in %v", smokeRows, time.Since(start))
	all := allRows(t, s)
	if len(all) != smokeRows {
		t.Fatalf("%d rows after seeding, want %d", len(all), smokeRows)
	}
	checkTotalsAgainst(t, s, all)

	mid := all[len(all)/2]
	queries := []store.IdentityListQuery{
		{}, {Bot: "supportbot"}, {Bot: "tinybot"}, {Provider: "github", Status: store.StatusRelinkRequired},
		{Bot: "salesbot", Provider: "uber", Status: store.StatusActive},
		{Search: mid.User}, {Search: strings.ToLower(mid.Email)}, {Search: "@" + mid.NickName}, {Search: mid.Name},
		{Search: "lovelace"}, {Search: "a"}, {Search: "ad"}, {Search: "A", Bot: "tinybot"}, {Search: "grace", Bot: "supportbot", Status: "active"},
		{Search: "u"}, {Search: "nobody"},
		// Every user id starts with U: a probe of a dense filter fills its page, through its
		// groups or by the table as filterSpans chose for its span.
		{Search: "u", Bot: "supportbot"}, {Search: "u", Status: store.StatusActive, Provider: "github"},
	}
	limits := []searchLimits{
		{searchProbeRows, searchIndexedIDs}, // as in production: small tables are probed whole
		{100, 100},                          // every search past the counts
		{100, 1 << 30},                      // always the search indexes
		{10, 0},                             // always the probe, falling back when it comes up short
	}
	ways := map[string]bool{}
	for n, lim := range limits {
		for _, q := range queries {
			if q.Search == "" && n > 0 {
				continue // the limits matter to searches only
			}
			for _, size := range []int{50, 7} {
				q.Limit = size
				want := matching(all, q)
				got := walk(t, s, q, lim, ways)
				if !slices.Equal(got, want) {
					t.Errorf("limits %+v, %+v: walked %d ids %v…, want %d: %v…", lim, q, len(got), head(got), len(want), head(want))
				}
			}
		}
	}
	for _, w := range []string{wayFilter, wayProbeAll, wayIndexed, wayProbe, wayProbeFallback} {
		if !ways[w] {
			t.Errorf("no query went the way %q", w)
		}
	}
}

// walk pages through q to the end, checks that paging back from each page returns the page
// before it, and returns every id seen.
func walk(t *testing.T, s *Store, q store.IdentityListQuery, lim searchLimits, ways map[string]bool) []int64 {
	t.Helper()
	var pages [][]int64
	for {
		p, way, err := s.listIdentities(t.Context(), q, lim)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		ways[way] = true
		pages = append(pages, ids(p.Identities))
		if !p.More || len(pages) > smokeRows {
			break
		}
		q.OlderThan = p.Identities[len(p.Identities)-1].ID
	}
	for i := 1; i < len(pages); i++ {
		back := q
		back.OlderThan, back.NewerThan = 0, pages[i][0]
		p, _, err := s.listIdentities(t.Context(), back, lim)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(p.Identities), pages[i-1]) || p.More != (i > 1) {
			t.Errorf("%+v: back from page %d: %v (more %v), want %v", back, i+1, ids(p.Identities), p.More, pages[i-1])
		}
	}
	return slices.Concat(pages...)
}

// matching is what q should list, by reading every row: the search rule of
// store.IdentityListQuery written out plainly.
func matching(all []store.Identity, q store.IdentityListQuery) []int64 {
	needle, searching := searchNeedle(q.Search)
	var out []int64
	for _, i := range slices.Backward(all) {
		if q.Bot != "" && i.Bot != q.Bot || q.Provider != "" && i.Provider != q.Provider || q.Status != "" && i.Status != q.Status {
			continue
		}
		_, family, _ := strings.Cut(i.Name, " ")
		if searching && !slices.ContainsFunc([]string{i.User, i.Name, family, i.NickName, i.Email}, func(v string) bool {
			return strings.HasPrefix(foldASCII(v), needle)
		}) {
			continue
		}
		out = append(out, i.ID)
	}
	return out
}

func allRows(t *testing.T, s *Store) []store.Identity {
	t.Helper()
	rows, err := s.reader.QueryContext(t.Context(), selectListed+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []store.Identity
	for rows.Next() {
		i, err := scanListed(rows)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, i)
	}
	return out
}

func checkTotalsAgainst(t *testing.T, s *Store, all []store.Identity) {
	t.Helper()
	want := map[store.IdentityTotal]int{}
	for _, i := range all {
		want[store.IdentityTotal{Bot: i.Bot, Provider: i.Provider, Status: i.Status}]++
	}
	got, err := s.IdentityTotals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d totals, want %d", len(got), len(want))
	}
	for _, g := range got {
		n := g.Count
		g.Count = 0
		if want[g] != n {
			t.Errorf("total %+v = %d, want %d", g, n, want[g])
		}
	}
}

func ids(is []store.Identity) []int64 {
	out := make([]int64, len(is))
	for k, i := range is {
		out[k] = i.ID
	}
	return out
}

func head(ids []int64) []int64 { return ids[:min(len(ids), 8)] }

// A database that had identities before the admin migration gets their totals counted.
func TestAdminMigrationCountsExistingIdentities(t *testing.T) {
	path := t.TempDir() + "/db"
	s, err := open(path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if err := applyMigrations(t.Context(), s.writer, ms[:1]); err != nil {
		t.Fatal(err)
	}
	for i, who := range [][3]string{{"a", "github", "active"}, {"a", "github", "active"}, {"a", "uber", "pending"}, {"b", "github", "active"}} {
		if _, err := s.writer.ExecContext(t.Context(), `INSERT INTO identities (bot, channel, user_id, provider, provider_user_id,
			status, linked_at, updated_at) VALUES (?, 'c', 'u', ?, ?, ?, 0, 0)`, who[0], who[1], i, who[2]); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkTotalsAgainst(t, s, allRows(t, s))
}
