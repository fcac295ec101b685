package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// Export reads a whole SQLite store for copying it into another one (`oauthbroker
// migrate-store`), every table the store's interface has no way to list included. It reads
// inside one read transaction: in WAL mode that is one snapshot, so a copy and its
// verification see the same rows even if something writes the file meanwhile.
type Export struct {
	db    *sql.DB
	tx    *sql.Tx
	rules *sqlstore.Rules // the store's reads, on the snapshot
}

// OpenExport opens the database at path for an export. It refuses a file that does not
// exist (Open would create it: a typo must not become an empty copy), and brings an older
// file up to this binary's schema first, which is the one Export reads.
func OpenExport(ctx context.Context, path string) (*Export, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: export: %w", err)
	}
	st, err := Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: export %s: %w", path, err)
	}
	params := url.Values{"_query_only": {"1"}, "_busy_timeout": {fmt.Sprint(busyTimeoutMS)}}
	db, err := sql.Open("sqlite3", dsn(fileURI(abs), params))
	if err != nil {
		return nil, fmt.Errorf("sqlite: export %s: %w", path, err)
	}
	oneConnection(db)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: export %s: %w", path, err)
	}
	e := &Export{db: db, tx: tx}
	e.rules = sqlstore.New("sqlite", snapshot{tx}, &statements, codec{})
	return e, nil
}

// Close ends the snapshot.
func (e *Export) Close() error {
	return errors.Join(e.tx.Rollback(), e.db.Close())
}

// snapshot is the export's read transaction as the rules' database: it only reads.
type snapshot struct{ tx *sql.Tx }

func (s snapshot) InTx(context.Context, func(sqlstore.Conn) error) error {
	return errors.New("sqlite: an export does not write")
}
func (s snapshot) Writer() sqlstore.Conn { return conn{q: s.tx} }
func (s snapshot) Reader() sqlstore.Conn { return conn{q: s.tx} }

