package postgres

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// tokenReads answers IdentityTokens, the read behind every credentials request: reads made
// together share one query (batch.go).
type tokenReads = batcher[tokenRead]

// tokenRead is one IdentityTokens call.
type tokenRead struct {
	bot string
	id  int64
	out store.Identity
	err error
}

// maxTokenBatch bounds the ids of one query: a burst far larger than the broker's usual
// concurrency is answered by several queries, none of them slow.
const maxTokenBatch = 128

// The columns IdentityTokens returns, of one identity (selectToken) or of many at once
// (selectTokens, whose bot is checked per read so that another bot's identity is not found).
// A read alone keeps its own statement: the server plans id = ANY($1) again on every run,
// since a plan for an array of unknown length looks costlier than one for the array at hand,
// and that doubled the time of a read alone (BenchmarkIdentityTokens/serial, 73 → 149 µs).
const (
	tokenColumns = `SELECT id, bot, channel, user_id, provider, provider_user_id, status,
	access_token, access_token_secret, refresh_token, token_type, expires_at FROM identities`
	selectToken  = tokenColumns + ` WHERE id = $1 AND bot = $2`
	selectTokens = tokenColumns + ` WHERE id = ANY($1)`
)

func newTokenReads(pool *pgxpool.Pool) *tokenReads {
	return &tokenReads{max: maxTokenBatch, run: func(ctx context.Context, batch []*tokenRead) {
		queryTokens(ctx, pool, batch)
	}}
}

// readToken is IdentityTokens on t.
func readToken(t *tokenReads, ctx context.Context, bot string, id int64) (store.Identity, error) {
	r := tokenRead{bot: bot, id: id}
	if !t.do(ctx, &r) {
		return store.Identity{}, fmt.Errorf("postgres: identity %d: %w", id, ctx.Err())
	}
	return r.out, r.err
}

// queryTokens answers every read of batch with one query: each read's out, or its err.
func queryTokens(ctx context.Context, pool *pgxpool.Pool, batch []*tokenRead) {
	found := make([]bool, len(batch))
	var (
		rows pgx.Rows
		err  error
	)
	if len(batch) == 1 {
		rows, err = pool.Query(ctx, selectToken, batch[0].id, batch[0].bot)
	} else {
		ids := make([]int64, len(batch))
		for k, r := range batch {
			ids[k] = r.id
		}
		rows, err = pool.Query(ctx, selectTokens, ids)
	}
	if err == nil {
		for rows.Next() {
			var (
				i       store.Identity
				expires pgtype.Timestamptz
			)
			if err = rows.Scan(&i.ID, &i.Bot, &i.Channel, &i.User, &i.Provider, &i.ProviderUserID, &i.Status,
				&i.AccessToken, &i.AccessTokenSecret, &i.RefreshToken, &i.TokenType, &expires); err != nil {
				break
			}
			i.ExpiresAt = fromTS(expires)
			given := false
			for k, r := range batch {
				if r.id != i.ID || r.bot != i.Bot {
					continue
				}
				if given { // the same identity read twice: each caller gets its own bytes
					i = withOwnTokens(i)
				}
				r.out, found[k], given = i, true, true
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	for k, r := range batch {
		switch {
		case err != nil:
			r.out, r.err = store.Identity{}, fmt.Errorf("postgres: identity %d: %w", r.id, err)
		case !found[k]:
			r.err = fmt.Errorf("postgres: identity %d: %w", r.id, store.ErrNotFound)
		}
	}
}

// withOwnTokens is i with copies of its sealed tokens.
func withOwnTokens(i store.Identity) store.Identity {
	i.AccessToken = bytes.Clone(i.AccessToken)
	i.AccessTokenSecret = bytes.Clone(i.AccessTokenSecret)
	i.RefreshToken = bytes.Clone(i.RefreshToken)
	return i
}
