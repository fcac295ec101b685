// Package pgtest gives each test a PostgreSQL schema of its own, so that test runs and
// parallel packages sharing one server never see each other's rows.
//
// The server is OAUTHBROKER_TEST_POSTGRES (a postgres:// URL), or by default the local one at
// 127.0.0.1:5432, database test, user postgres. Where no server answers, a test skips with
// one line saying so; under CI=true it fails instead, so that CI cannot pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable that overrides DefaultDSN.
const EnvDSN = "OAUTHBROKER_TEST_POSTGRES"

// DefaultDSN is the server the tests use when EnvDSN is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	probeOnce sync.Once
	probeErr  error
)

// ServerDSN is the server's DSN without a schema: EnvDSN's value, or DefaultDSN.
func ServerDSN() string {
	if v := strings.TrimSpace(os.Getenv(EnvDSN)); v != "" {
		return v
	}
	return DefaultDSN
}

// Available reports whether the server answers (asked once per process).
func Available() error {
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := connect(ctx, ServerDSN())
		if err != nil {
			probeErr = err
			return
		}
		probeErr = conn.Close(ctx)
	})
	return probeErr
}

// Require skips t (fails it under CI=true) when the server does not answer.
func Require(t testing.TB) {
	t.Helper()
	err := Available()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("PostgreSQL tests skipped: no server at %s (%v); set %s to a postgres:// URL", redact(ServerDSN()), oneLine(err), EnvDSN)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " — CI=true: the PostgreSQL tests must run")
	}
	t.Skip(msg)
}

// DSN creates a schema t_<random> on the server and returns a DSN whose search_path is that
// schema; the schema and everything in it are dropped when the test ends. Register it before
// anything that must be closed first (a store): cleanups run last-registered first.
func DSN(t testing.TB) string {
	t.Helper()
	Require(t)
	schema := "t_" + strings.ToLower(rand.Text()[:16])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	dsn, err := WithSchema(ServerDSN(), schema)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// WithSchema returns dsn with its search_path set to schema.
func WithSchema(dsn, schema string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("pgtest: %s must be a postgres:// URL", EnvDSN)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func exec(ctx context.Context, sql string) error { return Exec(ctx, ServerDSN(), sql) }

// Exec runs one statement on the database of dsn (a DSN from DSN: in its schema), for tests
// that set a database up by hand.
func Exec(ctx context.Context, dsn, sql string) error {
	conn, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// QueryInts runs a query of one integer column on the database of dsn.
func QueryInts(ctx context.Context, dsn, sql string) ([]int64, error) {
	conn, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = 5 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

// redact drops the password from a DSN for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(the DSN in " + EnvDSN + ")"
	}
	return u.Redacted()
}

// oneLine is err's innermost cause on one line ("dial tcp …: connection refused"): pgx
// reports each address and TLS mode it tried, which says the same thing several times.
func oneLine(err error) string {
	for {
		var next error
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			if errs := e.Unwrap(); len(errs) > 0 {
				next = errs[0]
			}
		case interface{ Unwrap() error }:
			next = e.Unwrap()
		}
		if next == nil {
			return strings.Join(strings.Fields(err.Error()), " ")
		}
		err = next
	}
}
