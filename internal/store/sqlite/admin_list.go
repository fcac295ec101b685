package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// maxListLimit bounds one page of the operators' list.
const maxListLimit = 500

// selectListed is selectIdentity without the token columns: the operators' list has no use
// for sealed tokens, so they never leave the database on this path.
const selectListed = `SELECT ` + listedColumns + ` FROM identities`

const listedColumns = `id, bot, channel, user_id, provider, provider_user_id,
	name, nickname, email, avatar_url, status, scopes, token_type, expires_at,
	linked_at, updated_at`

// searchBranches are the five places a search looks, one index each (see 0002_admin.sql).
// Each branch repeats its index's expression word for word, which is how SQLite recognises an
// expression index, and reads nothing but the index.
var searchBranches = []string{
	`SELECT id FROM identities WHERE lower(user_id) >= ? AND lower(user_id) < ?`,
	`SELECT id FROM identities WHERE lower(name) >= ? AND lower(name) < ?`,
	`SELECT id FROM identities WHERE lower(nickname) >= ? AND lower(nickname) < ?`,
	`SELECT id FROM identities WHERE lower(email) >= ? AND lower(email) < ?`,
	`SELECT id FROM identities WHERE lower(substr(name, instr(name, ' ') + 1)) >= ? AND lower(substr(name, instr(name, ' ') + 1)) < ?`,
}

// A search has two ways to a page:
//
//   - the index way collects the ids the five search indexes hold for the needle, reading
//     nothing but the indexes, and reads the page's rows by id: cheap for a narrow needle (a
//     user id, an email, a rare name), costly for a broad one ("a" holds a quarter of them);
//   - the probe tests the newest searchProbeRows rows of the filter one by one: a broad needle
//     fills its page among them, and a small filter (one small bot) is read whole.
//
// page picks one by two capped counts, so a search reads at most a few thousand index entries
// or rows. The one case left costly is a broad needle that is rare within a large filter
// (a bot whose users are all named otherwise): the probe then falls through to the index way.
// docs/BENCHMARKS.md has the timings.
const (
	searchIndexedIDs = 10_000
	searchProbeRows  = 5_000
)

// searchLimits are the two thresholds a search decides by; the tests lower them to take every
// way on a small table.
type searchLimits struct{ probeRows, indexedIDs int }

// The ways page can take to a page, for the tests to check they took each.
const (
	wayFilter        = "filter"                 // no search: the filter's index
	wayProbeAll      = "probe the whole filter" // the filter holds at most probeRows rows
	wayIndexed       = "search indexes"
	wayProbe         = "probe"
	wayProbeFallback = "probe, then search indexes"
)

// ListIdentities returns one page of identities across bots, newest first; see
// store.AdminStore. Without a filter the page is one backwards walk of the table; with one,
// its rows come from its groups' ranges of one index (filterSpans); with a search, see
// searchIndexedIDs.
func (s *Store) ListIdentities(ctx context.Context, q store.IdentityListQuery) (store.IdentityPage, error) {
	page, _, err := s.listIdentities(ctx, q, searchLimits{searchProbeRows, searchIndexedIDs})
	return page, err
}

