package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

const selectIdentity = `SELECT id, bot, channel, user_id, provider, provider_user_id,
	name, nickname, email, avatar_url, status, scopes,
	access_token, access_token_secret, refresh_token, token_type, expires_at,
	linked_at, updated_at FROM identities`

// A chat user's identities, read through the UNIQUE index's (bot, channel, user_id) prefix.
// They are not ordered in SQL: ORDER BY linked_at would make SQLite open a sorter (a temporary
// b-tree) for every call, which cost more than the lookup itself (17.5 µs against 8 µs per
// call, measured on 100,000 identities); a user has a handful of identities, which
// sortIdentities orders in Go.
const (
	selectIdentitiesOfUser   = selectIdentity + ` WHERE bot = ? AND channel = ? AND user_id = ?`
	selectIdentitiesOfUserOf = selectIdentity + ` WHERE bot = ? AND channel = ? AND user_id = ? AND provider = ?`
)

// CompleteLink marks the link used and stores the identity, its event and its optional
// confirmation in one transaction; see store.Store. Now is the link's used_at, the identity's
// updated_at (and linked_at when it is new) and the event's time: the Identity's own
// LinkedAt and UpdatedAt are ignored.
//
// Beyond the interface's contract, the identity must belong to the link's bot, provider,
// channel and user: a broker bug must not be able to attach an account to someone else.
func (s *Store) CompleteLink(ctx context.Context, p store.CompleteLinkParams) (store.Identity, bool, error) {
	in := p.Identity
	if err := checkCompleteLink(p); err != nil {
		return store.Identity{}, false, fmt.Errorf("sqlite: complete link %d: %w", p.LinkID, err)
	}
	scopes, err := scopesJSON(in.Scopes)
	if err != nil {
		return store.Identity{}, false, fmt.Errorf("sqlite: complete link %d: %w", p.LinkID, err)
	}
	now := millis(p.Now)

	var (
		stored  store.Identity
		created bool
	)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := useLink(ctx, tx, p.LinkID, in, now); err != nil {
			return err
		}
		var (
			id        int64
			oldStatus string
		)
		err := tx.QueryRowContext(ctx, `SELECT id, status FROM identities
			WHERE bot = ? AND channel = ? AND user_id = ? AND provider = ? AND provider_user_id = ?`,
			in.Bot, in.Channel, in.User, in.Provider, in.ProviderUserID).Scan(&id, &oldStatus)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			err = tx.QueryRowContext(ctx, `INSERT INTO identities
				(id, bot, channel, user_id, provider, provider_user_id, name, nickname, email, avatar_url,
				 status, scopes, access_token, access_token_secret, refresh_token, token_type, expires_at,
				 linked_at, updated_at)
				VALUES (`+nextIdentityID+`, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				in.Bot, in.Channel, in.User, in.Provider, in.ProviderUserID, in.Name, in.NickName, in.Email, in.AvatarURL,
				in.Status, scopes, in.AccessToken, in.AccessTokenSecret, in.RefreshToken, in.TokenType, millis(in.ExpiresAt),
				now, now).Scan(&id)
			if err != nil {
				return constraint(err)
			}
		case err != nil:
			return err
		default:
			// A pending identity stays pending and an active one active; only an identity the
			// provider had refused takes the status of the fresh link.
			status := oldStatus
			if oldStatus == store.StatusRelinkRequired {
				status = in.Status
			}
			// New tokens end any refresh running on the old ones: its holder loses the lease
			// (store.ErrLeaseLost) instead of overwriting what the user just linked.
			_, err = tx.ExecContext(ctx, `UPDATE identities SET name = ?, nickname = ?, email = ?,
				avatar_url = ?, status = ?, scopes = ?, access_token = ?, access_token_secret = ?,
				refresh_token = ?, token_type = ?, expires_at = ?, updated_at = ?,
				refresh_holder = NULL, refresh_lease_until = NULL, refresh_retry_at = NULL WHERE id = ?`,
				in.Name, in.NickName, in.Email, in.AvatarURL, status, scopes,
				in.AccessToken, in.AccessTokenSecret, in.RefreshToken, in.TokenType, millis(in.ExpiresAt), now, id)
			if err != nil {
				return err
			}
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
		if c := p.Confirmation; c != nil {
			// The confirmation belongs to the identity's chat user, whatever the caller filled in.
			_, err := tx.ExecContext(ctx, `INSERT INTO confirmations
				(identity_id, bot, channel, user_id, code_hash, attempts, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				id, in.Bot, in.Channel, in.User, c.CodeHash, c.Attempts, millis(c.ExpiresAt))
			if err != nil {
				return fmt.Errorf("insert confirmation: %w", err)
			}
		}
		stored, err = scanIdentity(tx.QueryRowContext(ctx, selectIdentity+` WHERE id = ?`, id))
		if err != nil || !p.Webhook {
			return err
		}
		typ := store.WebhookRelinked
		if created {
			typ = store.WebhookLinked
		}
		return enqueueWebhook(ctx, tx, typ, stored, "", p.Now)
	})
	if err != nil {
		return store.Identity{}, false, fmt.Errorf("sqlite: complete link %d: %w", p.LinkID, err)
	}
	return stored, created, nil
}

// nextIdentityID is the id of a new identity: above every id ever used. SQLite's own choice
// (the largest rowid + 1) hands an unlinked identity's id to the next account when the
// unlinked one was the newest, and then a bot holding the old id would read another user's
// credentials, and history and webhook events of two accounts would share one id. Every
// identity gets a linked event that is never deleted, so identity_events remembers the ids
// (both maxima are index lookups).
const nextIdentityID = `(SELECT max(coalesce((SELECT max(id) FROM identities), 0),
	coalesce((SELECT max(identity_id) FROM identity_events), 0)) + 1)`

