package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
)

// txStore opens a store on a fresh schema with a pool of two connections (so a transaction
// that kept its connection would show at the third) and a table for the probes.
func txStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), pgtest.DSN(t), Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Close waits for every connection in use: bounded, so a transaction that kept its
		// connection fails the test instead of hanging it.
		closed := make(chan struct{})
		go func() { _ = s.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Error("closing the pool waited 10 s for a connection: a transaction kept it")
		}
	})
	if _, err := s.pool.Exec(t.Context(), `CREATE TABLE tx_probe (k text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return s
}

// probes counts the committed rows of tx_probe with key k, seen from another connection.
func probes(ctx context.Context, t *testing.T, s *Store, k string) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tx_probe WHERE k = $1`, k).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTransactionBeginsWithItsFirstStatement: the first statement, sent in one batch with
// BEGIN, is inside the transaction: no other connection sees it before the commit, and a
// later failure takes it back, whichever way the first statement was sent.
func TestTransactionBeginsWithItsFirstStatement(t *testing.T) {
	s := txStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	first := map[string]func(q querier, k string) error{
		"Exec": func(q querier, k string) error {
			_, err := q.Exec(ctx, `INSERT INTO tx_probe (k) VALUES ($1)`, k)
			return err
		},
		"QueryRow": func(q querier, k string) error {
			var got string
			err := q.QueryRow(ctx, `INSERT INTO tx_probe (k) VALUES ($1) RETURNING k`, k).Scan(&got)
			if err == nil && got != k {
				err = errors.New("RETURNING gave " + got)
			}
			return err
		},
		"Query": func(q querier, k string) error {
			rows, err := q.Query(ctx, `INSERT INTO tx_probe (k) VALUES ($1) RETURNING k`, k)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if n != 1 {
				return errors.New("RETURNING gave no row")
			}
			return nil
		},
	}
	for name, send := range first {
		t.Run(name, func(t *testing.T) {
			failed := errors.New("the second statement failed")
			err := s.inTx(ctx, func(q querier) error {
				if err := send(q, name+"-undone"); err != nil {
					return err
				}
				if n := probes(ctx, t, s, name+"-undone"); n != 0 {
					t.Errorf("another connection sees the first statement's row before the commit (%d)", n)
				}
				var same int
				if err := q.QueryRow(ctx, `SELECT count(*) FROM tx_probe WHERE k = $1`, name+"-undone").Scan(&same); err != nil || same != 1 {
					t.Errorf("the transaction's second statement sees %d rows of its first (%v), want 1", same, err)
				}
				return failed
			})
			if !errors.Is(err, failed) {
				t.Fatalf("inTx = %v, want fn's error", err)
			}
			if n := probes(ctx, t, s, name+"-undone"); n != 0 {
				t.Errorf("a failed transaction left its first statement's row (%d)", n)
			}

			if err := s.inTx(ctx, func(q querier) error { return send(q, name+"-kept") }); err != nil {
				t.Fatal(err)
			}
			if n := probes(ctx, t, s, name+"-kept"); n != 1 {
				t.Errorf("a committed transaction left %d rows, want 1", n)
			}
		})
	}
}

// TestTransactionGivesBackItsConnection: however a transaction ends (its first statement
// refused, fn failing after it, a cancelled context, a panic, nothing sent at all), its
// connection goes back to the pool of two: ten of each in a row would otherwise wait for one
// forever.
func TestTransactionGivesBackItsConnection(t *testing.T) {
	s := txStore(t)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO tx_probe (k) VALUES ('taken')`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	oops := errors.New("oops")
	endings := map[string]func(q querier) error{
		"first statement refused": func(q querier) error {
			_, err := q.Exec(ctx, `INSERT INTO tx_probe (k) VALUES ('taken')`)
			return err
		},
		"first row refused": func(q querier) error {
			var k string
			return q.QueryRow(ctx, `INSERT INTO tx_probe (k) VALUES ('taken') RETURNING k`).Scan(&k)
		},
		"first row never scanned": func(q querier) error {
			q.QueryRow(ctx, `SELECT k FROM tx_probe`)
			return oops
		},
		"fn fails after its first statement": func(q querier) error {
			if _, err := q.Exec(ctx, `SELECT 1`); err != nil {
				return err
			}
			return oops
		},
		"nothing sent": func(querier) error { return nil },
	}
	for name, end := range endings {
		for range 10 {
			err := s.inTx(ctx, end)
			if ctx.Err() != nil {
				t.Fatalf("%s: the pool ran out of connections: %v", name, err)
			}
			var pe *pgconn.PgError
			switch {
			case name == "nothing sent" && err != nil:
				t.Fatalf("%s: %v", name, err)
			case name == "first statement refused" || name == "first row refused":
				if !errors.As(err, &pe) || pe.Code != "23505" {
					t.Fatalf("%s: %v, want the unique violation", name, err)
				}
			case name != "nothing sent" && !errors.Is(err, oops):
				t.Fatalf("%s: %v, want fn's error", name, err)
			}
		}
	}
	// A context already over: the batch never gets a connection, and says why.
	done, stop := context.WithCancel(ctx)
	stop()
	for range 10 {
		err := s.inTx(done, func(q querier) error {
			_, err := q.Exec(done, `INSERT INTO tx_probe (k) VALUES ('never')`)
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled transaction: %v, want context.Canceled", err)
		}
	}
	if n := probes(ctx, t, s, "never"); n != 0 {
		t.Errorf("a cancelled transaction wrote its row (%d)", n)
	}
	for range 10 {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("the panic did not reach the caller")
				}
			}()
			_ = s.inTx(ctx, func(q querier) error {
				if _, err := q.Exec(ctx, `INSERT INTO tx_probe (k) VALUES ('panicked')`); err != nil {
					return err
				}
				panic("in fn")
			})
		}()
		if ctx.Err() != nil {
			t.Fatal("a panicking transaction kept its connection")
		}
	}
	if n := probes(ctx, t, s, "panicked"); n != 0 {
		t.Errorf("a panicking transaction committed its row (%d)", n)
	}
}