func (s *Store) listIdentities(ctx context.Context, q store.IdentityListQuery, lim searchLimits) (store.IdentityPage, string, error) {
	p, err := listQueries(q, lim)
	if err != nil {
		return store.IdentityPage{}, "", fmt.Errorf("sqlite: list identities: %w", err)
	}
	// One read transaction: the statements of a page see one state of the table.
	tx, err := s.reader.BeginTx(ctx, nil)
	if err != nil {
		return store.IdentityPage{}, "", fmt.Errorf("sqlite: list identities: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	got, way, err := readPage(ctx, tx, p, q.Limit, lim)
	if err != nil {
		return store.IdentityPage{}, "", fmt.Errorf("sqlite: list identities: %w", err)
	}
	// One row more than the page was asked for: its presence is the answer to "is there more",
	// without a second query or a count.
	page := store.IdentityPage{Identities: got}
	if len(got) > q.Limit {
		page.More, page.Identities = true, got[:q.Limit]
	}
	if q.NewerThan > 0 {
		// Read upwards from the cursor (to stop after a page), shown newest first like every page.
		slices.Reverse(page.Identities)
	}
	return page, way, nil
}

// readPage runs the statements of a listPlan and returns up to limit+1 rows, and the way it took.
func readPage(ctx context.Context, tx *sql.Tx, p listPlan, limit int, lim searchLimits) ([]store.Identity, string, error) {
	if p.probe.query == "" {
		if !p.groups.filtered() {
			got, err := listed(ctx, tx, p.indexed)
			return got, wayFilter, err
		}
		var got []store.Identity
		err := filterSpans(ctx, tx, p.groups, limit+1, func(byTable bool, args []any) (n int, err error) {
			got, err = listed(ctx, tx, listSQL{p.groups.within(byTable, listedColumns), args})
			return len(got), err
		})
		return got, wayFilter, err
	}
	rows, err := count(ctx, tx, p.filterRows)
	if err != nil {
		return nil, "", err
	}
	if rows <= lim.probeRows {
		got, err := listed(ctx, tx, p.probe) // the probe tests every row of the filter: exact
		return got, wayProbeAll, err
	}
	ids, err := count(ctx, tx, p.searchIDs)
	if err != nil {
		return nil, "", err
	}
	if ids <= lim.indexedIDs {
		got, err := listed(ctx, tx, p.indexed)
		return got, wayIndexed, err
	}
	probe := p.probe
	if p.groups.filtered() {
		// The filter's newest probeRows rows are those from the probeRows-th newest on: the
		// count and last id of the span that holds them.
		edge := "min"
		if p.groups.asc() {
			edge = "max"
		}
		var (
			last  int64
			table bool // the span was read by the table: so is the probe
		)
		err := filterSpans(ctx, tx, p.groups, lim.probeRows, func(byTable bool, args []any) (n int, err error) {
			table = byTable
			err = tx.QueryRowContext(ctx, `SELECT count(*), coalesce(`+edge+`(id), 0) FROM (`+p.groups.within(byTable, "id")+`)`,
				args...).Scan(&n, &last)
			return n, err
		})
		if err != nil {
			return nil, "", err
		}
		switch {
		case last > 0 && table:
			probe = p.probeTable.from(last)
		case last > 0:
			probe = p.probe.from(last)
		}
	}
	got, err := listed(ctx, tx, probe)
	// A probe that filled the page (and one more row) is the exact answer: the newest
	// matches lie within the rows it tested.
	if err != nil || len(got) > limit {
		return got, wayProbe, err
	}
	got, err = listed(ctx, tx, p.indexed)
	return got, wayProbeFallback, err
}

func count(ctx context.Context, tx *sql.Tx, lq listSQL) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, lq.query, lq.args...).Scan(&n)
	return n, err
}

