package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// The rules of package sqlstore run on this store through these adapters of pgx.

// rulesDB is the store's database as the rules see it: transactions that retry a deadlock
// victim (inTx), and the pool.
type rulesDB struct{ s *Store }

func (d rulesDB) InTx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	return d.s.inTx(ctx, func(q querier) error { return fn(pgConn{q}) })
}

func (d rulesDB) Writer() sqlstore.Conn { return pgConn{d.s.pool} }
func (d rulesDB) Reader() sqlstore.Conn { return pgConn{d.s.pool} }

// pgConn is a sqlstore.Conn on the pool or a transaction. pgx.Row and pgx.Rows are
// sqlstore's Row and Rows as they are.
type pgConn struct{ q querier }

func (c pgConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRow(ctx, query, args...)
}

func (c pgConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return c.q.Query(ctx, query, args...)
}

func (c pgConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

// Insert runs a statement ending with RETURNING id.
func (c pgConn) Insert(ctx context.Context, query string, args ...any) (int64, error) {
	var id int64
	err := c.q.QueryRow(ctx, query, args...).Scan(&id)
	return id, err
}

// codec is how this store keeps the values the rules pass and read.
type codec struct{}

func (codec) Time(t time.Time) any        { return ts(t) }
func (codec) NullTime() sqlstore.TimeDest { return new(timestamp) }
func (codec) Scopes(scopes []string) any  { return scopesArray(scopes) }
func (codec) ID(id int64) any             { return nullID(id) }
func (codec) Constraint(err error) error  { return constraint(err) }
func (codec) IsForeignKey(err error) bool { return isForeignKey(err) }

func (codec) ScanIdentity(r sqlstore.Row) (store.Identity, error) { return scanIdentity(r) }

// timestamp is a scan destination for a time column.
type timestamp struct{ pgtype.Timestamptz }

func (t *timestamp) Time() time.Time { return fromTS(t.Timestamptz) }
