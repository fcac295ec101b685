package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// The writer loop's tests run on a file store, as production does: its read pool is other
// connections, which see a write only once its batch has committed.

func openWriterTest(t *testing.T) *Store {
	t.Helper()
	return openWriterTestAt(t, filepath.Join(t.TempDir(), "db"))
}

func openWriterTestAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	// A table of the tests' own, so that a write can be anything.
	if _, err := s.writer.ExecContext(t.Context(), `CREATE TABLE marks (name TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return s
}

// mark inserts name into marks inside a write transaction.
func mark(ctx context.Context, tx *sql.Tx, name string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO marks (name) VALUES (?)`, name)
	return err
}

// marked reports whether name is in marks, as the read pool sees it (committed writes only).
func marked(t testing.TB, s *Store, name string) bool {
	t.Helper()
	var n int
	if err := s.reader.QueryRowContext(context.Background(), `SELECT count(*) FROM marks WHERE name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// batch runs writes together in one transaction: a first write marks "first" and holds the
// writer loop until each of writes (every one a single write transaction) is queued behind
// it, in order, then lets them run. It returns each write's error and first's.
func batch(t *testing.T, s *Store, writes ...func() error) (errs []error, firstErr error) {
	t.Helper()
	held, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- s.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
			if err := mark(ctx, tx, "first"); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	errs = make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		wg.Go(func() { errs[i] = w() })
		waitQueued(t, i+1) // one at a time: they queue, and run, in this order
	}
	close(release)
	wg.Wait()
	return errs, <-firstDone
}

// tracked is a write transaction running fn that records in *inFirstTx whether it ran in
// the transaction of batch's first write: that write's mark is not visible to the read pool
// before the batch commits.
func tracked(s *Store, inFirstTx *bool, fn func(ctx context.Context, tx *sql.Tx) error) func() error {
	return func() error {
		return s.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
			var n int
			if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM marks WHERE name = 'first'`).Scan(&n); err != nil {
				return err
			}
			*inFirstTx = n == 0
			return fn(ctx, tx)
		})
	}
}

// marking is a tracked write that marks name.
func marking(s *Store, inFirstTx *bool, name string) func() error {
	return tracked(s, inFirstTx, func(ctx context.Context, tx *sql.Tx) error { return mark(ctx, tx, name) })
}

// waitQueued waits until n goroutines wait to hand a write to the writer loop.
func waitQueued(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		stacks := string(buf[:runtime.Stack(buf, true)])
		queued := 0
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, ".(*Store).inTx(") {
				queued++
			}
		}
		if queued == n {
			return
		}
	}
	t.Fatalf("%d writes never queued", n)
}

func wantInFirstTx(t *testing.T, inFirstTx ...bool) {
	t.Helper()
	for i, in := range inFirstTx {
		if !in {
			t.Fatalf("write %d ran in a transaction of its own, not in the batch", i)
		}
	}
}

func wantMarks(t *testing.T, s *Store, want map[string]bool) {
	t.Helper()
	for name, w := range want {
		if got := marked(t, s, name); got != w {
			t.Errorf("%s stored: %v, want %v", name, got, w)
		}
	}
}

