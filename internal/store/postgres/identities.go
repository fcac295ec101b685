package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

const identityColumns = `id, bot, channel, user_id, provider, provider_user_id,
	name, nickname, email, avatar_url, status, scopes,
	access_token, access_token_secret, refresh_token, token_type, expires_at,
	linked_at, updated_at`

const selectIdentity = `SELECT ` + identityColumns + ` FROM identities`

// CompleteLink marks the identity's provider of the link linked and stores the identity and
// its event, and — when that was the link's last provider — spends the link and writes the
// confirmations or link.completed, in one transaction; see store.Store. Now is the provider's
// linked_at (and the link's used_at), the identity's updated_at (and linked_at when it is new)
// and the event's time.
//
// Beyond the interface's contract, the identity must belong to the link's bot, channel and
// user, and to one of its providers: a broker bug must not be able to attach an account to
// someone else. The link's row is locked first, so completions of one link on any number of
// instances queue: the last of them sees every other provider linked and spends the link.
func (s *Store) CompleteLink(ctx context.Context, p store.CompleteLinkParams) (store.Linked, error) {
	in := withoutNUL(p.Identity)
	if err := p.Check(); err != nil {
		return store.Linked{}, fmt.Errorf("postgres: complete link %d: %w", p.LinkID, err)
	}
	var out store.Linked
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockOpenLink(ctx, tx, p.LinkID, in); err != nil {
			return err
		}
		id, created, err := upsertIdentity(ctx, tx, in, p)
		if err != nil {
			return err
		}
		if err := claimProvider(ctx, tx, p.LinkID, in.Provider, id, p.Now); err != nil {
			return err
		}
		kind := store.EventRelinked
		if created {
			kind = store.EventLinked
		}
		if err := insertEvent(ctx, tx, store.Event{
			IdentityID: id, Bot: in.Bot, Kind: kind, Outcome: "ok",
			Detail: in.Provider + " account " + in.AccountName(), At: p.Now,
		}); err != nil {
			return err
		}
		stored, err := scanIdentity(tx.QueryRow(ctx, selectIdentity+` WHERE id = $1`, id))
		if err != nil {
			return err
		}
		if p.Webhook {
			typ := store.WebhookRelinked
			if created {
				typ = store.WebhookLinked
			}
			if err := enqueueWebhook(ctx, tx, typ, stored, "", p.Now); err != nil {
				return err
			}
		}
		complete, err := finishIfLast(ctx, tx, p, stored)
		out = store.Linked{Identity: stored, Created: created, LinkComplete: complete}
		return err
	})
	if err != nil {
		return store.Linked{}, fmt.Errorf("postgres: complete link %d: %w", p.LinkID, err)
	}
	return out, nil
}

