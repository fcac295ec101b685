package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
)

// sqliteSource reads an SQLite store's tables for migrate-store, all inside one read
// transaction: in WAL mode that is one snapshot, so the copy and its verification see the
// same rows even if something writes the file meanwhile.
//
// It reads the SQLite schema directly (the store's interface has no way to list every link,
// flow or event); migrate-store first opens the file with the SQLite store, which brings it
// to the schema version this reader is written for.
type sqliteSource struct {
	db *sql.DB
	tx *sql.Tx
}

func openSource(ctx context.Context, path string) (*sqliteSource, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	q := url.Values{"_query_only": {"1"}, "_busy_timeout": {"5000"}}
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &sqliteSource{db: db, tx: tx}, nil
}

func (s *sqliteSource) close() {
	_ = s.tx.Rollback()
	_ = s.db.Close()
}

// has reports whether the SQLite file has a table (proxy_usage came with a later schema).
func (s *sqliteSource) has(ctx context.Context, table string) (bool, error) {
	var n int
	err := s.tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
	return n > 0, err
}

// counts returns the rows of every table an import fills.
func (s *sqliteSource) counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range postgres.ImportTables {
		ok, err := s.has(ctx, t)
		if err != nil || !ok {
			if err != nil {
				return nil, fmt.Errorf("count %s: %w", t, err)
			}
			continue
		}
		var n int64
		if err := s.tx.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// lastOutboxID is the highest outbox id SQLite ever gave (AUTOINCREMENT remembers it past
// pruning), 0 when none.
func (s *sqliteSource) lastOutboxID(ctx context.Context) (int64, error) {
	var id int64
	err := s.tx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'webhook_outbox'`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// copyInto copies every table into im, parents before children, in batches of batch rows,
// calling report after each batch.
func (s *sqliteSource) copyInto(ctx context.Context, im *postgres.Import, batch int, report func(table string, done int64)) error {
	steps := []func() error{
		func() error {
			return copyRows(ctx, s, "links", `SELECT id, token_hash, bot, channel, user_id, user_label, redirect_url,
				created_at, expires_at, used_at, cancelled_at FROM links ORDER BY id`, batch, report, scanSourceLink, im.Links)
		},
		func() error {
			return copyRows(ctx, s, "link_providers", `SELECT link_id, position, provider, scopes, identity_id, linked_at
				FROM link_providers ORDER BY link_id, position`, batch, report, scanSourceLinkProvider, im.LinkProviders)
		},
		func() error {
			return copyRows(ctx, s, "flows", `SELECT state_hash, link_id, created_at, expires_at, consumed_at FROM flows ORDER BY rowid`,
				batch, report, scanSourceFlow, im.Flows)
		},
		func() error {
			return copyRows(ctx, s, "identities", `SELECT id, bot, channel, user_id, provider, provider_user_id, name, nickname,
				email, avatar_url, status, scopes, access_token, access_token_secret, refresh_token, token_type, expires_at,
				linked_at, updated_at FROM identities ORDER BY id`, batch, report, scanSourceIdentity, im.Identities)
		},
		func() error {
			return copyRows(ctx, s, "identity_events", `SELECT id, identity_id, bot, kind, outcome, detail, at FROM identity_events ORDER BY id`,
				batch, report, scanSourceEvent, im.Events)
		},
		func() error {
			return copyRows(ctx, s, "confirmations", `SELECT id, identity_id, link_id, bot, channel, user_id, code_hash, attempts, expires_at
				FROM confirmations ORDER BY id`, batch, report, scanSourceConfirmation, im.Confirmations)
		},
		func() error {
			return copyRows(ctx, s, "webhook_outbox", `SELECT id, event_id, type, bot, identity_id, channel, user_id, provider,
				provider_user_id, status, reason, identities, created_at, state, attempts, next_attempt_at, last_error, delivered_at
				FROM webhook_outbox ORDER BY id`, batch, report, scanSourceOutbox, im.Outbox)
		},
		func() error {
			return copyRows(ctx, s, "admin_sessions", `SELECT token_hash, credential, created_at, expires_at FROM admin_sessions ORDER BY rowid`,
				batch, report, scanSourceSession, im.AdminSessions)
		},
		func() error {
			return copyRows(ctx, s, "proxy_usage", `SELECT identity_id, calls, last_used_at, last_status FROM proxy_usage ORDER BY identity_id`,
				batch, report, scanSourceUsage, im.Usage)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// copyRows streams one table's rows to write in batches. A table the file does not have
// (an older schema's) copies nothing.
func copyRows[T any](ctx context.Context, s *sqliteSource, table, query string, batch int, report func(string, int64),
	scan func(*sql.Rows) (T, error), write func(context.Context, []T) error) error {
	if ok, err := s.has(ctx, table); err != nil || !ok {
		return err
	}
	rows, err := s.tx.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
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
		report(table, done)
		return nil
	}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		if buf = append(buf, v); len(buf) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	if len(buf) > 0 || done == 0 {
		return flush()
	}
	return nil
}

// The SQLite store's encodings: times are unix milliseconds (NULL: zero), scopes JSON arrays.

func msTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

func jsonScopes(s string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("scopes %q: %w", s, err)
	}
	return out, nil
}

func scanSourceLink(r *sql.Rows) (store.Link, error) {
	var (
		l                                 store.Link
		created, expires, used, cancelled sql.NullInt64
	)
	err := r.Scan(&l.ID, &l.TokenHash, &l.Bot, &l.Channel, &l.User, &l.UserLabel, &l.RedirectURL, &created, &expires, &used, &cancelled)
	l.CreatedAt, l.ExpiresAt, l.UsedAt, l.CancelledAt = msTime(created), msTime(expires), msTime(used), msTime(cancelled)
	return l, err
}

func scanSourceLinkProvider(r *sql.Rows) (postgres.LinkProviderRecord, error) {
	var (
		p                  postgres.LinkProviderRecord
		scopes             string
		identityID, linked sql.NullInt64
	)
	if err := r.Scan(&p.LinkID, &p.Position, &p.Provider, &scopes, &identityID, &linked); err != nil {
		return p, err
	}
	p.IdentityID, p.LinkedAt = identityID.Int64, msTime(linked)
	var err error
	p.Scopes, err = jsonScopes(scopes)
	return p, err
}

func scanSourceFlow(r *sql.Rows) (postgres.FlowRecord, error) {
	var (
		f                          postgres.FlowRecord
		created, expires, consumed sql.NullInt64
	)
	err := r.Scan(&f.StateHash, &f.LinkID, &created, &expires, &consumed)
	f.CreatedAt, f.ExpiresAt, f.ConsumedAt = msTime(created), msTime(expires), msTime(consumed)
	return f, err
}

func scanSourceIdentity(r *sql.Rows) (store.Identity, error) {
	var (
		i                        store.Identity
		scopes                   string
		expires, linked, updated sql.NullInt64
	)
	if err := r.Scan(&i.ID, &i.Bot, &i.Channel, &i.User, &i.Provider, &i.ProviderUserID, &i.Name, &i.NickName,
		&i.Email, &i.AvatarURL, &i.Status, &scopes, &i.AccessToken, &i.AccessTokenSecret, &i.RefreshToken, &i.TokenType,
		&expires, &linked, &updated); err != nil {
		return i, err
	}
	i.ExpiresAt, i.LinkedAt, i.UpdatedAt = msTime(expires), msTime(linked), msTime(updated)
	var err error
	i.Scopes, err = jsonScopes(scopes)
	return i, err
}

func scanSourceEvent(r *sql.Rows) (store.Event, error) {
	var (
		e  store.Event
		at sql.NullInt64
	)
	err := r.Scan(&e.ID, &e.IdentityID, &e.Bot, &e.Kind, &e.Outcome, &e.Detail, &at)
	e.At = msTime(at)
	return e, err
}

func scanSourceConfirmation(r *sql.Rows) (store.Confirmation, error) {
	var (
		c       store.Confirmation
		linkID  sql.NullInt64
		expires sql.NullInt64
	)
	err := r.Scan(&c.ID, &c.IdentityID, &linkID, &c.Bot, &c.Channel, &c.User, &c.CodeHash, &c.Attempts, &expires)
	c.LinkID, c.ExpiresAt = linkID.Int64, msTime(expires)
	return c, err
}

func scanSourceOutbox(r *sql.Rows) (store.OutboxEvent, error) {
	var (
		e                        store.OutboxEvent
		identities               string
		created, next, delivered sql.NullInt64
	)
	if err := r.Scan(&e.ID, &e.EventID, &e.Type, &e.Bot, &e.IdentityID, &e.Channel, &e.User, &e.Provider, &e.ProviderUserID,
		&e.Status, &e.Reason, &identities, &created, &e.State, &e.Attempts, &next, &e.LastError, &delivered); err != nil {
		return e, err
	}
	e.CreatedAt, e.NextAttemptAt, e.DeliveredAt = msTime(created), msTime(next), msTime(delivered)
	var err error
	e.Identities, err = store.DecodeLinkedIdentities(identities)
	return e, err
}

func scanSourceSession(r *sql.Rows) (store.AdminSession, error) {
	var (
		s                store.AdminSession
		created, expires sql.NullInt64
	)
	err := r.Scan(&s.TokenHash, &s.Credential, &created, &expires)
	s.CreatedAt, s.ExpiresAt = msTime(created), msTime(expires)
	return s, err
}

func scanSourceUsage(r *sql.Rows) (postgres.UsageRecord, error) {
	var (
		u    postgres.UsageRecord
		last sql.NullInt64
	)
	err := r.Scan(&u.IdentityID, &u.Calls, &last, &u.LastStatus)
	u.LastUsedAt = msTime(last)
	return u, err
}
