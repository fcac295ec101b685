// Package postgres is the store.Store for several broker instances behind one load balancer:
// every instance talks to one PostgreSQL database through github.com/jackc/pgx/v5, and
// nothing an instance needs between two requests lives anywhere else.
//
// What makes the single-use and one-at-a-time rules hold across instances is always one
// conditional write on a row (UPDATE … WHERE used_at IS NULL, WHERE the lease is free, FOR
// UPDATE SKIP LOCKED for the outbox) under READ COMMITTED: a second writer waits for the
// first one's row lock, then re-checks its condition against the committed row and finds it
// false. No advisory lock or SERIALIZABLE retry loop is on a request's path; a deadlock or
// serialization failure that PostgreSQL reports anyway is retried (inTx).
//
// The store's rules (what completing a link writes, the refresh lease, confirmations, the
// outbox, retention) are package sqlstore's, which this store embeds and runs on its own SQL
// (statements.go, migrations/), written for PostgreSQL. What is here is PostgreSQL's: the
// pool, transactions whose BEGIN travels with their first statement (tx.go), migrations under
// an advisory lock, the reads, the credentials reads and new links made together sent as one
// statement (batch.go), the operators' list, the bulk import, and the writes
// PostgreSQL does in one statement where SQLite needs two (AcquireRefreshLease, ConsumeFlow).
// Both stores pass the conformance suite in storetest.
//
// It imports only package store and pgx: nothing of HTTP, goth or encryption.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// Store is a store.Store on one PostgreSQL database (or one schema of
// it: the DSN's search_path picks it). It is safe for concurrent use.
type Store struct {
	*sqlstore.Rules // the transactions, on this store's statements

	pool   *pgxpool.Pool
	tokens *tokenReads  // IdentityTokens, many reads to a query under load
	links  *linkCreates // CreateLink, many links to a statement under load
}

var _ store.Store = (*Store)(nil)

// DefaultMaxConns is the pool size when Options.MaxConns is 0.
const DefaultMaxConns = 10

// Options tune Open.
type Options struct {
	// MaxConns bounds this instance's connections (storage.max_conns); 0 is DefaultMaxConns.
	// It is the one knob: a pool_max_conns in the DSN is overridden. N instances hold up to
	// N × MaxConns connections: keep that below the server's max_connections.
	MaxConns int
}

// Open connects to the database at dsn (a postgres:// URL; a search_path parameter selects
// the schema), migrates it to the newest schema this binary knows under an advisory lock, so
// that instances starting together migrate once, and returns the store. It refuses a
// database whose schema is newer than the binary.
//
// Errors never quote the DSN: it usually carries a password.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: the DSN is not a valid postgres:// URL: %w", err)
	}
	cfg.MaxConns = DefaultMaxConns
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(min(opts.MaxConns, 10_000))
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "oauthbroker"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	s := &Store{pool: pool, tokens: newTokenReads(pool)}
	s.Rules = sqlstore.New("postgres", rulesDB{s}, &statements, codec{})
	s.links = newLinkCreates(pool, s.Rules)
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", where(cfg), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// where names the server and database of a pool config, without user or password.
func where(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes every connection of the pool, waiting for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// constraint turns a unique violation into store.ErrConflict, keeping the server's message
// (which names the constraint) for the operator.
func constraint(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return err
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// ts is the stored form of a time: truncated to the millisecond like every store keeps it
// (toward zero, as the SQLite store's unix milliseconds are), NULL for the zero time.
func ts(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: time.UnixMilli(t.UnixMilli()).UTC(), Valid: true}
}

// fromTS is the inverse of ts, in UTC.
func fromTS(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// scopesArray is how scopes are stored: never NULL, so nil and empty are both '{}'.
func scopesArray(scopes []string) []string {
	if scopes == nil {
		return []string{}
	}
	return scopes
}

// scopesOf is the inverse of scopesArray: an empty array reads back as nil, as in every store.
func scopesOf(scopes []string) []string {
	if len(scopes) == 0 {
		return nil
	}
	return scopes
}

// rowScanner is a pgx.Row or pgx.Rows.
type rowScanner = sqlstore.Row

// querier is the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}
