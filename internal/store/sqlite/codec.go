package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

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

// normalTime is t as it reads back from the database.
func normalTime(t time.Time) time.Time { return fromMillis(millis(t)) }

// scopesJSON encodes scopes as a JSON array; nil and empty are both "[]".
func scopesJSON(scopes []string) (string, error) {
	if len(scopes) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(scopes)
	if err != nil {
		return "", fmt.Errorf("encode scopes: %w", err)
	}
	return string(b), nil
}

// parseScopes decodes a JSON array of scopes; an empty array reads back as nil.
func parseScopes(s string) ([]string, error) {
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
type rowScanner interface{ Scan(dest ...any) error }
