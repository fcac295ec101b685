// Package sqlstore is the one home of the store's rules for the SQL backends: what a
// completed link writes and in what order, that relinking keeps an identity's status, what an
// unlink writes, what a lease holder's refresh may store and how a lease ends, confirmation
// bookkeeping, the webhook outbox's claims, and the janitor's batches and lease. Each rule is
// written here once, as Go that runs inside the backend's transaction, against the statements
// (Statements, one per step) and value conversions (Codec) that each backend supplies:
// internal/store/sqlite and internal/store/postgres keep their own SQL, their connections and
// their hot reads, and embed *Rules for everything else.
//
// Why beside the stores rather than above them: every rule here decides on what the
// transaction has just read or locked (the status an identity has now, whether the lease is
// still the caller's, which providers of a link are left). Computed above the store, a rule
// would need its inputs read in one call and its outcome written in another, with a race in
// between and a round trip more; here the decision and the write are one transaction on one
// connection, and each backend's SQL says how its database keeps it safe (FOR UPDATE in
// PostgreSQL, the single writer in SQLite).
//
// It imports package store and database/sql's ErrNoRows only: nothing of a driver.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Conn runs statements: a backend's transaction, its write connection or its read pool.
// Row.Scan reports no row with an error that errors.Is matches to sql.ErrNoRows (pgx's
// ErrNoRows does).
type Conn interface {
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Insert runs a statement that inserts exactly one row or fails, and returns the new
	// row's id. How the id comes back is the backend's: SQLite reads the connection's last
	// inserted rowid after an Exec, cheaper than a RETURNING clause's result row; PostgreSQL's
	// statement ends with RETURNING id.
	Insert(ctx context.Context, query string, args ...any) (int64, error)
}

// Row is one result row.
type Row interface {
	Scan(dest ...any) error
}

// Rows are the result rows of a query; Close releases them.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// DB is a backend's database.
type DB interface {
	// InTx runs fn in one write transaction and commits it when fn returns nil. fn may run
	// more than once (PostgreSQL retries a deadlock victim), so it sets its results afresh.
	InTx(ctx context.Context, fn func(Conn) error) error
	// Writer runs single write statements, each its own transaction.
	Writer() Conn
	// Reader runs reads.
	Reader() Conn
}

// Codec converts what the backends' drivers take and give differently: times (SQLite keeps
// unix milliseconds, PostgreSQL timestamptz), scopes (a JSON array, a text array) and ids
// that may be absent, and it reads an identity, whose columns hold those.
type Codec interface {
	// Time is t as a statement argument, truncated to the millisecond; the zero time is NULL.
	Time(t time.Time) any
	// NullTime is a scan destination for a time column; NULL reads as the zero time, and
	// every time reads back in UTC.
	NullTime() TimeDest
	// Scopes is a list of scopes as a statement argument; nil and empty are alike.
	Scopes(scopes []string) any
	// ID is an id as a statement argument, 0 as NULL.
	ID(id int64) any
	// ScanIdentity reads the identity columns (Statements' "identity columns", in the order
	// of store.Identity's fields); a longer row is read through Extend.
	ScanIdentity(r Row) (store.Identity, error)
	// Constraint turns a unique violation into an error that wraps store.ErrConflict.
	Constraint(err error) error
	// IsForeignKey reports whether err is a foreign key violation.
	IsForeignKey(err error) bool
}

// TimeDest is a scan destination that holds a time.
type TimeDest interface {
	Time() time.Time
}

// Rules implements the part of store.Store (and store.AdminStore) that is not a backend's
// own SQL or reads: the backends embed it. It is safe for concurrent use.
type Rules struct {
	name  string // the backend's name, which starts every error message
	db    DB
	sql   *Statements
	codec Codec
}

// New returns the rules running on db with the backend's statements and codec. name
// ("sqlite", "postgres") prefixes every error.
func New(name string, db DB, statements *Statements, codec Codec) *Rules {
	return &Rules{name: name, db: db, sql: statements, codec: codec}
}

// errorf wraps an error with the backend's name and what failed.
func (r *Rules) errorf(format string, args ...any) error {
	return fmt.Errorf(r.name+": "+format, args...)
}

// Normal is t as it reads back from every store: truncated to the millisecond, in UTC.
func Normal(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// noRows reports whether err says a query found no row.
func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// oneRowOrLost turns a write conditioned on holding a lease or claim into
// store.ErrLeaseLost when it changed nothing.
func oneRowOrLost(n int64, err error) error {
	if err != nil {
		return err
	}
	if n != 1 {
		return store.ErrLeaseLost
	}
	return nil
}

// nilIfEmpty makes an empty slice a SQL NULL, so COALESCE treats "none" alike either way.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nonNil sends an empty value as an empty blob: a nil []byte would be sent as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// maxLastError bounds what a failed delivery attempt leaves in last_error.
const maxLastError = 300

// clip bounds an error message, cutting at a character boundary, without NUL or invalid
// UTF-8 (PostgreSQL refuses both in text).
func clip(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "")
	if len(s) <= maxLastError {
		return s
	}
	return strings.ToValidUTF8(s[:maxLastError], "") + "…"
}

// Collect scans every row with scan into a non-nil slice and closes rows.
func Collect[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Extend is r with extra destinations appended to every Scan: a row of identity columns
// followed by more is read with Codec.ScanIdentity(Extend(r, more...)).
func Extend(r Row, extra ...any) Row { return extended{r, extra} }

type extended struct {
	Row
	extra []any
}

func (e extended) Scan(dest ...any) error { return e.Row.Scan(append(dest, e.extra...)...) }

// scanInt64 reads a row of one integer.
func scanInt64(r Row) (int64, error) {
	var n int64
	err := r.Scan(&n)
	return n, err
}
