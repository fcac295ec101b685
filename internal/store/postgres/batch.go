package postgres

import (
	"context"
	"sync"
	"time"
)

// batcher runs the calls of one kind that arrive together (credentials reads, new links) as
// one statement.
//
// Why: a call is a round trip to the server, and on both ends most of its cost is the round
// trip itself (the protocol messages, a wake-up on each side, the pool's hand-off, for a write
// its commit), not the rows. One statement for many calls costs about what one call costs. So
// a call runs at once, alone, while no statement of its kind is in flight, exactly as it
// would without a batcher; calls that find one in flight wait, and when it ends, one
// statement takes everything waiting (up to max). Alone, a call never waits for company.
//
// One statement in flight, not one per connection: on a busy server the cost is the round
// trips, and fewer statements carry more calls each; under the bench's credentials load one
// in flight answered more reads, at a lower p99, than two or five (docs/BENCHMARKS.md,
// item 35). Each broker instance has its own statement in flight.
//
// A queued call always goes out in a statement sent after it was queued, so it sees every
// write committed before it was made.
type batcher[C any] struct {
	max int
	// run answers every call of calls, in one statement when it can. ctx is the caller's for
	// a call run alone and batchTimeout's otherwise.
	run func(ctx context.Context, calls []*C)

	mu    sync.Mutex
	busy  bool         // a statement is in flight; the queue is empty while it is not
	queue []*queued[C] // calls that no statement has taken yet
}

type queued[C any] struct {
	call    *C
	ctx     context.Context // the caller's: a call it gave up on is left out of the statement
	skipped bool            // left out: its caller's context had ended
	done    chan struct{}   // closed once run has answered call, or it was left out
}

// batchTimeout bounds a statement that answers queued calls. It cannot run under any one
// caller's context (one caller giving up must not fail the others); each caller still stops
// waiting when its own context ends.
const batchTimeout = 30 * time.Second

// do runs call, alone at once or in the next statement. It reports false when ctx ended
// while the call waited: then the caller must not read the call's results, which a
// statement may still be setting.
func (b *batcher[C]) do(ctx context.Context, call *C) bool {
	b.mu.Lock()
	if !b.busy {
		b.busy = true
		b.mu.Unlock()
		defer b.release() // even if run panics: the queue must not wait for a turn that never ends
		b.run(ctx, []*C{call})
		return true
	}
	q := &queued[C]{call: call, ctx: ctx, done: make(chan struct{})}
	b.queue = append(b.queue, q)
	b.mu.Unlock()
	select {
	case <-q.done:
		return !q.skipped
	case <-ctx.Done():
		return false
	}
}

// release ends the statement in flight, or hands its turn to the calls queued meanwhile.
func (b *batcher[C]) release() {
	b.mu.Lock()
	queued := len(b.queue) > 0
	if !queued {
		b.busy = false
	}
	b.mu.Unlock()
	if queued {
		go b.drain()
	}
}

// drain answers the queue a statement at a time until nothing waits.
func (b *batcher[C]) drain() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.max)
		if n == 0 {
			b.busy = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		if n == len(b.queue) {
			b.queue = nil
		} else {
			b.queue = b.queue[n:]
		}
		b.mu.Unlock()

		calls := make([]*C, 0, n)
		for _, q := range batch {
			if q.skipped = q.ctx.Err() != nil; !q.skipped {
				calls = append(calls, q.call)
			}
		}
		if len(calls) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
			b.run(ctx, calls)
			cancel()
		}
		for _, q := range batch {
			close(q.done)
		}
	}
}