func listed(ctx context.Context, tx *sql.Tx, lq listSQL) ([]store.Identity, error) {
	rows, err := tx.QueryContext(ctx, lq.query, lq.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Identity{}
	for rows.Next() {
		id, err := scanListed(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// listSQL is one statement with its arguments.
type listSQL struct {
	query string
	args  []any
}

// from is the filtered probe limited to the rows from id bound on, towards the cursor (the
// probe's last argument is its page size, the one before it the bound).
func (lq listSQL) from(bound int64) listSQL {
	args := slices.Clone(lq.args)
	args[len(args)-2] = bound
	return listSQL{lq.query, args}
}

// listPlan is the statements of one page. Without a search only indexed is set: the page
// itself without filters, else groups is what filterSpans reads. With a search, filterRows and
// searchIDs are the capped counts page decides by, probe tests the newest rows of the filter
// (through its groups; with a filter, probeTable is the same by the table), and indexed reads
// the page from the ids in the search indexes.
type listPlan struct {
	groups                                            listGroups
	filterRows, searchIDs, probe, probeTable, indexed listSQL
}

// conditions collects the terms of a WHERE clause and their arguments, in order.
type conditions struct {
	terms []string
	args  []any
}

func (c *conditions) add(term string, args ...any) {
	c.terms = append(c.terms, term)
	c.args = append(c.args, args...)
}

func (c conditions) where() string {
	if len(c.terms) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.terms, " AND ")
}

// listQueries builds the statements of one page. Only their shape varies (which filters, which
// direction); every value is a parameter.
func listQueries(q store.IdentityListQuery, lim searchLimits) (listPlan, error) {
	switch {
	case q.Limit < 1 || q.Limit > maxListLimit:
		return listPlan{}, fmt.Errorf("limit %d is not between 1 and %d", q.Limit, maxListLimit)
	case q.OlderThan < 0 || q.NewerThan < 0:
		return listPlan{}, errors.New("a cursor is negative")
	case q.OlderThan > 0 && q.NewerThan > 0:
		return listPlan{}, errors.New("both OlderThan and NewerThan are set")
	}
	g := listGroups{bot: q.Bot, provider: q.Provider, status: q.Status, older: q.OlderThan, newer: q.NewerThan}
	order, cursor, cursorID := "DESC", "", int64(0)
	switch {
	case q.OlderThan > 0:
		cursor, cursorID = "id < ?", q.OlderThan
	case q.NewerThan > 0:
		order, cursor, cursorID = "ASC", "id > ?", q.NewerThan
	}
	tail := " ORDER BY id " + order + " LIMIT ?"
	// filtered is the filters and the cursor. plus "+" writes the filters +column, which keeps
	// SQLite from walking the filter index to test each row against the search's ids, when
	// those few ids are the cheaper side.
	filtered := func(plus string) conditions {
		var c conditions
		for _, f := range []struct{ column, value string }{{"bot", q.Bot}, {"provider", q.Provider}, {"status", q.Status}} {
			if f.value != "" {
				c.add(plus+f.column+" = ?", f.value)
			}
		}
		if cursor != "" {
			c.add(cursor, cursorID)
		}
		return c
	}
	// inGroups is the filters as the groups they match, each a range of the filter index,
	// and the cursor.
	inGroups := func() conditions {
		var c conditions
		if g.filtered() {
			where, args := g.where()
			c.add("(bot, provider, status) IN (SELECT bot, provider, status FROM identity_counts"+where+")", args...)
		}
		if cursor != "" {
			c.add(cursor, cursorID)
		}
		return c
	}

	needle, searching := searchNeedle(q.Search)
	if !searching {
		c := filtered("")
		return listPlan{groups: g, indexed: listSQL{selectListed + c.where() + tail, append(c.args, q.Limit+1)}}, nil
	}
	lo, hi := needle, prefixEnd(needle)

	// The ids each search index holds for the needle (past the cursor: a deep page collects
	// fewer), as one UNION ALL.
	var branches, match []string
	var branchArgs, matchArgs []any
	for _, b := range searchBranches {
		_, cond, _ := strings.Cut(b, " WHERE ")
		match = append(match, "("+cond+")")
		matchArgs = append(matchArgs, lo, hi)
		branchArgs = append(branchArgs, lo, hi)
		if cursor != "" {
			b += " AND " + cursor
			branchArgs = append(branchArgs, cursorID)
		}
		branches = append(branches, b)
	}
	ids := strings.Join(branches, " UNION ALL ")

	c := inGroups()
	p := listPlan{
		groups:     g,
		filterRows: listSQL{"SELECT count(*) FROM (SELECT id FROM identities" + c.where() + " LIMIT ?)", append(slices.Clone(c.args), lim.probeRows+1)},
		searchIDs:  listSQL{"SELECT count(*) FROM (" + ids + " LIMIT ?)", append(slices.Clone(branchArgs), lim.indexedIDs+1)},
	}
	if g.filtered() {
		// The filter's rows past the cursor up to a bound (0: all of them; the probe of a
		// larger filter sets it, listSQL.from), read group by group through the filter index;
		// the matches among them, a page at most, are sorted.
		bound, none := " AND id >= ?", int64(0)
		if g.asc() {
			bound, none = " AND id <= ?", math.MaxInt64
		}
		p.probe = listSQL{
			query: selectListed + c.where() + " AND (" + strings.Join(match, " OR ") + ")" + bound + tail,
			args:  append(append(slices.Clone(c.args), matchArgs...), none, q.Limit+1),
		}
		// The same rows read by the table in id order, each tested against the filter: for
		// a span that filterSpans reads by the table too.
		t := filtered("+")
		p.probeTable = listSQL{
			query: selectListed + t.where() + " AND (" + strings.Join(match, " OR ") + ")" + bound + tail,
			args:  append(append(t.args, matchArgs...), none, q.Limit+1),
		}
	} else {
		p.probe = listSQL{
			query: "SELECT * FROM (" + selectListed + c.where() + tail + ") WHERE " + strings.Join(match, " OR ") + tail,
			args:  append(append(append(c.args, lim.probeRows), matchArgs...), q.Limit+1),
		}
	}

	c = filtered("+")
	c.add("id IN ("+ids+")", branchArgs...)
	p.indexed = listSQL{selectListed + c.where() + tail, append(c.args, q.Limit+1)}
	return p, nil
}

// searchNeedle is the search as the indexes hold it: trimmed, without a leading '@' (people
// type nicknames that way), and folded like SQLite's lower().
func searchNeedle(s string) (string, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "@")
	return foldASCII(s), s != ""
}

// foldASCII lower-cases ASCII letters only, as SQLite's lower() does without ICU: folding
// more here than there would make a needle miss the index entries it should find.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// prefixEnd is the smallest string above every string that begins with p, in SQLite's BINARY
// collation (byte order): p with its last byte incremented. Valid UTF-8 never holds 0xff, so
// the increment does not overflow; for invalid input the 0xff bytes are dropped first.
func prefixEnd(p string) string {
	b := []byte(p)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "\xff" // above every UTF-8 string
	}
	b[len(b)-1]++
	return string(b)
}

func scanListed(row rowScanner) (store.Identity, error) {
	var (
		i                        store.Identity
		scopes                   string
		expires, linked, updated sql.NullInt64
	)
	err := row.Scan(&i.ID, &i.Bot, &i.Channel, &i.User, &i.Provider, &i.ProviderUserID,
		&i.Name, &i.NickName, &i.Email, &i.AvatarURL, &i.Status, &scopes, &i.TokenType, &expires,
		&linked, &updated)
	if err != nil {
		return store.Identity{}, err
	}
	if i.Scopes, err = parseScopes(scopes); err != nil {
		return store.Identity{}, fmt.Errorf("identity %d: %w", i.ID, err)
	}
	i.ExpiresAt, i.LinkedAt, i.UpdatedAt = fromMillis(expires), fromMillis(linked), fromMillis(updated)
	return i, nil
}

// listGroups is a filtered page's filter and cursor. One index serves every filter
// (0008_fewer_indexes.sql): (bot, provider, status, id), which holds each combination of the
// three, a group, as one range in id order. A filter matches the groups identity_counts
// lists for it, and its rows are those ranges (filterSpans).
type listGroups struct {
	bot, provider, status string
	older, newer          int64 // the cursor, at most one set
}

func (g listGroups) filtered() bool { return g.bot != "" || g.provider != "" || g.status != "" }

// asc: the page is read upwards from a NewerThan cursor.
func (g listGroups) asc() bool { return g.newer > 0 }

// where is the filter on identity_counts.
func (g listGroups) where() (string, []any) {
	var c conditions
	for _, f := range g.set() {
		c.add(f.column+" = ?", f.value)
	}
	return c.where(), c.args
}

// filter is one of a filter's columns and the value it must have.
type filter struct{ column, value string }

// set is the filter's columns that have a value, in the filter index's order.
func (g listGroups) set() []filter {
	var out []filter
	for _, f := range [...]filter{{"bot", g.bot}, {"provider", g.provider}, {"status", g.status}} {
		if f.value != "" {
			out = append(out, f)
		}
	}
	return out
}

// within reads columns of the first ?3 rows of the filter in the page's order from the cursor
// (?2) to a bound (?1, included). By groups: one range of the filter index per group, the rows
// sorted (no more than the span holds). By the table: its rows from the cursor, each tested
// against the filter, stopping after ?3 or at the bound; for a short span, where reading its
// rows is cheaper than one probe of the index per group.
func (g listGroups) within(byTable bool, columns string) string {
	past, bound, order := "<", ">=", "DESC"
	if g.asc() {
		past, bound, order = ">", "<=", "ASC"
	}
	if byTable {
		// +column: test the filter on each row rather than walk the filter index.
		var c conditions
		c.add("id " + bound + " ?1")
		c.add("id " + past + " ?2")
		for _, t := range g.numbered().terms {
			c.add("+" + t)
		}
		return `SELECT ` + columns + ` FROM identities` + c.where() + ` ORDER BY id ` + order + ` LIMIT ?3`
	}
	return `SELECT ` + columns + ` FROM identities WHERE (bot, provider, status) IN
		(SELECT bot, provider, status FROM identity_counts` + g.numbered().where() + `)
		AND id ` + bound + ` ?1 AND id ` + past + ` ?2 ORDER BY id ` + order + ` LIMIT ?3`
}

// density reads the largest id, and how many rows and groups the filter has.
func (g listGroups) density() string {
	where, _ := g.where()
	return `SELECT (SELECT coalesce(max(id), 0) FROM identities), coalesce(sum(n), 0), count(*)
		FROM identity_counts` + where
}

// numbered is the filter on identity_counts with its parameters numbered from ?4: within
// takes its three arguments first and names them after the filter's.
func (g listGroups) numbered() conditions {
	var c conditions
	for i, f := range g.set() {
		c.add(fmt.Sprintf("%s = ?%d", f.column, 4+i))
	}
	return c
}

// args are within's arguments: the bound, the cursor and how many, then the filter's.
func (g listGroups) args(bound, cursor int64, n int) []any {
	_, args := g.where()
	return append([]any{bound, cursor, n}, args...)
}

// What filterSpans weighs, in rows of the table read in id order: one probe of the filter
// index (a descent from its root) costs about rowsPerProbe of them, and each row of the filter
// read through the index, which then has to be sorted with the span's other rows, about
// rowsPerSorted. The table is read when the span is no longer than what its groups would cost:
// a dense filter of many groups (one status among 600 groups) reads its span by the table,
// a rare one or one of few groups by the index. Measured at a million identities, with 90
// groups and with 1,800 (docs/BENCHMARKS.md, "What keeps the hot paths fast", item 39).
const (
	rowsPerProbe  = 8
	rowsPerSorted = 2
)

// filterSpans finds a span of ids past the cursor that holds the filter's first n rows in the
// page's order (or its last rows): read calls within on it, by the table or by groups, with
// its arguments, and says how many rows it found.
//
// Ids are handed out in the order rows are made, so the filter's first n rows past the cursor
// lie in a span of ids about n × (largest id ÷ the filter's rows, from identity_counts) long.
// filterSpans tries a span a quarter longer than that, but at most 4n or 2,048 ids long (a
// filter rare on average may be most of what was made lately), read by the table when that
// costs no more than its G groups would, else by groups. When it holds fewer than n (a rare
// filter, one rarer lately than on average, or the last page), it tries a span longer by what
// that one lacked, until one holds n or reaches the end. Whatever the spans, the answer is
// exact: within reads every row of the filter in its span. A page of n reads about 1.25 n
// rows and sorts them, plus one probe of the index per group per span (by groups), or the
// rows of a span up to rowsPerProbe × G + rowsPerSorted × (the filter's rows in it) long (by
// the table): one span for a filter of a quarter of the rows or more, two or three for rarer
// ones. With 20 bots × 30 providers × 3 statuses (1,800 groups), a filter on one status
// matches 600 groups: its page reads a few hundred rows of the table, or makes 600 to 1,800
// probes when the status is rare (BenchmarkListIdentitiesManyGroups).
func filterSpans(ctx context.Context, tx *sql.Tx, g listGroups, n int, read func(byTable bool, args []any) (int, error)) error {
	var maxID, filtered, groups int64
	if err := tx.QueryRowContext(ctx, g.density(), g.args(0, 0, 0)[3:]...).Scan(&maxID, &filtered, &groups); err != nil {
		return err
	}
	if filtered == 0 {
		_, err := read(true, g.args(0, 0, 0)) // nothing to find: an empty span
		return err
	}
	cursor := min(g.cursor(), maxID+1)
	span := min(int64(float64(n)*float64(maxID)/float64(filtered)*1.25)+1, max(4*int64(n), 2048))
	for {
		bound, end := cursor-span, false
		if g.asc() {
			bound = cursor + span
			end = bound >= maxID
		} else {
			end = bound <= 1
		}
		// The filter's rows the span is likely to hold, from its share of every id.
		expected := min(int64(n), int64(float64(span)*float64(filtered)/float64(maxID+1)))
		found, err := read(span <= rowsPerProbe*groups+rowsPerSorted*expected, g.args(bound, cursor, n))
		if err != nil || found >= n || end {
			return err
		}
		// Longer in proportion to what is missing, at least twice, at most 64 times as long.
		grow := 64.0
		if found > 0 {
			grow = min(64, max(2, 1.5*float64(n)/float64(found)))
		}
		span = int64(float64(span) * grow)
	}
}

// cursor is the page's cursor, or past every id when there is none.
func (g listGroups) cursor() int64 {
	switch {
	case g.older > 0:
		return g.older
	case g.newer > 0:
		return g.newer
	}
	return math.MaxInt64
}
