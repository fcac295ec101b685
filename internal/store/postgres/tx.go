package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// txAttempts bounds how often inTx runs a transaction that PostgreSQL aborted as a deadlock
// victim or a serialization failure: both say "nothing was written, try again".
const txAttempts = 3

// inTx runs fn in one READ COMMITTED transaction and commits it when fn returns nil. fn may
// run again after a deadlock or serialization failure, so it must set its results afresh.
func (s *Store) inTx(ctx context.Context, fn func(q querier) error) error {
	for attempt := 1; ; attempt++ {
		t := &lazyTx{pool: s.pool}
		err := t.run(ctx, fn)
		if attempt < txAttempts && retryable(err) {
			continue
		}
		return err
	}
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// lazyTx is a transaction whose BEGIN goes out with its first statement, in one batch
// (pgx's Batch.BeginTx), instead of in a round trip of its own: a link's creation was BEGIN,
// two inserts and COMMIT, four round trips, and is three now. Every later statement
// runs on the transaction as usual. A transaction that sends nothing costs nothing. As with
// any pgx batch, the first statement's row is scanned (or its rows closed) before the next
// statement is sent; the rules always do.
type lazyTx struct {
	pool *pgxpool.Pool
	tx   pgx.Tx           // nil until the first statement is sent
	open pgx.BatchResults // the first statement's batch, until its result has been read
}

// run runs fn on t, then commits, or rolls back when fn fails or panics.
func (t *lazyTx) run(ctx context.Context, fn func(q querier) error) (err error) {
	defer func() {
		_ = t.closeBatch(nil) // fn's error, or the commit's, says what went wrong
		if t.tx == nil {
			return
		}
		// After a commit this does nothing and says ErrTxClosed; after a failure it releases
		// the transaction's connection (a batch whose BEGIN failed left no transaction).
		if rerr := t.tx.Rollback(ctx); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) && err == nil {
			err = rerr
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if err := t.closeBatch(nil); err != nil || t.tx == nil {
		return err
	}
	return t.tx.Commit(ctx)
}

// begin sends BEGIN and the first statement, and reads BEGIN's answer.
func (t *lazyTx) begin(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(sql, args...)
	br := t.pool.SendBatch(ctx, b)
	t.tx, t.open = br.Tx(), br
	if _, err := br.Exec(); err != nil {
		return nil, t.closeBatch(err)
	}
	return br, nil
}

// closeBatch closes the first statement's batch if it is still open, and returns err, or
// the batch's own error when err is nil.
func (t *lazyTx) closeBatch(err error) error {
	if t.open == nil {
		return err
	}
	cerr := t.open.Close()
	t.open = nil
	if err != nil {
		return err
	}
	return cerr
}

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.tx != nil {
		return t.tx.Exec(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, t.closeBatch(err)
}

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.tx != nil {
		return t.tx.QueryRow(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return firstRow{t, br.QueryRow()}
}

func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.tx != nil {
		return t.tx.Query(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, t.closeBatch(err)
	}
	return &firstRows{Rows: rows, t: t}, nil
}

// firstRow is the first statement's row: scanning it closes the batch, so the transaction
// can take the next statement.
type firstRow struct {
	t   *lazyTx
	row pgx.Row
}

func (r firstRow) Scan(dest ...any) error { return r.t.closeBatch(r.row.Scan(dest...)) }

// firstRows are the first statement's rows: closing them closes the batch.
type firstRows struct {
	pgx.Rows
	t *lazyTx
}

func (r *firstRows) Close() {
	r.Rows.Close()
	_ = r.t.closeBatch(nil) // an error stays in Err, where the caller looks
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