// Counts returns the number of rows of every table in store.CopyTables.
func (e *Export) Counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range store.CopyTables {
		var n int64
		if err := e.tx.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: export: count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// LastOutboxID is the highest outbox id the store ever gave (AUTOINCREMENT remembers it past
// pruning), 0 when none: the target must not give a pruned event's id again.
func (e *Export) LastOutboxID(ctx context.Context) (int64, error) {
	var id int64
	err := e.tx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'webhook_outbox'`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: export: last outbox id: %w", err)
	}
	return id, nil
}

// SealedBatch is Store.SealedBatch on the snapshot: what a copy's verification compares.
func (e *Export) SealedBatch(ctx context.Context, afterID int64, limit int) ([]store.SealedValues, error) {
	return e.rules.SealedBatch(ctx, afterID, limit)
}

// CopyInto copies every table into im in the order of store.CopyTables, in batches of batch
// rows, calling report after each batch with the table and its rows copied so far.
func (e *Export) CopyInto(ctx context.Context, im store.Importer, batch int, report func(table string, done int64)) error {
	if batch < 1 {
		return fmt.Errorf("sqlite: export: batch %d must be positive", batch)
	}
	c := copier{e: e, batch: batch, report: report}
	for _, step := range []func(context.Context) error{
		func(ctx context.Context) error {
			return copyTable(ctx, c, "links", `SELECT id, token_hash, bot, channel, user_id, user_label, redirect_url,
				created_at, expires_at, used_at, cancelled_at FROM links ORDER BY id`, scanExportLink, im.Links)
		},
		func(ctx context.Context) error {
			return copyTable(ctx, c, "link_providers", `SELECT link_id, position, provider, scopes, identity_id, linked_at
				FROM link_providers ORDER BY link_id, position`, scanExportLinkProvider, im.LinkProviders)
		},
		func(ctx context.Context) error {
			return copyTable(ctx, c, "flows", `SELECT state_hash, link_id, created_at, expires_at, consumed_at
				FROM flows ORDER BY rowid`, scanExportFlow, im.Flows)
		},
		func(ctx context.Context) error {
			return copyTable(ctx, c, "identities", selectIdentity+` ORDER BY id`, scanIdentity, im.Identities)
		},
		func(ctx context.Context) error {
			return copyTable(ctx, c, "identity_events", `SELECT id, identity_id, bot, kind, outcome, detail, at
				FROM identity_events ORDER BY id`, scanExportEvent, im.Events)
		},
		func(ctx context.Context) error {
			return copyTable(ctx, c, "confirmations", `SELECT id, identity_id, link_id, bot, channel, user_id, code_hash,
				attempts, expires_at FROM confirmations ORDER BY id`, scanExportConfirmation, im.Confirmations)
		},
		func(ctx context.Context) error {
			return copyTable(ctx, c, "webhook_outbox", `SELECT `+outboxColumns+` FROM webhook_outbox ORDER BY id`,
				func(r rowScanner) (store.OutboxEvent, error) { return sqlstore.ScanOutboxRow(r, codec{}) }, im.Outbox)
		},
		func(ctx context.Context) error {
			return copyTable(ctx, c, "admin_sessions", `SELECT token_hash, credential, created_at, expires_at
				FROM admin_sessions ORDER BY rowid`, scanExportSession, im.AdminSessions)
		},
		func(ctx context.Context) error {
			return copyTable(ctx, c, "proxy_usage", `SELECT identity_id, calls, last_used_at, last_status
				FROM proxy_usage ORDER BY identity_id`, scanExportUsage, im.Usage)
		},
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// copier is one CopyInto's snapshot, batch size and progress report.
type copier struct {
	e      *Export
	batch  int
	report func(table string, done int64)
}

// copyTable streams one table's rows to write in batches; an empty table still reports once.
func copyTable[T any](ctx context.Context, c copier, table, query string, scan func(rowScanner) (T, error),
	write func(context.Context, []T) error) error {
	rows, err := c.e.tx.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("sqlite: export %s: %w", table, err)
	}
	defer rows.Close()
	var (
		buf  []T
		done int64
	)
	flush := func() error {
		if err := write(ctx, buf); err != nil {
			return err
		}
		done += int64(len(buf))
		buf = buf[:0]
		c.report(table, done)
		return nil
	}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return fmt.Errorf("sqlite: export %s: %w", table, err)
		}
		if buf = append(buf, v); len(buf) == c.batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: export %s: %w", table, err)
	}
	if len(buf) > 0 || done == 0 {
		return flush()
	}
	return nil
}

func scanExportLink(r rowScanner) (store.Link, error) {
	var (
		l                                 store.Link
		created, expires, used, cancelled sql.NullInt64
	)
	err := r.Scan(&l.ID, &l.TokenHash, &l.Bot, &l.Channel, &l.User, &l.UserLabel, &l.RedirectURL, &created, &expires, &used, &cancelled)
	l.CreatedAt, l.ExpiresAt, l.UsedAt, l.CancelledAt = fromMillis(created), fromMillis(expires), fromMillis(used), fromMillis(cancelled)
	return l, err
}

func scanExportLinkProvider(r rowScanner) (store.LinkProviderRecord, error) {
	var (
		p                  store.LinkProviderRecord
		scopes             string
		identityID, linked sql.NullInt64
	)
	if err := r.Scan(&p.LinkID, &p.Position, &p.Provider, &scopes, &identityID, &linked); err != nil {
		return p, err
	}
	p.IdentityID, p.LinkedAt = identityID.Int64, fromMillis(linked)
	var err error
	p.Scopes, err = parseScopes(scopes)
	return p, err
}

func scanExportFlow(r rowScanner) (store.FlowRecord, error) {
	var (
		f                          store.FlowRecord
		created, expires, consumed sql.NullInt64
	)
	err := r.Scan(&f.StateHash, &f.LinkID, &created, &expires, &consumed)
	f.CreatedAt, f.ExpiresAt, f.ConsumedAt = fromMillis(created), fromMillis(expires), fromMillis(consumed)
	return f, err
}

func scanExportEvent(r rowScanner) (store.Event, error) {
	var (
		e  store.Event
		at sql.NullInt64
	)
	err := r.Scan(&e.ID, &e.IdentityID, &e.Bot, &e.Kind, &e.Outcome, &e.Detail, &at)
	e.At = fromMillis(at)
	return e, err
}

func scanExportConfirmation(r rowScanner) (store.Confirmation, error) {
	var (
		c               store.Confirmation
		linkID, expires sql.NullInt64
	)
	err := r.Scan(&c.ID, &c.IdentityID, &linkID, &c.Bot, &c.Channel, &c.User, &c.CodeHash, &c.Attempts, &expires)
	c.LinkID, c.ExpiresAt = linkID.Int64, fromMillis(expires)
	return c, err
}

func scanExportSession(r rowScanner) (store.AdminSession, error) {
	var (
		s                store.AdminSession
		created, expires sql.NullInt64
	)
	err := r.Scan(&s.TokenHash, &s.Credential, &created, &expires)
	s.CreatedAt, s.ExpiresAt = fromMillis(created), fromMillis(expires)
	return s, err
}

func scanExportUsage(r rowScanner) (store.UsageRecord, error) {
	var (
		u    store.UsageRecord
		last sql.NullInt64
	)
	err := r.Scan(&u.IdentityID, &u.Calls, &last, &u.LastStatus)
	u.LastUsedAt = fromMillis(last)
	return u, err
}
