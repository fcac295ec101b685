package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// The rules of package sqlstore run on this store through these adapters of database/sql.

// rulesDB is the store's database as the rules see it: write transactions and single writes
// on the one writer connection, reads on the read pool.
type rulesDB struct{ s *Store }

func (d rulesDB) InTx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	return d.s.inTx(ctx, func(_ context.Context, tx *sql.Tx) error { return fn(d.s.tx(tx)) })
}

// Writer runs each single write as a write transaction of its own through the writer loop,
// so that it shares the batches' commits too.
func (d rulesDB) Writer() sqlstore.Conn { return singleWrites(d) }
func (d rulesDB) Reader() sqlstore.Conn { return conn{q: d.s.reader, stmts: d.s.readStmts} }

// singleWrites are the rules' single writes. Exec, Insert and QueryRow (whose Scan runs the
// statement) go through the writer loop; Query, whose rows outlive the call, runs on the
// writer connection between batches.
type singleWrites struct{ s *Store }

func (w singleWrites) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return w.alone(ctx, func(ctx context.Context, c conn) (int64, error) { return c.Exec(ctx, query, args...) })
}

func (w singleWrites) Insert(ctx context.Context, query string, args ...any) (int64, error) {
	return w.alone(ctx, func(ctx context.Context, c conn) (int64, error) { return c.Insert(ctx, query, args...) })
}

// alone runs fn as a write transaction of its own and returns its count or id.
func (w singleWrites) alone(ctx context.Context, fn func(ctx context.Context, c conn) (int64, error)) (int64, error) {
	var n int64
	err := w.s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		n, err = fn(ctx, w.s.tx(tx))
		return err
	})
	return n, err
}

func (w singleWrites) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return singleRow{w.s, ctx, query, args}
}

func (w singleWrites) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return conn{q: w.s.writer, stmts: w.s.writeStmts}.Query(ctx, query, args...)
}

// singleRow is a single write's result row; Scan runs the statement.
type singleRow struct {
	s     *Store
	ctx   context.Context
	query string
	args  []any
}

func (r singleRow) Scan(dest ...any) error {
	return r.s.inTx(r.ctx, func(ctx context.Context, tx *sql.Tx) error {
		return r.s.tx(tx).QueryRow(ctx, r.query, r.args...).Scan(dest...)
	})
}

// querier is a *sql.DB, a *sql.Tx or a *sql.Stmt bound to one of them.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// prepared are statements prepared once on a pool, by their SQL text.
type prepared map[string]*sql.Stmt

// conn is a sqlstore.Conn on a *sql.DB or *sql.Tx. A statement whose text is one of stmts
// runs prepared: SQLite compiles it once per connection instead of once per call (in a
// transaction, through Tx.StmtContext, which reuses the statement the writer connection
// already holds).
type conn struct {
	q     querier
	stmts prepared
	// uncancel drops the cancellation of the contexts statements get: set in a write
	// transaction, which shares its batch with other callers' writes (see inTx).
	uncancel bool
}

// tx is the view of a write transaction of the writer loop, for the rules and this store.
func (s *Store) tx(tx *sql.Tx) conn { return conn{q: tx, stmts: s.writeStmts, uncancel: true} }

// context is ctx as c's statements run with it.
func (c conn) context(ctx context.Context) context.Context {
	if c.uncancel {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt is the prepared statement for query on c, or nil.
func (c conn) stmt(ctx context.Context, query string) *sql.Stmt {
	st := c.stmts[query]
	if st == nil {
		return nil
	}
	if tx, ok := c.q.(*sql.Tx); ok {
		return tx.StmtContext(ctx, st)
	}
	return st
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	ctx = c.context(ctx)
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.q.QueryRowContext(ctx, query, args...)
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	ctx = c.context(ctx)
	var (
		rows *sql.Rows
		err  error
	)
	if st := c.stmt(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = c.q.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Insert is the rowid of the row query inserted: the connection's last inserted rowid, read
// at once by the driver after the statement, on the connection that ran it. The statement has
// no RETURNING clause: reading its result row through database/sql cost a fifth of a link's
// write (BenchmarkCreateLinkParallel, docs/BENCHMARKS.md item 27).
func (c conn) Insert(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = c.context(ctx)
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.q.ExecContext(ctx, query, args...)
}

// sqlRows are *sql.Rows as sqlstore.Rows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// statementTexts are the SQL texts of every statement the rules run on this store (each
// string of statements, and the purge batches), and this store's own writes.
func statementTexts() []string {
	var out []string
	v := reflect.ValueOf(statements)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String && f.String() != "" {
			out = append(out, f.String())
		}
	}
	for _, q := range statements.Purge {
		out = append(out, q)
	}
	return append(out, consumeFlow, selectLinkByID, leaseHolder, takeLease, savepointOp, releaseOp, rollbackToOp)
}

// prepare prepares each of queries on db; reads only selects the statements that only read
// (the read pool is query_only).
func prepare(ctx context.Context, db *sql.DB, queries []string, readsOnly bool) (prepared, error) {
	out := prepared{}
	for _, q := range queries {
		if readsOnly && !strings.HasPrefix(strings.TrimSpace(q), "SELECT") {
			continue
		}
		if _, ok := out[q]; ok {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			out.close()
			return nil, fmt.Errorf("sqlite: prepare %q: %w", q, err)
		}
		out[q] = st
	}
	return out, nil
}

func (p prepared) close() error {
	var first error
	for _, st := range p {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
