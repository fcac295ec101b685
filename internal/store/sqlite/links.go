package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// selectLink reads a link with its providers, one row per provider; callers add the WHERE on
// links (l) and selectLinkOrder.
const selectLink = `SELECT l.id, l.token_hash, l.bot, l.channel, l.user_id, l.user_label, l.redirect_url,
	l.created_at, l.expires_at, l.used_at, l.cancelled_at, p.provider, p.scopes, p.identity_id, p.linked_at
	FROM links l JOIN link_providers p ON p.link_id = l.id`

const selectLinkOrder = ` ORDER BY p.position`

// selectLinkByTokenHash is the link read of the connect page and the flow's start (a hot
// read, prepared on the read pool): the search by the token's index and the providers' primary
// key already gives their order, so the ORDER BY costs no sort.
const selectLinkByTokenHash = selectLink + ` WHERE l.token_hash = ?` + selectLinkOrder

// LinkByTokenHash returns the link with this token hash, used or not, expired or not.
func (s *Store) LinkByTokenHash(ctx context.Context, tokenHash []byte) (store.Link, error) {
	rows, err := s.linkByTokenHash.QueryContext(uncancelled(ctx), tokenHash)
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: link by token hash: %w", err)
	}
	l, err := scanLink(rows)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Link{}, fmt.Errorf("sqlite: link by token hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("sqlite: link by token hash: %w", err)
	}
	return l, nil
}

// linkByID reads a link inside a write transaction; sql.ErrNoRows when there is none.
const selectLinkByID = selectLink + ` WHERE l.id = ?` + selectLinkOrder

func linkByID(ctx context.Context, c conn, id int64) (store.Link, error) {
	rows, err := c.Query(ctx, selectLinkByID, id)
	if err != nil {
		return store.Link{}, err
	}
	return scanLink(rows.(sqlRows).Rows)
}

// scanLink reads the rows of selectLink (one per provider) into one link and closes rows.
func scanLink(rows *sql.Rows) (store.Link, error) {
	defer rows.Close()
	var l store.Link
	for rows.Next() {
		var (
			p                                 store.LinkProvider
			scopes                            string
			identityID                        sql.NullInt64
			created, expires, used, cancelled sql.NullInt64
			linked                            sql.NullInt64
		)
		if err := rows.Scan(&l.ID, &l.TokenHash, &l.Bot, &l.Channel, &l.User, &l.UserLabel, &l.RedirectURL,
			&created, &expires, &used, &cancelled, &p.Provider, &scopes, &identityID, &linked); err != nil {
			return store.Link{}, err
		}
		var err error
		if p.Scopes, err = parseScopes(scopes); err != nil {
			return store.Link{}, fmt.Errorf("link %d: %w", l.ID, err)
		}
		p.IdentityID, p.LinkedAt = identityID.Int64, fromMillis(linked)
		l.CreatedAt, l.ExpiresAt, l.UsedAt, l.CancelledAt = fromMillis(created), fromMillis(expires), fromMillis(used), fromMillis(cancelled)
		l.Providers = append(l.Providers, p)
	}
	if err := rows.Err(); err != nil {
		return store.Link{}, err
	}
	if len(l.Providers) == 0 {
		return store.Link{}, sql.ErrNoRows
	}
	return l, nil
}

// nullID stores an id of 0 ("none") as NULL.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }
