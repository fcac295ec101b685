package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// linkCreates answers CreateLink: links made together are inserted by one statement, with one
// commit (batch.go). A link made alone goes through the rules' transaction.
type linkCreates = batcher[linkCreate]

// linkCreate is one CreateLink call.
type linkCreate struct {
	link store.Link
	out  store.Link
	err  error
}

// maxLinkBatch bounds the links of one statement.
const maxLinkBatch = 64

// insertLinks inserts many links and their providers in one statement: $1–$11 are the links'
// columns, one array each (n, the link's index in the batch, first); $12–$17 and $19 their
// providers' (n, position, provider, where its scopes start in $18 and how many, identity,
// linked at). A token hash that exists already inserts nothing (ON CONFLICT … DO NOTHING), so
// one taken token does not fail the others; the statement returns the index and id of every
// link inserted.
const insertLinks = `WITH input AS (
	SELECT * FROM unnest($1::int[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[])
		AS i(n, token_hash, bot, channel, user_id, user_label, redirect_url, created_at, expires_at, used_at, cancelled_at)
), made AS (
	INSERT INTO links (token_hash, bot, channel, user_id, user_label, redirect_url, created_at, expires_at, used_at, cancelled_at)
	SELECT token_hash, bot, channel, user_id, user_label, redirect_url, created_at, expires_at, used_at, cancelled_at
	FROM input ORDER BY n
	ON CONFLICT (token_hash) DO NOTHING
	RETURNING id, token_hash
), providers AS (
	INSERT INTO link_providers (link_id, position, provider, scopes, identity_id, linked_at)
	SELECT made.id, p.position, p.provider, ($18::text[])[p.scopes_from + 1 : p.scopes_from + p.scopes_count],
		p.identity_id, p.linked_at
	FROM unnest($12::int[], $13::int[], $14::text[], $15::int[], $16::int[], $17::bigint[], $19::timestamptz[])
		AS p(n, position, provider, scopes_from, scopes_count, identity_id, linked_at)
	JOIN input ON input.n = p.n
	JOIN made ON made.token_hash = input.token_hash
)
SELECT input.n, made.id FROM made JOIN input ON input.token_hash = made.token_hash`

func newLinkCreates(pool *pgxpool.Pool, rules *sqlstore.Rules) *linkCreates {
	return &linkCreates{max: maxLinkBatch, run: func(ctx context.Context, batch []*linkCreate) {
		createLinks(ctx, pool, rules, batch)
	}}
}

// CreateLink is the rules' (sqlstore.Rules.CreateLink), with links made together inserted by
// one statement (linkCreates).
func (s *Store) CreateLink(ctx context.Context, l store.Link) (store.Link, error) {
	if len(l.Providers) == 0 {
		return s.Rules.CreateLink(ctx, l) // which says what is wrong
	}
	return createLink(s.links, ctx, l)
}

// createLink is CreateLink on c.
func createLink(c *linkCreates, ctx context.Context, l store.Link) (store.Link, error) {
	call := linkCreate{link: l}
	if !c.do(ctx, &call) {
		return store.Link{}, fmt.Errorf("postgres: create link: %w", ctx.Err())
	}
	return call.out, call.err
}

// createLinks answers every call of batch: a link alone through the rules' transaction, many
// with insertLinks. When that statement fails as a whole (a link that breaks a constraint
// other than its token's), each link goes through the rules on its own, so that each caller
// gets its own answer.
func createLinks(ctx context.Context, pool *pgxpool.Pool, rules *sqlstore.Rules, batch []*linkCreate) {
	live := make([]*linkCreate, 0, len(batch))
	tokens := make(map[string]bool, len(batch))
	for _, c := range batch {
		if tokens[string(c.link.TokenHash)] {
			// The same token twice in one batch: the first one takes it, as if it had come first.
			c.err = fmt.Errorf("postgres: create link: %w: the token hash is taken", store.ErrConflict)
			continue
		}
		tokens[string(c.link.TokenHash)] = true
		live = append(live, c)
	}
	if len(live) > 1 {
		if err := insertLinkBatch(ctx, pool, live); err == nil {
			return
		}
	}
	for _, c := range live {
		c.out, c.err = rules.CreateLink(ctx, c.link)
	}
}

// insertLinkBatch runs insertLinks for calls: each call gets its link with its id, or
// store.ErrConflict when its token hash is taken. On an error nothing is inserted and no call
// is answered.
func insertLinkBatch(ctx context.Context, pool *pgxpool.Pool, calls []*linkCreate) error {
	var (
		n, pn, position, scopesFrom, scopesCount []int32
		tokenHash                                [][]byte
		bot, channel, user, label, redirect      []string
		provider                                 []string
		scopes                                   = []string{}
		created, expires, used, cancelled        []pgtype.Timestamptz
		linkedAt                                 []pgtype.Timestamptz
		identity                                 []pgtype.Int8
	)
	for i, c := range calls {
		l := c.link
		n, tokenHash = append(n, int32(i)), append(tokenHash, l.TokenHash)
		bot, channel, user = append(bot, l.Bot), append(channel, l.Channel), append(user, l.User)
		label, redirect = append(label, l.UserLabel), append(redirect, l.RedirectURL)
		created, expires = append(created, ts(l.CreatedAt)), append(expires, ts(l.ExpiresAt))
		used, cancelled = append(used, ts(l.UsedAt)), append(cancelled, ts(l.CancelledAt))
		for k, p := range l.Providers {
			pn, position, provider = append(pn, int32(i)), append(position, int32(k)), append(provider, p.Provider)
			scopesFrom, scopesCount = append(scopesFrom, int32(len(scopes))), append(scopesCount, int32(len(p.Scopes)))
			scopes = append(scopes, p.Scopes...)
			identity, linkedAt = append(identity, nullID(p.IdentityID)), append(linkedAt, ts(p.LinkedAt))
		}
	}
	rows, err := pool.Query(ctx, insertLinks, n, tokenHash, bot, channel, user, label, redirect,
		created, expires, used, cancelled, pn, position, provider, scopesFrom, scopesCount, identity, scopes, linkedAt)
	if err != nil {
		return err
	}
	made := make([]int64, len(calls))
	for rows.Next() {
		var (
			i  int32
			id int64
		)
		if err := rows.Scan(&i, &id); err != nil {
			rows.Close()
			return err
		}
		made[i] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i, c := range calls {
		if made[i] == 0 {
			c.err = fmt.Errorf("postgres: create link: %w: the token hash is taken", store.ErrConflict)
			continue
		}
		c.out = sqlstore.NormalLink(c.link)
		c.out.ID = made[i]
	}
	return nil
}
