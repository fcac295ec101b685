package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// maxListLimit bounds one page of the operators' list.
const maxListLimit = 500

// selectListed is selectIdentity without the token columns: the operators' list has no use
// for sealed tokens, so they never leave the database on this path.
const selectListed = `SELECT id, bot, channel, user_id, provider, provider_user_id,
	name, nickname, email, avatar_url, status, scopes, token_type, expires_at,
	linked_at, updated_at FROM identities`

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
// store.AdminStore. Without a search, every filter combination is one backwards range scan of
// its own index that stops after the page; with one, see searchIndexedIDs.
func (s *Store) ListIdentities(ctx context.Context, q store.IdentityListQuery) (store.IdentityPage, error) {
	page, _, err := s.listIdentities(ctx, q, searchLimits{searchProbeRows, searchIndexedIDs})
	return page, err
}

func (s *Store) listIdentities(ctx context.Context, q store.IdentityListQuery, lim searchLimits) (store.IdentityPage, string, error) {
	p, err := listQueries(q, lim)
	if err != nil {
		return store.IdentityPage{}, "", fmt.Errorf("sqlite: list identities: %w", err)
	}
	got, way, err := s.page(ctx, p, q.Limit, lim)
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

// page runs the statements of a listPlan and returns up to limit+1 rows, and the way it took.
func (s *Store) page(ctx context.Context, p listPlan, limit int, lim searchLimits) ([]store.Identity, string, error) {
	if p.probe.query == "" {
		got, err := s.listed(ctx, p.indexed)
		return got, wayFilter, err
	}
	rows, err := s.count(ctx, p.filterRows)
	if err != nil {
		return nil, "", err
	}
	if rows <= lim.probeRows {
		got, err := s.listed(ctx, p.probe) // the probe tests every row of the filter: exact
		return got, wayProbeAll, err
	}
	ids, err := s.count(ctx, p.searchIDs)
	if err != nil {
		return nil, "", err
	}
	if ids <= lim.indexedIDs {
		got, err := s.listed(ctx, p.indexed)
		return got, wayIndexed, err
	}
	got, err := s.listed(ctx, p.probe)
	// A probe that filled the page (and one more row) is the exact answer: the newest
	// matches lie within the rows it tested.
	if err != nil || len(got) > limit {
		return got, wayProbe, err
	}
	got, err = s.listed(ctx, p.indexed)
	return got, wayProbeFallback, err
}

func (s *Store) count(ctx context.Context, lq listSQL) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, lq.query, lq.args...).Scan(&n)
	return n, err
}

func (s *Store) listed(ctx context.Context, lq listSQL) ([]store.Identity, error) {
	rows, err := s.reader.QueryContext(ctx, lq.query, lq.args...)
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

// listPlan is the statements of one page. Without a search only indexed is set: the page.
// With one, filterRows and searchIDs are the capped counts page decides by, probe tests the
// newest rows of the filter, and indexed reads the page from the ids in the search indexes.
type listPlan struct {
	filterRows, searchIDs, probe, indexed listSQL
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
	order, cursor, cursorID := "DESC", "", int64(0)
	switch {
	case q.OlderThan > 0:
		cursor, cursorID = "id < ?", q.OlderThan
	case q.NewerThan > 0:
		order, cursor, cursorID = "ASC", "id > ?", q.NewerThan
	}
	tail := " ORDER BY id " + order + " LIMIT ?"
	// filtered is the filters and the cursor. plus "+" writes the filters +column, which keeps
	// SQLite from walking a filter's index (all of a bot's rows, say) to test each row against
	// the search's ids, when those few ids are the cheaper side.
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

	needle, searching := searchNeedle(q.Search)
	if !searching {
		c := filtered("")
		return listPlan{indexed: listSQL{selectListed + c.where() + tail, append(c.args, q.Limit+1)}}, nil
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

	c := filtered("")
	p := listPlan{
		filterRows: listSQL{"SELECT count(*) FROM (SELECT id FROM identities" + c.where() + " LIMIT ?)", append(slices.Clone(c.args), lim.probeRows+1)},
		searchIDs:  listSQL{"SELECT count(*) FROM (" + ids + " LIMIT ?)", append(slices.Clone(branchArgs), lim.indexedIDs+1)},
		probe: listSQL{
			query: "SELECT * FROM (" + selectListed + c.where() + tail + ") WHERE " + strings.Join(match, " OR ") + tail,
			args:  append(append(append(c.args, lim.probeRows), matchArgs...), q.Limit+1),
		},
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
