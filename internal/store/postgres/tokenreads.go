package postgres

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// tokenReads answers IdentityTokens, the read behind every credentials request.
//
// Why a queue: a read is one round trip to the server, and on both ends most of its cost is
// the round trip itself (the protocol messages, a wake-up on each side, the pool's hand-off),
// not the row. One query for many ids (WHERE id = ANY($1)) costs about what one read costs.
// So a read runs at once while no other token query is in flight, exactly as it would without
// the queue; a read that finds one in flight waits, and when that query ends, one query takes
// everything waiting. Alone, a read never waits for company.
//
// One query in flight, not one per connection: on a busy server the reads' cost is the round
// trips, and fewer queries carry more ids each; under the bench's credentials load one in
// flight answered more reads, at a lower p99, than two or five (docs/BENCHMARKS.md, item 35).
// Each broker instance has its own query in flight.
//
// A queued read always goes out in a query sent after it was queued, so it sees every write
// that committed before IdentityTokens was called.
type tokenReads struct {
	pool *pgxpool.Pool

	mu    sync.Mutex
	busy  bool         // a query is in flight; the queue is empty while it is not
	queue []*tokenRead // reads that no query has taken yet
}

// tokenRead is one IdentityTokens call.
type tokenRead struct {
	ctx  context.Context // the caller's: a read it gave up on is not sent
	bot  string
	id   int64
	done chan struct{} // closed once out and err are set; nil for a read run at once
	out  store.Identity
	err  error
}

// maxTokenBatch bounds the ids of one query: a burst far larger than the broker's usual
// concurrency is answered by several queries, none of them slow.
const maxTokenBatch = 128

// tokenBatchTimeout bounds a query that answers queued reads. It cannot run under any one
// caller's context (one caller giving up must not fail the others); each caller still stops
// waiting when its own context ends.
const tokenBatchTimeout = 30 * time.Second

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

func newTokenReads(pool *pgxpool.Pool) *tokenReads { return &tokenReads{pool: pool} }

// read is IdentityTokens.
func (t *tokenReads) read(ctx context.Context, bot string, id int64) (store.Identity, error) {
	t.mu.Lock()
	if !t.busy {
		t.busy = true
		t.mu.Unlock()
		r := tokenRead{ctx: ctx, bot: bot, id: id}
		t.query(ctx, []*tokenRead{&r})
		t.release()
		return r.out, r.err
	}
	r := &tokenRead{ctx: ctx, bot: bot, id: id, done: make(chan struct{})}
	t.queue = append(t.queue, r)
	t.mu.Unlock()
	select {
	case <-r.done:
		return r.out, r.err
	case <-ctx.Done():
		return store.Identity{}, fmt.Errorf("postgres: identity %d: %w", id, ctx.Err())
	}
}

// release ends the query in flight, or hands its turn to the reads queued meanwhile.
func (t *tokenReads) release() {
	t.mu.Lock()
	queued := len(t.queue) > 0
	if !queued {
		t.busy = false
	}
	t.mu.Unlock()
	if queued {
		go t.drain()
	}
}

// drain answers the queue a query at a time until nothing waits.
func (t *tokenReads) drain() {
	for {
		t.mu.Lock()
		n := min(len(t.queue), maxTokenBatch)
		if n == 0 {
			t.busy = false
			t.mu.Unlock()
			return
		}
		batch := t.queue[:n:n]
		if n == len(t.queue) {
			t.queue = nil
		} else {
			t.queue = t.queue[n:]
		}
		t.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), tokenBatchTimeout)
		t.query(ctx, batch)
		cancel()
		for _, r := range batch {
			close(r.done)
		}
	}
}

// query answers every read of batch with one query: each read's out, or its err.
func (t *tokenReads) query(ctx context.Context, batch []*tokenRead) {
	ids := make([]int64, 0, len(batch))
	var alone *tokenRead
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("postgres: identity %d: %w", r.id, err)
			continue
		}
		ids = append(ids, r.id)
		alone = r
	}
	if len(ids) == 0 {
		return
	}
	found := make([]bool, len(batch))
	var (
		rows pgx.Rows
		err  error
	)
	if len(ids) == 1 {
		rows, err = t.pool.Query(ctx, selectToken, alone.id, alone.bot)
	} else {
		rows, err = t.pool.Query(ctx, selectTokens, ids)
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
				if r.id != i.ID || r.bot != i.Bot || r.err != nil {
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
		case r.err != nil:
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