func checkCompleteLink(p store.CompleteLinkParams) error {
	switch {
	case p.Now.IsZero():
		return errors.New("now is the zero time")
	case p.Identity.ProviderUserID == "":
		return errors.New("identity has no provider user id")
	case !knownStatus(p.Identity.Status):
		return fmt.Errorf("identity status %q is not a known status", p.Identity.Status)
	case p.Confirmation != nil && len(p.Confirmation.CodeHash) == 0:
		return errors.New("confirmation has no code hash")
	case p.Confirmation != nil && p.Confirmation.ExpiresAt.IsZero():
		return errors.New("confirmation has no expiry")
	}
	return nil
}

func knownStatus(s string) bool {
	return s == store.StatusActive || s == store.StatusPending || s == store.StatusRelinkRequired
}

// useLink marks the link used by this identity's chat user. Like ConsumeFlow, single use
// rests on the conditional UPDATE; the follow-up read only explains a refusal.
func useLink(ctx context.Context, tx *sql.Tx, linkID int64, in store.Identity, now sql.NullInt64) error {
	res, err := tx.ExecContext(ctx, `UPDATE links SET used_at = ?
		WHERE id = ? AND used_at IS NULL AND bot = ? AND provider = ? AND channel = ? AND user_id = ?`,
		now, linkID, in.Bot, in.Provider, in.Channel, in.User)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var used sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT used_at FROM links WHERE id = ?`, linkID).Scan(&used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("link %w", store.ErrNotFound)
	case err != nil:
		return err
	case used.Valid:
		return store.ErrLinkUsed
	default:
		return fmt.Errorf("identity of %s/%s for %s user %q does not match the link",
			in.Bot, in.Provider, in.Channel, in.User)
	}
}

// Identities lists one chat user's identities, optionally of one provider, oldest first.
func (s *Store) Identities(ctx context.Context, q store.IdentityQuery) ([]store.Identity, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if q.Provider == "" {
		rows, err = s.identitiesByUser.QueryContext(uncancelled(ctx), q.Bot, q.Channel, q.User)
	} else {
		rows, err = s.identitiesByUserOf.QueryContext(uncancelled(ctx), q.Bot, q.Channel, q.User, q.Provider)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: identities of %s user %q: %w", q.Channel, q.User, err)
	}
	defer rows.Close()
	out := []store.Identity{}
	for rows.Next() {
		id, err := scanIdentity(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: identities of %s user %q: %w", q.Channel, q.User, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: identities of %s user %q: %w", q.Channel, q.User, err)
	}
	sortIdentities(out)
	return out, nil
}

// sortIdentities orders identities oldest first, as linked_at, id.
func sortIdentities(ids []store.Identity) {
	slices.SortFunc(ids, func(a, b store.Identity) int {
		if c := a.LinkedAt.Compare(b.LinkedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// Identity returns one identity of a bot; store.ErrNotFound also for another bot's identity.
func (s *Store) Identity(ctx context.Context, bot string, id int64) (store.Identity, error) {
	out, err := scanIdentity(s.identityByID.QueryRowContext(uncancelled(ctx), id, bot))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Identity{}, fmt.Errorf("sqlite: identity %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Identity{}, fmt.Errorf("sqlite: identity %d: %w", id, err)
	}
	return out, nil
}

// DeleteIdentity removes the identity and its confirmations and records ev for it (Kind
// defaults to unlinked; IdentityID and Bot are filled in), in one transaction.
func (s *Store) DeleteIdentity(ctx context.Context, bot string, id int64, ev store.Event) error {
	if ev.At.IsZero() {
		return fmt.Errorf("sqlite: delete identity %d: event time is the zero time", id)
	}
	ev.IdentityID, ev.Bot = id, bot
	if ev.Kind == "" {
		ev.Kind = store.EventUnlinked
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// RETURNING gives the webhook event the identity as it was when it went.
		gone, err := scanIdentity(tx.QueryRowContext(ctx, `DELETE FROM identities WHERE id = ? AND bot = ? RETURNING `+
			strings.TrimPrefix(strings.TrimSuffix(selectIdentity, " FROM identities"), "SELECT "), id, bot))
		if errors.Is(err, sql.ErrNoRows) {
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
		return fmt.Errorf("sqlite: delete identity %d: %w", id, err)
	}
	return nil
}

func scanIdentity(row rowScanner) (store.Identity, error) {
	var (
		i                        store.Identity
		scopes                   string
		expires, linked, updated sql.NullInt64
	)
	err := row.Scan(&i.ID, &i.Bot, &i.Channel, &i.User, &i.Provider, &i.ProviderUserID,
		&i.Name, &i.NickName, &i.Email, &i.AvatarURL, &i.Status, &scopes,
		&i.AccessToken, &i.AccessTokenSecret, &i.RefreshToken, &i.TokenType, &expires,
		&linked, &updated)
	if err != nil {
		return store.Identity{}, err
	}
	if i.Scopes, err = parseScopes(scopes); err != nil {
		return store.Identity{}, fmt.Errorf("identity %d: %w", i.ID, err)
	}
	i.ExpiresAt, i.LinkedAt, i.UpdatedAt = fromMillis(expires), fromMillis(linked), fromMillis(updated)
	return i, nil
}

// uncancelled drops ctx's cancellation for the hot indexed reads (one identity, one user's
// identities, a link by its hash). database/sql starts a goroutine per query to watch a
// cancellable context and the driver registers an interrupt for it; for a read that takes
// microseconds from the page cache that costs more than it could ever save. Slow queries
// (admin lists, writes) keep their context.
func uncancelled(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
