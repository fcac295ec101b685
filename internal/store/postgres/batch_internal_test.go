package postgres

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestBatcherGoesOnAfterAPanic: a call whose statement panics (run alone, the panic recovered
// by its caller, as the HTTP server's middleware does) does not leave the batcher waiting for
// a statement that never ends.
func TestBatcherGoesOnAfterAPanic(t *testing.T) {
	type double struct{ in, out int }
	b := &batcher[double]{max: 8, run: func(_ context.Context, calls []*double) {
		for _, c := range calls {
			if c.in < 0 {
				panic("a statement failed in a way nobody expected")
			}
			c.out = 2 * c.in
		}
	}}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		b.do(t.Context(), &double{in: -1})
	}()
	next := double{in: 21}
	done := make(chan bool, 1)
	go func() { done <- b.do(t.Context(), &next) }()
	select {
	case ok := <-done:
		if !ok || next.out != 42 {
			t.Fatalf("the call after the panic: answered %v, out %d; want 42", ok, next.out)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call after the panic waited 5 s: the batcher still counts the panicked statement as in flight")
	}
}

// together makes n calls on b (call(ctx, i) makes call i), in order, behind a statement in
// flight, and cancels call gaveUp (-1: none) once it waits; then it lets the statement end and
// waits for every call. In order: the first of two calls for one key is the one that takes it.
func together[C any](t *testing.T, b *batcher[C], n, gaveUp int, call func(ctx context.Context, i int)) {
	t.Helper()
	b.mu.Lock()
	b.busy = true
	b.mu.Unlock()
	var wg sync.WaitGroup
	for i := range n {
		ctx, cancel := context.WithCancel(t.Context())
		wg.Go(func() {
			defer cancel()
			call(ctx, i)
		})
		waitFor(t, "a call to queue", func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return len(b.queue) == i+1
		})
		if i == gaveUp {
			cancel()
		}
	}
	b.release()
	wg.Wait()
}
