package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
)

// tokenQueries records the ids of every token query sent (selectToken or selectTokens).
type tokenQueries struct {
	mu  sync.Mutex
	ids [][]int64
}

func (q *tokenQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	var ids []int64
	switch d.SQL {
	case selectToken:
		ids = []int64{d.Args[0].(int64)}
	case selectTokens:
		ids = slices.Clone(d.Args[0].([]int64))
	default:
		return ctx
	}
	q.mu.Lock()
	q.ids = append(q.ids, ids)
	q.mu.Unlock()
	return ctx
}

func (q *tokenQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (q *tokenQueries) sent() [][]int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.ids)
}

// TestTokenReadsShareOneQuery: a read alone goes out at once in a query of its own; reads that
// find a query in flight wait, and when it ends, the queue goes out, 128 reads to a query; a
// read whose caller gave up is left out, and each read gets its own answer.
func TestTokenReadsShareOneQuery(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openStore(t, dsn)
	const n = 150 // the identities of bot b: ids 1 to 150; 151 is bot other's
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO identities
		(bot, channel, user_id, provider, provider_user_id, status, access_token, linked_at, updated_at)
		SELECT CASE WHEN g <= $1 THEN 'b' ELSE 'other' END, 'slack', 'u' || g, 'github', 'p' || g,
			'active', convert_to('sealed-' || g, 'UTF8'), now(), now()
		FROM generate_series(1, $1 + 1) AS g`, n); err != nil {
		t.Fatal(err)
	}

	queries := &tokenQueries{}
	pool := tracedPool(t, dsn, queries)
	reads := newTokenReads(pool)

	check := func(who string, got store.Identity, err error, id int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if got.ID != id || got.Bot != "b" || got.User != fmt.Sprint("u", id) || string(got.AccessToken) != fmt.Sprint("sealed-", id) {
			t.Fatalf("%s: identity %d of %q, user %q, token %q; want identity %d of b", who, got.ID, got.Bot, got.User, got.AccessToken, id)
		}
	}

	got, err := readToken(reads, t.Context(), "b", 7)
	check("a read alone", got, err, 7)
	if sent := queries.sent(); len(sent) != 1 || !slices.Equal(sent[0], []int64{7}) {
		t.Fatalf("a read alone sent %v, want one query for id 7", sent)
	}

	// A query in flight: the reads queue.
	reads.mu.Lock()
	reads.busy = true
	reads.mu.Unlock()

	type answer struct {
		got store.Identity
		err error
	}
	answers := make([]answer, n+3)
	var wg sync.WaitGroup
	for i := range n { // identities 1..150 of b
		wg.Go(func() {
			answers[i].got, answers[i].err = readToken(reads, t.Context(), "b", int64(i+1))
		})
	}
	wg.Go(func() { _, answers[n].err = readToken(reads, t.Context(), "b", n+1) })    // bot other's
	wg.Go(func() { _, answers[n+1].err = readToken(reads, t.Context(), "b", 9999) }) // no such id
	gaveUp, cancel := context.WithCancel(t.Context())
	gaveUpDone := make(chan error, 1)
	go func() {
		_, err := readToken(reads, gaveUp, "b", 3)
		gaveUpDone <- err
	}()
	waitFor(t, "the reads to queue", func() bool {
		reads.mu.Lock()
		defer reads.mu.Unlock()
		return len(reads.queue) == n+3
	})
	cancel()
	if err := <-gaveUpDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("a queued read whose caller gave up: %v, want context.Canceled", err)
	}

	reads.release() // the query in flight ends: the queue goes out
	wg.Wait()
	for i := range n {
		check(fmt.Sprint("queued read ", i+1), answers[i].got, answers[i].err, int64(i+1))
	}
	if !errors.Is(answers[n].err, store.ErrNotFound) || !errors.Is(answers[n+1].err, store.ErrNotFound) {
		t.Fatalf("another bot's identity: %v; an unknown id: %v; want both not found", answers[n].err, answers[n+1].err)
	}
	sent := queries.sent()[1:]
	if len(sent) != 2 || len(sent[0]) > maxTokenBatch || len(sent[1]) > maxTokenBatch || len(sent[0])+len(sent[1]) != n+2 {
		lens := make([]int, len(sent))
		for i, ids := range sent {
			lens[i] = len(ids)
		}
		t.Fatalf("%d queued reads (one given up) went out in queries of %v ids, want two of at most %d, %d ids in all", n+3, lens, maxTokenBatch, n+2)
	}
	if times := len(slices.DeleteFunc(slices.Concat(sent...), func(id int64) bool { return id != 3 })); times != 1 {
		t.Fatalf("identity 3, read by a queued read and by one given up, went out %d times, want once", times)
	}
	waitFor(t, "the last query to end", func() bool {
		reads.mu.Lock()
		defer reads.mu.Unlock()
		return !reads.busy && len(reads.queue) == 0
	})

	// A query that fails answers every read of it with its error, alone or queued: none of
	// them gets an empty identity or "not found".
	pool.Close()
	if _, err := readToken(reads, t.Context(), "b", 7); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a read alone whose query failed: %v, want the query's error", err)
	}
	failed := make([]error, 3)
	together(t, reads, len(failed), -1, func(ctx context.Context, i int) {
		_, failed[i] = readToken(reads, ctx, "b", int64(i+1))
	})
	for i, err := range failed {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("queued read %d whose query failed: %v, want the query's error", i+1, err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// openStore opens a store on dsn for t.
func openStore(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// tracedPool is a pool of its own on dsn whose statements tracer sees.
func tracedPool(t *testing.T, dsn string, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