func TestConcurrentWritesAllLand(t *testing.T) {
	s := openWriterTest(t)
	ctx := t.Context()
	const goroutines, flows = 64, 8
	now := time.Now()
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for k := range flows {
				i := g*flows + k
				l, err := s.CreateLink(ctx, store.Link{TokenHash: fmt.Appendf(nil, "link-%d", i), Bot: "bot", Channel: "slack",
					User: fmt.Sprintf("U%d", i), CreatedAt: now, ExpiresAt: now.Add(time.Hour),
					Providers: []store.LinkProvider{{Provider: "github"}}})
				if err != nil {
					errs <- err
					return
				}
				state := fmt.Appendf(nil, "state-%d", i)
				if err := s.CreateFlow(ctx, store.Flow{StateHash: state, LinkID: l.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					errs <- err
					return
				}
				if _, err := s.ConsumeFlow(ctx, state, now); err != nil {
					errs <- err
					return
				}
				_, err = s.CompleteLink(ctx, store.CompleteLinkParams{LinkID: l.ID, Now: now, Webhook: true,
					Identity: store.Identity{Bot: l.Bot, Channel: l.Channel, User: l.User, Provider: "github",
						ProviderUserID: fmt.Sprint(i), Status: store.StatusActive, AccessToken: []byte("token")}})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query string
		want  int
		args  []any
	}{
		{`SELECT count(*) FROM links WHERE used_at IS NOT NULL`, goroutines * flows, nil},
		{`SELECT count(*) FROM flows WHERE consumed_at IS NOT NULL`, goroutines * flows, nil},
		{`SELECT count(DISTINCT provider_user_id) FROM identities`, goroutines * flows, nil},
		{`SELECT count(*) FROM link_providers WHERE identity_id IS NOT NULL`, goroutines * flows, nil},
		{`SELECT count(*) FROM webhook_outbox WHERE type = ?`, goroutines * flows, []any{store.WebhookLinkCompleted}},
	} {
		var n int
		if err := s.reader.QueryRowContext(ctx, c.query, c.args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != c.want {
			t.Errorf("%s: %d, want %d", c.query, n, c.want)
		}
	}
}

// A write that is ready to be handed over while a batch runs, but not yet queued, joins the
// batch: the loop lets it run before committing. With one P, a goroutine started by the
// batch's first write cannot run before the loop yields (nor while it waits on the COMMIT:
// the commit comes after the yield), so without the yield it always finds the batch
// committed. The scheduler runs a goroutine from its global queue first on one scheduling
// round in 61, and the yielding loop may be that one; so of five tries, at least three must
// join (all five do but about once in 60 tries).
func TestReadyWriteJoinsTheBatch(t *testing.T) {
	s := openWriterTest(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	joined := 0
	for i := range 5 {
		first, second := fmt.Sprint("first ", i), fmt.Sprint("second ", i)
		var inFirstTx bool
		secondErr := make(chan error, 1)
		err := s.inTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			go func() {
				secondErr <- s.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
					var n int // the read pool sees first once its batch has committed
					if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM marks WHERE name = ?`, first).Scan(&n); err != nil {
						return err
					}
					inFirstTx = n == 0
					return mark(ctx, tx, second)
				})
			}()
			return mark(ctx, tx, first)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-secondErr; err != nil {
			t.Fatal(err)
		}
		if inFirstTx {
			joined++
		}
		wantMarks(t, s, map[string]bool{first: true, second: true})
	}
	if joined < 3 {
		t.Fatalf("%d of 5 ready writes joined the batch, want at least 3", joined)
	}
}

// A write that fails in a batch leaves nothing; the writes around it are stored.
func TestFailedWriteInBatchLeavesNothing(t *testing.T) {
	s := openWriterTest(t)
	ctx := t.Context()
	boom := errors.New("boom")
	now := time.Now()
	link := func(token string, providers ...string) store.Link {
		l := store.Link{TokenHash: []byte(token), Bot: "bot", Channel: "slack", User: "U1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		for _, p := range providers {
			l.Providers = append(l.Providers, store.LinkProvider{Provider: p})
		}
		return l
	}
	var in [3]bool
	errs, firstErr := batch(t, s,
		marking(s, &in[0], "a"),
		tracked(s, &in[1], func(ctx context.Context, tx *sql.Tx) error {
			if err := mark(ctx, tx, "b"); err != nil {
				return err
			}
			return boom
		}),
		// The rules: CreateLink inserts the link, then fails on the provider listed twice.
		func() error { _, err := s.CreateLink(ctx, link("twice", "github", "github")); return err },
		func() error { _, err := s.CreateLink(ctx, link("once", "github")); return err },
		marking(s, &in[2], "c"),
	)
	if firstErr != nil || errs[0] != nil || errs[3] != nil || errs[4] != nil {
		t.Fatalf("first %v, a %v, link once %v, c %v: want them stored", firstErr, errs[0], errs[3], errs[4])
	}
	if !errors.Is(errs[1], boom) {
		t.Fatalf("b: %v, want %v", errs[1], boom)
	}
	if !errors.Is(errs[2], store.ErrConflict) {
		t.Fatalf("link with a provider twice: %v, want %v", errs[2], store.ErrConflict)
	}
	wantInFirstTx(t, in[:]...)
	wantMarks(t, s, map[string]bool{"first": true, "a": true, "b": false, "c": true})
	if _, err := s.LinkByTokenHash(ctx, []byte("twice")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed link: %v, want %v", err, store.ErrNotFound)
	}
	if _, err := s.LinkByTokenHash(ctx, []byte("once")); err != nil {
		t.Errorf("the stored link: %v", err)
	}
}

// When the COMMIT fails, every write of the batch fails and none is stored. A foreign key
// checked at COMMIT (defer_foreign_keys) makes it fail.
func TestFailedCommitFailsTheBatch(t *testing.T) {
	s := openWriterTest(t)
	var in [3]bool
	errs, firstErr := batch(t, s,
		marking(s, &in[0], "a"),
		tracked(s, &in[1], func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO flows (state_hash, link_id, created_at, expires_at) VALUES (x'01', 12345, 0, 0)`)
			return err
		}),
		marking(s, &in[2], "c"),
	)
	wantInFirstTx(t, in[:]...)
	for i, err := range append([]error{firstErr}, errs...) {
		if !isForeignKey(err) {
			t.Errorf("write %d: %v, want the COMMIT's foreign key error", i, err)
		}
	}
	wantMarks(t, s, map[string]bool{"first": false, "a": false, "c": false})
	var flows int
	if err := s.reader.QueryRow(`SELECT count(*) FROM flows`).Scan(&flows); err != nil || flows != 0 {
		t.Errorf("flows: %d, %v; want none", flows, err)
	}
	// The loop goes on.
	if err := s.inTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error { return mark(ctx, tx, "after") }); err != nil {
		t.Fatal(err)
	}
	wantMarks(t, s, map[string]bool{"after": true})
}

