package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// codec is how this store keeps the values the rules of package sqlstore pass and read.
type codec struct{}

func (codec) Time(t time.Time) any        { return millis(t) }
func (codec) NullTime() sqlstore.TimeDest { return new(millisTime) }
func (codec) Scopes(scopes []string) any  { return scopesJSON(scopes) }
func (codec) ID(id int64) any             { return nullID(id) }
func (codec) Constraint(err error) error  { return constraint(err) }
func (codec) IsForeignKey(err error) bool { return isForeignKey(err) }

func (codec) ScanIdentity(r sqlstore.Row) (store.Identity, error) { return scanIdentity(r) }

// millisTime is a scan destination for a time column.
type millisTime struct{ sql.NullInt64 }

func (m *millisTime) Time() time.Time { return fromMillis(m.NullInt64) }

// millis is the stored form of a time: unix milliseconds UTC, NULL for the zero time.
func millis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMillis is the inverse of millis.
func fromMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// scopesJSON encodes scopes as a JSON array; nil and empty are both "[]". Encoding a list of
// strings cannot fail: invalid UTF-8 is written as U+FFFD.
func scopesJSON(scopes []string) string {
	if len(scopes) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(scopes)
	return string(b)
}

// parseScopes decodes a JSON array of scopes; an empty array reads back as nil.
//
// Every identity read decodes its scopes, the credentials read included; encoding/json's
// reflection made that about a quarter of the row's scan time. What scopesJSON writes (no
// spaces, no escapes, valid UTF-8) is split by hand; anything else goes to encoding/json.
func parseScopes(s string) ([]string, error) {
	if s == "[]" {
		return nil, nil
	}
	if scopes, ok := splitPlainScopes(s); ok {
		return scopes, nil
	}
	var scopes []string
	if err := json.Unmarshal([]byte(s), &scopes); err != nil {
		return nil, fmt.Errorf("decode scopes %q: %w", s, err)
	}
	if len(scopes) == 0 {
		return nil, nil
	}
	return scopes, nil
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner = sqlstore.Row

// splitPlainScopes decodes `["a","b"]` when no scope holds a quote, a backslash, a control
// character or invalid UTF-8 (where encoding/json would unescape or substitute), so its answer
// is exactly encoding/json's; ok is false for anything else.
func splitPlainScopes(s string) (scopes []string, ok bool) {
	if len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' || !utf8.ValidString(s) {
		return nil, false
	}
	rest := s[1 : len(s)-1]
	scopes = make([]string, 0, strings.Count(rest, ",")+1)
	for {
		if len(rest) < 2 || rest[0] != '"' {
			return nil, false
		}
		end := 1
		for end < len(rest) && rest[end] != '"' {
			if c := rest[end]; c == '\\' || c < 0x20 {
				return nil, false
			}
			end++
		}
		if end == len(rest) {
			return nil, false
		}
		scopes = append(scopes, rest[1:end])
		rest = rest[end+1:]
		if rest == "" {
			return scopes, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		rest = rest[1:]
	}
}
