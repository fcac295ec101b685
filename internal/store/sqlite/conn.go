package sqlite

import (
	"context"
	"database/sql"

	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// The rules of package sqlstore run on this store through these adapters of database/sql.

// rulesDB is the store's database as the rules see it: write transactions and single writes
// on the one writer connection, reads on the read pool.
type rulesDB struct{ s *Store }

func (d rulesDB) InTx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	return d.s.inTx(ctx, func(tx *sql.Tx) error { return fn(conn[*sql.Tx]{tx}) })
}

func (d rulesDB) Writer() sqlstore.Conn { return conn[*sql.DB]{d.s.writer} }
func (d rulesDB) Reader() sqlstore.Conn { return conn[*sql.DB]{d.s.reader} }

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// conn is a sqlstore.Conn on a *sql.DB or *sql.Tx.
type conn[Q querier] struct{ q Q }

func (c conn[Q]) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRowContext(ctx, query, args...)
}

func (c conn[Q]) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c conn[Q]) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sqlRows are *sql.Rows as sqlstore.Rows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