// upsertIdentity stores the account under its natural key and returns its id and whether it
// is new. The row is locked first when it exists, so two callbacks for the same account on two
// instances queue; when it does not, INSERT … ON CONFLICT DO NOTHING waits for a concurrent
// insert of the same account and then finds it, and the loop goes round to update that row:
// the account ends up as one identity either way, never as a unique violation.
func upsertIdentity(ctx context.Context, tx pgx.Tx, in store.Identity, p store.CompleteLinkParams) (int64, bool, error) {
	for range 2 {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM identities
			WHERE bot = $1 AND channel = $2 AND user_id = $3 AND provider = $4 AND provider_user_id = $5 FOR UPDATE`,
			in.Bot, in.Channel, in.User, in.Provider, in.ProviderUserID).Scan(&id)
		if err == nil {
			// A pending identity stays pending and an active one active; only an identity the
			// provider had refused takes the status of the fresh link. New tokens end any
			// refresh running on the old ones: its holder loses the lease (store.ErrLeaseLost)
			// instead of overwriting what the user just linked.
			_, err = tx.Exec(ctx, `UPDATE identities SET name = $1, nickname = $2, email = $3,
				avatar_url = $4, status = CASE WHEN status = 'relink_required' THEN $5 ELSE status END,
				scopes = $6, access_token = $7, access_token_secret = $8, refresh_token = $9, token_type = $10,
				expires_at = $11, updated_at = $12,
				refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL WHERE id = $13`,
				in.Name, in.NickName, in.Email, in.AvatarURL, in.Status, scopesArray(in.Scopes),
				in.AccessToken, in.AccessTokenSecret, in.RefreshToken, in.TokenType, ts(in.ExpiresAt), ts(p.Now), id)
			return id, false, err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, false, err
		}
		err = tx.QueryRow(ctx, `INSERT INTO identities
			(bot, channel, user_id, provider, provider_user_id, name, nickname, email, avatar_url,
			 status, scopes, access_token, access_token_secret, refresh_token, token_type, expires_at,
			 linked_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)
			ON CONFLICT (bot, channel, user_id, provider, provider_user_id) DO NOTHING RETURNING id`,
			in.Bot, in.Channel, in.User, in.Provider, in.ProviderUserID, in.Name, in.NickName, in.Email, in.AvatarURL,
			in.Status, scopesArray(in.Scopes), in.AccessToken, in.AccessTokenSecret, in.RefreshToken, in.TokenType,
			ts(in.ExpiresAt), ts(p.Now)).Scan(&id)
		if err == nil {
			return id, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, false, err
		}
	}
	return 0, false, fmt.Errorf("%w: the account was linked and unlinked concurrently; try again", store.ErrConflict)
}

// withoutNUL replaces NUL characters in what the provider's profile and token answers say
// (names, email, avatar, token type, scopes) with U+FFFD: PostgreSQL text cannot hold NUL, and
// a profile field must not make a link fail. The identity's keys are left as they are: a NUL
// there is refused by the database, never silently changed.
func withoutNUL(in store.Identity) store.Identity {
	clean := func(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }
	in.Name, in.NickName, in.Email, in.AvatarURL, in.TokenType = clean(in.Name), clean(in.NickName), clean(in.Email), clean(in.AvatarURL), clean(in.TokenType)
	if slices.ContainsFunc(in.Scopes, func(s string) bool { return strings.Contains(s, "\x00") }) {
		scopes := make([]string, len(in.Scopes))
		for i, sc := range in.Scopes {
			scopes[i] = clean(sc)
		}
		in.Scopes = scopes
	}
	return in
}

// Identities lists one chat user's identities, optionally of one provider, oldest first.
func (s *Store) Identities(ctx context.Context, q store.IdentityQuery) ([]store.Identity, error) {
	query, args := selectIdentity+` WHERE bot = $1 AND channel = $2 AND user_id = $3 ORDER BY linked_at, id`, []any{q.Bot, q.Channel, q.User}
	if q.Provider != "" {
		query = selectIdentity + ` WHERE bot = $1 AND channel = $2 AND user_id = $3 AND provider = $4 ORDER BY linked_at, id`
		args = append(args, q.Provider)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: identities of %s user %q: %w", q.Channel, q.User, err)
	}
	out, err := collect(rows, scanIdentity)
	if err != nil {
		return nil, fmt.Errorf("postgres: identities of %s user %q: %w", q.Channel, q.User, err)
	}
	return out, nil
}

// Identity returns one identity of a bot; store.ErrNotFound also for another bot's identity.
func (s *Store) Identity(ctx context.Context, bot string, id int64) (store.Identity, error) {
	out, err := scanIdentity(s.pool.QueryRow(ctx, selectIdentity+` WHERE id = $1 AND bot = $2`, id, bot))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Identity{}, fmt.Errorf("postgres: identity %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Identity{}, fmt.Errorf("postgres: identity %d: %w", id, err)
	}
	return out, nil
}

// DeleteIdentity removes the identity and its confirmations (ON DELETE CASCADE) and records
// ev for it (Kind defaults to unlinked; IdentityID and Bot are filled in), in one transaction.
func (s *Store) DeleteIdentity(ctx context.Context, bot string, id int64, ev store.Event) error {
	if ev.At.IsZero() {
		return fmt.Errorf("postgres: delete identity %d: event time is the zero time", id)
	}
	ev.IdentityID, ev.Bot = id, bot
	if ev.Kind == "" {
		ev.Kind = store.EventUnlinked
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// RETURNING gives the webhook event the identity as it was when it went. Of two
		// concurrent deletes, the second waits for the first's row lock and then deletes nothing.
		gone, err := scanIdentity(tx.QueryRow(ctx, `DELETE FROM identities WHERE id = $1 AND bot = $2 RETURNING `+identityColumns, id, bot))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, ev); err != nil || !ev.Webhook {
			return err
		}
		return enqueueWebhook(ctx, tx, store.WebhookUnlinked, gone, "", ev.At)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete identity %d: %w", id, err)
	}
	return nil
}

func scanIdentity(row rowScanner) (store.Identity, error) {
	var (
		i                        store.Identity
		scopes                   []string
		expires, linked, updated pgtype.Timestamptz
	)
	err := row.Scan(&i.ID, &i.Bot, &i.Channel, &i.User, &i.Provider, &i.ProviderUserID,
		&i.Name, &i.NickName, &i.Email, &i.AvatarURL, &i.Status, &scopes,
		&i.AccessToken, &i.AccessTokenSecret, &i.RefreshToken, &i.TokenType, &expires,
		&linked, &updated)
	if err != nil {
		return store.Identity{}, err
	}
	i.Scopes = scopesOf(scopes)
	i.ExpiresAt, i.LinkedAt, i.UpdatedAt = fromTS(expires), fromTS(linked), fromTS(updated)
	return i, nil
}

// collect scans every row with scan into a non-nil slice and closes rows.
func collect[T any](rows pgx.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Events returns an identity's history, oldest first. The history outlives the identity, so
// an unknown or deleted identity is not an error: its history is simply what was recorded.
func (s *Store) Events(ctx context.Context, bot string, identityID int64) ([]store.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, identity_id, bot, kind, outcome, detail, at
		FROM identity_events WHERE identity_id = $1 AND bot = $2 ORDER BY id`, identityID, bot)
	if err != nil {
		return nil, fmt.Errorf("postgres: events of identity %d: %w", identityID, err)
	}
	out, err := collect(rows, func(r rowScanner) (store.Event, error) {
		var (
			e  store.Event
			at pgtype.Timestamptz
		)
		err := r.Scan(&e.ID, &e.IdentityID, &e.Bot, &e.Kind, &e.Outcome, &e.Detail, &at)
		e.At = fromTS(at)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: events of identity %d: %w", identityID, err)
	}
	return out, nil
}

func insertEvent(ctx context.Context, tx pgx.Tx, e store.Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO identity_events (identity_id, bot, kind, outcome, detail, at)
		VALUES ($1, $2, $3, $4, $5, $6)`, e.IdentityID, e.Bot, e.Kind, e.Outcome, e.Detail, ts(e.At))
	if err != nil {
		return fmt.Errorf("insert %s event: %w", e.Kind, err)
	}
	return nil
}