// When SQLite rolls the whole transaction back on its own, every write run in it so far
// fails, and the writes queued behind run in the next one.
func TestDroppedTransactionFailsTheBatch(t *testing.T) {
	s := openWriterTest(t)
	if _, err := s.writer.ExecContext(t.Context(), `CREATE TABLE trap (x);
		CREATE TRIGGER trap_rollback BEFORE INSERT ON trap BEGIN SELECT RAISE(ROLLBACK, 'trapped'); END`); err != nil {
		t.Fatal(err)
	}
	trap := func(swallow bool) func(ctx context.Context, tx *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			if err := mark(ctx, tx, fmt.Sprint("trap swallowing ", swallow)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO trap VALUES (1)`)
			if err == nil || !strings.Contains(err.Error(), "trapped") {
				return fmt.Errorf("the trap: %v", err)
			}
			if swallow { // a write that ignores the error must not pass for stored
				return nil
			}
			return err
		}
	}
	for _, swallow := range []bool{false, true} {
		t.Run(fmt.Sprint("swallow=", swallow), func(t *testing.T) {
			if _, err := s.writer.ExecContext(t.Context(), `DELETE FROM marks`); err != nil {
				t.Fatal(err)
			}
			var in [3]bool
			errs, firstErr := batch(t, s,
				marking(s, &in[0], "a"),
				tracked(s, &in[1], trap(swallow)),
				marking(s, &in[2], "c"),
			)
			wantInFirstTx(t, in[:2]...) // (first is never committed: in[2] tells nothing)
			for i, err := range []error{firstErr, errs[0], errs[1]} {
				if err == nil {
					t.Errorf("write %d of the rolled back transaction: no error", i)
				}
			}
			if errs[2] != nil {
				t.Errorf("c, queued behind: %v", errs[2])
			}
			wantMarks(t, s, map[string]bool{"first": false, "a": false, fmt.Sprint("trap swallowing ", swallow): false, "c": true})
		})
	}
	// The first write of a batch runs without a savepoint: when it ignores the rollback, the
	// loop must still notice, not begin the next write in a transaction of its own.
	t.Run("first swallows", func(t *testing.T) {
		if _, err := s.writer.ExecContext(t.Context(), `DELETE FROM marks`); err != nil {
			t.Fatal(err)
		}
		held, release := make(chan struct{}), make(chan struct{})
		firstDone := make(chan error, 1)
		go func() {
			firstDone <- s.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				err := trap(true)(ctx, tx)
				close(held)
				<-release
				return err
			})
		}()
		<-held
		done := make(chan error, 1)
		go func() {
			done <- s.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error { return mark(ctx, tx, "c") })
		}()
		waitQueued(t, 1)
		close(release)
		if err := <-firstDone; err == nil {
			t.Error("the first write, rolled back by SQLite: no error")
		}
		if err := <-done; err != nil {
			t.Errorf("c, queued behind: %v", err)
		}
		wantMarks(t, s, map[string]bool{"trap swallowing true": false, "c": true})
	})
}

// A panic in a write panics its caller and undoes that write alone; the loop goes on.
func TestPanicInBatch(t *testing.T) {
	s := openWriterTest(t)
	var in [3]bool
	var recovered any
	errs, firstErr := batch(t, s,
		marking(s, &in[0], "a"),
		func() (err error) {
			defer func() { recovered = recover() }()
			return tracked(s, &in[1], func(ctx context.Context, tx *sql.Tx) error {
				if err := mark(ctx, tx, "b"); err != nil {
					return err
				}
				panic("boom")
			})()
		},
		marking(s, &in[2], "c"),
	)
	if recovered != "boom" {
		t.Fatalf("the panicking write's caller recovered %v, want boom", recovered)
	}
	if firstErr != nil || errs[0] != nil || errs[2] != nil {
		t.Fatalf("first %v, a %v, c %v: want them stored", firstErr, errs[0], errs[2])
	}
	wantInFirstTx(t, in[:]...)
	wantMarks(t, s, map[string]bool{"first": true, "a": true, "b": false, "c": true})

	// A panicking write alone, and the loop still serves.
	func() {
		defer func() { recovered = recover() }()
		_ = s.inTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			if err := mark(ctx, tx, "alone"); err != nil {
				return err
			}
			panic("alone")
		})
	}()
	if recovered != "alone" {
		t.Fatalf("recovered %v, want alone", recovered)
	}
	if err := s.inTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error { return mark(ctx, tx, "after") }); err != nil {
		t.Fatal(err)
	}
	wantMarks(t, s, map[string]bool{"alone": false, "after": true})
}

// A write whose context ends while it is queued does not run; its caller gets the context's
// error. The writes run in the same batch do not see their contexts' cancellation.
func TestCancelledWhileQueued(t *testing.T) {
	s := openWriterTest(t)
	queuedCtx, cancelQueued := context.WithCancel(context.Background())
	runningCtx, cancelRunning := context.WithCancel(context.Background())
	defer cancelRunning()
	var ran, in [2]bool
	errs, firstErr := batch(t, s,
		func() error {
			return s.inTx(runningCtx, func(ctx context.Context, tx *sql.Tx) error {
				// Ends the context of the write queued behind this one, and of this one: a
				// statement that saw it would be interrupted.
				cancelQueued()
				cancelRunning()
				return mark(ctx, tx, "running")
			})
		},
		func() error {
			// The rules' statements take the context they were called with.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			return rulesDB{s}.InTx(ctx, func(c sqlstore.Conn) error {
				cancel()
				_, err := c.Exec(ctx, `INSERT INTO marks (name) VALUES ('rules')`)
				return err
			})
		},
		func() error {
			return s.inTx(queuedCtx, func(ctx context.Context, tx *sql.Tx) error {
				ran[0] = true
				return mark(ctx, tx, "cancelled")
			})
		},
		marking(s, &in[0], "c"),
	)
	if firstErr != nil || errs[0] != nil || errs[1] != nil || errs[3] != nil {
		t.Fatalf("first %v, running %v, rules %v, c %v: want them stored", firstErr, errs[0], errs[1], errs[3])
	}
	if !errors.Is(errs[2], context.Canceled) || ran[0] {
		t.Fatalf("cancelled while queued: %v, ran %v; want %v and not run", errs[2], ran[0], context.Canceled)
	}
	wantMarks(t, s, map[string]bool{"first": true, "running": true, "rules": true, "cancelled": false, "c": true})

	// Cancelled while waiting to be taken, behind a write that holds the loop.
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.inTx(context.Background(), func(context.Context, *sql.Tx) error { close(held); <-release; return nil })
	}()
	<-held
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error { ran[1] = true; return mark(ctx, tx, "waiting") })
	}()
	waitQueued(t, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while waiting: %v, want %v", err, context.Canceled)
	}
	close(release)
	if err := s.inTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ran[1] {
		t.Fatal("a write cancelled while waiting ran")
	}
	wantMarks(t, s, map[string]bool{"waiting": false})

	// Cancelled before it is sent, to a loop waiting for work: handing it over and giving up
	// are both possible, and the loop must not run it either way.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 64 {
		err := s.inTx(cancelled, func(ctx context.Context, tx *sql.Tx) error { return mark(ctx, tx, fmt.Sprint("pre-cancelled ", i)) })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled before: %v, want %v", err, context.Canceled)
		}
	}
	var n int
	if err := s.reader.QueryRow(`SELECT count(*) FROM marks WHERE name LIKE 'pre-cancelled %'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("writes cancelled before they were sent: %d stored, %v", n, err)
	}
}

// Close runs the writes already queued, then refuses new ones.
func TestCloseRunsQueuedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s := openWriterTestAt(t, path)
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
			close(held)
			<-release
			return mark(ctx, tx, "first")
		})
	}()
	<-held
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			errs <- s.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error { return mark(ctx, tx, fmt.Sprint(i)) })
		}()
	}
	waitQueued(t, 3)
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("a write queued before Close: %v", err)
		}
	}
	if err := s.inTx(t.Context(), func(context.Context, *sql.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Errorf("a write after Close: %v, want %v", err, errClosed)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM marks`).Scan(&n); err != nil || n != 4 {
		t.Errorf("marks after Close: %d, %v; want 4", n, err)
	}
}

// Close returns only after the queued writes have run and committed, also on ":memory:",
// where no checkpoint waits for the writer connection first.
func TestCloseWaitsForTheRunningBatch(t *testing.T) {
	s, err := Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.inTx(context.Background(), func(context.Context, *sql.Tx) error { close(held); <-release; return nil })
	}()
	<-held
	done := make(chan error, 1)
	var ran atomic.Bool
	go func() {
		done <- s.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
			time.Sleep(100 * time.Millisecond) // Close, which got past the queue, goes on meanwhile
			_, err := s.tx(tx).Exec(ctx, statements.DeleteAdminSession, []byte("none"))
			ran.Store(true)
			return err
		})
	}()
	waitQueued(t, 1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	close(release)
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if !ran.Load() {
		t.Error("Close returned while a write queued before it was still running")
	}
	if err := <-done; err != nil {
		t.Errorf("the write queued before Close: %v", err)
	}
}
