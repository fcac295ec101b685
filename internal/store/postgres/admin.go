package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// maxListLimit bounds one page of the operators' list.
const maxListLimit = 500

// listedColumns are identityColumns without the tokens: the operators' list has no use for
// sealed tokens, so they never leave the database on this path.
const listedColumns = `id, bot, channel, user_id, provider, provider_user_id,
	name, nickname, email, avatar_url, status, scopes, token_type, expires_at,
	linked_at, updated_at`

// searched are the five expressions a search looks at, each the expression of one index of
// 0002_admin.sql, word for word: translate() folds A-Z and nothing else, whatever the
// database's locale, and the "C" collation compares by code point.
var searched = []string{
	`translate(user_id, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"`,
	`translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"`,
	`translate(nickname, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"`,
	`translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"`,
	`translate(substr(name, strpos(name, ' ') + 1), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"`,
}

// ListIdentities returns one page of identities across bots, newest first; see
// store.AdminStore.
//
// Without a search, a page is one backwards range scan of the index of its filter
// combination (0002_admin.sql) that stops after the page. With a search it is one statement
// whose five prefix ranges each match an expression index; the planner chooses between
// combining those index ranges (a narrow needle: an email, a user id) and walking the filter's
// index newest first until the page is full (a broad needle, "a"). It can only choose well
// if it sees the needle, so a search is sent unprepared and planned with its values.
func (s *Store) ListIdentities(ctx context.Context, q store.IdentityListQuery) (store.IdentityPage, error) {
	query, args, ok, err := listQuery(q)
	if err != nil {
		return store.IdentityPage{}, fmt.Errorf("postgres: list identities: %w", err)
	}
	page := store.IdentityPage{Identities: []store.Identity{}}
	if !ok {
		return page, nil // a needle no stored text can begin with
	}
	rows, err := s.pool.Query(ctx, query, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return store.IdentityPage{}, fmt.Errorf("postgres: list identities: %w", err)
	}
	got, err := sqlstore.Collect(rows, scanListed)
	if err != nil {
		return store.IdentityPage{}, fmt.Errorf("postgres: list identities: %w", err)
	}
	// One row more than the page was asked for: its presence is the answer to "is there more",
	// without a second query or a count.
	page.Identities = got
	if len(got) > q.Limit {
		page.More, page.Identities = true, got[:q.Limit]
	}
	if q.NewerThan > 0 {
		// Read upwards from the cursor (to stop after a page), shown newest first like every page.
		slices.Reverse(page.Identities)
	}
	return page, nil
}

// listQuery builds the statement of one page. Only its shape varies (which filters, which
// direction); every value is a parameter. ok is false when the search cannot match anything.
func listQuery(q store.IdentityListQuery) (query string, args []any, ok bool, err error) {
	switch {
	case q.Limit < 1 || q.Limit > maxListLimit:
		return "", nil, false, fmt.Errorf("limit %d is not between 1 and %d", q.Limit, maxListLimit)
	case q.OlderThan < 0 || q.NewerThan < 0:
		return "", nil, false, errors.New("a cursor is negative")
	case q.OlderThan > 0 && q.NewerThan > 0:
		return "", nil, false, errors.New("both OlderThan and NewerThan are set")
	}
	var c conditions
	for _, f := range []struct{ column, value string }{{"bot", q.Bot}, {"provider", q.Provider}, {"status", q.Status}} {
		if f.value != "" {
			c.add(f.column+" = ?", f.value)
		}
	}
	order := "DESC"
	switch {
	case q.OlderThan > 0:
		c.add("id < ?", q.OlderThan)
	case q.NewerThan > 0:
		order = "ASC"
		c.add("id > ?", q.NewerThan)
	}
	if needle, searching := searchNeedle(q.Search); searching {
		lo, hi, matchable := prefixRange(needle)
		if !matchable {
			return "", nil, false, nil
		}
		var ranges []string
		for _, e := range searched {
			term := e + " >= " + c.param(lo)
			if hi != "" {
				term += " AND " + e + " < " + c.param(hi)
			}
			ranges = append(ranges, "("+term+")")
		}
		c.terms = append(c.terms, "("+strings.Join(ranges, " OR ")+")")
	}
	query = `SELECT ` + listedColumns + ` FROM identities` + c.where()
	query += ` ORDER BY id ` + order + ` LIMIT ` + c.param(q.Limit+1)
	return query, c.args, true, nil
}

// searchNeedle is the search as the indexes hold it: trimmed, without a leading '@' (people
// type nicknames that way), and with A-Z folded like translate() in the indexes.
func searchNeedle(s string) (string, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "@")
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b), s != ""
}

// prefixRange is the range [lo, hi) of strings, in code point order, that begin with p: hi is
// p with its last character incremented (hi "" when p ends in characters that have no
// successor: no upper bound). Unlike the SQLite store's byte increment, it stays valid UTF-8,
// which PostgreSQL requires of every text value. A needle that is not valid UTF-8 or holds a
// NUL begins no stored text (PostgreSQL stores neither): matchable is false.
func prefixRange(p string) (lo, hi string, matchable bool) {
	if !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		return "", "", false
	}
	r := []rune(p)
	for len(r) > 0 {
		next := r[len(r)-1] + 1
		if next == 0xD800 { // surrogates are not characters: the next one is U+E000
			next = 0xE000
		}
		if next <= unicode.MaxRune {
			r[len(r)-1] = next
			return p, string(r), true
		}
		r = r[:len(r)-1]
	}
	return p, "", true
}

// conditions collects the terms of a WHERE clause and their arguments, numbering the
// placeholders in order.
type conditions struct {
	terms []string
	args  []any
}

// add appends a term whose '?' placeholders take args in order.
func (c *conditions) add(term string, args ...any) {
	for _, a := range args {
		term = strings.Replace(term, "?", c.param(a), 1)
	}
	c.terms = append(c.terms, term)
}

// param appends one argument and returns its placeholder.
func (c *conditions) param(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

func (c *conditions) where() string {
	if len(c.terms) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.terms, " AND ")
}

func scanListed(row rowScanner) (store.Identity, error) {
	var (
		i                        store.Identity
		scopes                   []string
		expires, linked, updated pgtype.Timestamptz
	)
	err := row.Scan(&i.ID, &i.Bot, &i.Channel, &i.User, &i.Provider, &i.ProviderUserID,
		&i.Name, &i.NickName, &i.Email, &i.AvatarURL, &i.Status, &scopes, &i.TokenType, &expires,
		&linked, &updated)
	i.Scopes = scopesOf(scopes)
	i.ExpiresAt, i.LinkedAt, i.UpdatedAt = fromTS(expires), fromTS(linked), fromTS(updated)
	return i, err
}
