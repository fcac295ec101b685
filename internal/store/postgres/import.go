package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// Bulk import of another store's records (`oauthbroker migrate-store`; store.Importer). Records
// keep their ids and their sealed values byte for byte, so bots keep the identity ids they
// hold and the key file that sealed the tokens still opens them.

// ErrNotEmpty: the import's target already holds records.
var ErrNotEmpty = errors.New("the target database is not empty")

// Import is one bulk import, all in one transaction: until Commit nothing is visible, and
// an import that is interrupted (the command killed, the connection lost) leaves the
// database as it was, so it can simply be run again.
type Import struct {
	tx pgx.Tx
}

var _ store.Importer = (*Import)(nil)

// BeginImport starts an import. It refuses a store that holds any record (ErrNotEmpty),
// unless replace is set: then everything in it is deleted first, in the same transaction.
//
// The totals trigger is switched off for the import's transaction and the totals are counted
// once at Commit: a row trigger updating the same few count rows a million times inside one
// transaction slows down with every row (each update walks the versions the transaction
// left behind).
func (s *Store) BeginImport(ctx context.Context, replace bool) (*Import, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: begin import: %w", err)
	}
	im := &Import{tx: tx}
	if err := im.prepare(ctx, replace); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return im, nil
}

func (im *Import) prepare(ctx context.Context, replace bool) error {
	counts, err := countTables(ctx, im.tx)
	if err != nil {
		return err
	}
	var held []string
	for _, t := range store.CopyTables {
		if counts[t] > 0 {
			held = append(held, fmt.Sprintf("%s: %d", t, counts[t]))
		}
	}
	if len(held) > 0 && !replace {
		return fmt.Errorf("postgres: import: %w (%s)", ErrNotEmpty, strings.Join(held, ", "))
	}
	if len(held) > 0 {
		if _, err := im.tx.Exec(ctx, `TRUNCATE `+strings.Join(store.CopyTables, ", ")+`, identity_counts`); err != nil {
			return fmt.Errorf("postgres: import: empty the target: %w", err)
		}
	}
	if _, err := im.tx.Exec(ctx, `ALTER TABLE identities DISABLE TRIGGER identity_counts_follow`); err != nil {
		return fmt.Errorf("postgres: import: %w", err)
	}
	return nil
}

// Counts returns the number of rows of every table in store.CopyTables.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	return countTables(ctx, s.pool)
}

func countTables(ctx context.Context, q querier) (map[string]int64, error) {
	parts := make([]string, len(store.CopyTables))
	for i, t := range store.CopyTables {
		parts[i] = fmt.Sprintf(`SELECT %d, count(*) FROM %s`, i, t)
	}
	rows, err := q.Query(ctx, strings.Join(parts, " UNION ALL "))
	if err != nil {
		return nil, fmt.Errorf("postgres: count rows: %w", err)
	}
	out := map[string]int64{}
	_, err = sqlstore.Collect(rows, func(r rowScanner) (struct{}, error) {
		var (
			i int
			n int64
		)
		err := r.Scan(&i, &n)
		out[store.CopyTables[i]] = n
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: count rows: %w", err)
	}
	return out, nil
}

func (im *Import) copy(ctx context.Context, table string, columns []string, rows [][]any) error {
	if _, err := im.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("postgres: import %s: %w", table, constraint(err))
	}
	return nil
}

// Links copies links without their providers (LinkProviders copies those).
func (im *Import) Links(ctx context.Context, ls []store.Link) error {
	rows := make([][]any, len(ls))
	for i, l := range ls {
		rows[i] = []any{l.ID, l.TokenHash, l.Bot, l.Channel, l.User, l.UserLabel, l.RedirectURL,
			ts(l.CreatedAt), ts(l.ExpiresAt), ts(l.UsedAt), ts(l.CancelledAt)}
	}
	return im.copy(ctx, "links", []string{"id", "token_hash", "bot", "channel", "user_id", "user_label", "redirect_url",
		"created_at", "expires_at", "used_at", "cancelled_at"}, rows)
}

// LinkProviders copies the providers of links; their links must have been copied first.
func (im *Import) LinkProviders(ctx context.Context, ps []store.LinkProviderRecord) error {
	rows := make([][]any, len(ps))
	for i, p := range ps {
		rows[i] = []any{p.LinkID, p.Position, p.Provider, scopesArray(p.Scopes), nullID(p.IdentityID), ts(p.LinkedAt)}
	}
	return im.copy(ctx, "link_providers", []string{"link_id", "position", "provider", "scopes", "identity_id", "linked_at"}, rows)
}

// Flows copies flows; their links must have been copied first.
func (im *Import) Flows(ctx context.Context, fs []store.FlowRecord) error {
	rows := make([][]any, len(fs))
	for i, f := range fs {
		rows[i] = []any{f.StateHash, f.LinkID, ts(f.CreatedAt), ts(f.ExpiresAt), ts(f.ConsumedAt)}
	}
	return im.copy(ctx, "flows", []string{"state_hash", "link_id", "created_at", "expires_at", "consumed_at"}, rows)
}

// Identities copies identities, sealed values byte for byte. Refresh leases are not copied:
// a lease belongs to a running broker, and none runs during an import.
func (im *Import) Identities(ctx context.Context, ids []store.Identity) error {
	rows := make([][]any, len(ids))
	for i, in := range ids {
		rows[i] = []any{in.ID, in.Bot, in.Channel, in.User, in.Provider, in.ProviderUserID,
			in.Name, in.NickName, in.Email, in.AvatarURL, in.Status, scopesArray(in.Scopes),
			in.AccessToken, in.AccessTokenSecret, in.RefreshToken, in.TokenType, ts(in.ExpiresAt),
			ts(in.LinkedAt), ts(in.UpdatedAt)}
	}
	return im.copy(ctx, "identities", strings.Split(strings.Join(strings.Fields(identityColumns), ""), ","), rows)
}

// Events copies history events.
func (im *Import) Events(ctx context.Context, evs []store.Event) error {
	rows := make([][]any, len(evs))
	for i, e := range evs {
		rows[i] = []any{e.ID, e.IdentityID, e.Bot, e.Kind, e.Outcome, e.Detail, ts(e.At)}
	}
	return im.copy(ctx, "identity_events", []string{"id", "identity_id", "bot", "kind", "outcome", "detail", "at"}, rows)
}

// Confirmations copies pending confirmations; their identities must have been copied first.
func (im *Import) Confirmations(ctx context.Context, cs []store.Confirmation) error {
	rows := make([][]any, len(cs))
	for i, c := range cs {
		rows[i] = []any{c.ID, c.IdentityID, nullID(c.LinkID), c.Bot, c.Channel, c.User, c.CodeHash, c.Attempts, ts(c.ExpiresAt)}
	}
	return im.copy(ctx, "confirmations", []string{"id", "identity_id", "link_id", "bot", "channel", "user_id", "code_hash", "attempts", "expires_at"}, rows)
}

// Outbox copies webhook events. Claims are not copied: they belong to a running delivery loop.
func (im *Import) Outbox(ctx context.Context, evs []store.OutboxEvent) error {
	rows := make([][]any, len(evs))
	for i, e := range evs {
		identities, err := store.EncodeLinkedIdentities(e.Identities)
		if err != nil {
			return fmt.Errorf("postgres: import webhook %d: %w", e.ID, err)
		}
		rows[i] = []any{e.ID, e.EventID, e.Type, e.Bot, e.IdentityID, e.Channel, e.User, e.Provider, e.ProviderUserID,
			e.Status, e.Reason, identities, ts(e.CreatedAt), e.State, e.Attempts, ts(e.NextAttemptAt), e.LastError, ts(e.DeliveredAt)}
	}
	return im.copy(ctx, "webhook_outbox", strings.Split(strings.Join(strings.Fields(outboxColumns), ""), ","), rows)
}

// AdminSessions copies operators' sessions, so that a migration does not log them out.
func (im *Import) AdminSessions(ctx context.Context, ss []store.AdminSession) error {
	rows := make([][]any, len(ss))
	for i, s := range ss {
		credential := s.Credential
		if credential == nil {
			credential = []byte{}
		}
		rows[i] = []any{s.TokenHash, credential, ts(s.CreatedAt), ts(s.ExpiresAt)}
	}
	return im.copy(ctx, "admin_sessions", []string{"token_hash", "credential", "created_at", "expires_at"}, rows)
}

// Usage copies the API proxy's usage counts; their identities must have been copied first.
func (im *Import) Usage(ctx context.Context, us []store.UsageRecord) error {
	rows := make([][]any, len(us))
	for i, u := range us {
		rows[i] = []any{u.IdentityID, u.Calls, ts(u.LastUsedAt), u.LastStatus}
	}
	return im.copy(ctx, "proxy_usage", []string{"identity_id", "calls", "last_used_at", "last_status"}, rows)
}

// Commit counts the totals, switches the totals trigger back on, moves every id sequence
// past the ids copied (and past lastOutboxID, the highest outbox id the source ever gave, so
// a pruned event's id is not given again), and commits.
//
// The identities' sequence also moves past every identity id that history or the outbox
// remember: an unlinked identity's id must never come back as another account's.
func (im *Import) Commit(ctx context.Context, lastOutboxID int64) error {
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO identity_counts (bot, provider, status, n)
			SELECT bot, provider, status, count(*) FROM identities GROUP BY bot, provider, status`, nil},
		{`ALTER TABLE identities ENABLE TRIGGER identity_counts_follow`, nil},
		{`SELECT setval(pg_get_serial_sequence('links', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM links), false)`, nil},
		{`SELECT setval(pg_get_serial_sequence('identity_events', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM identity_events), false)`, nil},
		{`SELECT setval(pg_get_serial_sequence('confirmations', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM confirmations), false)`, nil},
		{`SELECT setval(pg_get_serial_sequence('webhook_outbox', 'id'),
			greatest((SELECT coalesce(max(id), 0) FROM webhook_outbox), $1::bigint) + 1, false)`, []any{lastOutboxID}},
		{`SELECT setval(pg_get_serial_sequence('identities', 'id'), greatest(
			(SELECT coalesce(max(id), 0) FROM identities),
			(SELECT coalesce(max(identity_id), 0) FROM identity_events),
			(SELECT coalesce(max(identity_id), 0) FROM webhook_outbox)) + 1, false)`, nil},
	} {
		if _, err := im.tx.Exec(ctx, stmt.sql, stmt.args...); err != nil {
			return fmt.Errorf("postgres: import: finish: %w", err)
		}
	}
	if err := im.tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: import: commit: %w", err)
	}
	return nil
}

// Rollback abandons the import; nothing it copied stays. After Commit it does nothing.
func (im *Import) Rollback(ctx context.Context) error {
	err := im.tx.Rollback(ctx)
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}
