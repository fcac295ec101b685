package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"

	"github.com/mattn/go-sqlite3"
)

// Group commit.
//
// SQLite runs one writer at a time and this store writes through one connection, so under
// load write transactions queue anyway. What each of them pays on its own is the transaction:
// BEGIN IMMEDIATE takes the write lock, and COMMIT appends every page the transaction changed
// to the WAL (a write and a checksum per page) — under load, more of a write's CPU than the
// statements themselves. So the writes do not begin their own transactions: they queue for one
// writer loop, which runs whatever is queued together in one transaction and commits once.
//
// Each write after the first of a batch runs inside a SAVEPOINT: when it fails, ROLLBACK TO
// undoes its changes alone and the others stay. The first needs none: when it fails, the
// transaction holds nothing else and is rolled back whole. No caller hears of success before
// the COMMIT that holds its write has returned; when the COMMIT fails, or SQLite has rolled the
// whole transaction back on its own (it does on some errors: I/O, disk full, an interrupt),
// every write of the batch gets an error and none of them is stored.
//
// Nothing waits on a timer to fill a batch: a write alone runs at once, as it would in a
// transaction of its own, and batches form from the writes that queue while one is running,
// which is when the commit cost counts. Before it commits, though, the loop lets the other
// goroutines that are ready to run go first, once (runtime.Gosched): under load those are
// requests about to hand over their write, and they join this batch instead of each paying
// for a commit of their own in the next few. When nothing else is ready, the yield returns at
// once. Under the bench's load of POST links, batches grew from about 3.5 writes to about 14
// and the broker's CPU per link fell by 10–20 % (docs/BENCHMARKS.md, item 29).

// maxBatch bounds the writes of one transaction, and so how long the first of them waits for
// its COMMIT.
const maxBatch = 64

// errClosed answers a write after Close.
var errClosed = errors.New("sqlite: the store is closed")

// errPanicked stands for a write that panicked while the loop undoes it; its caller gets the
// panic itself. The panic's value is not put in the error: it may quote what was being written.
var errPanicked = errors.New("sqlite: the write panicked")

// writeOp is one write transaction queued for the writer loop.
type writeOp struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *sql.Tx) error

	// Set by the loop before it closes done.
	err      error
	panicked bool
	panicVal any
	done     chan struct{}
}

func (op *writeOp) finish(err error) {
	op.err = err
	close(op.done)
}

// inTx runs fn as one write transaction: its changes are stored, all of them, when fn returns
// nil and the COMMIT that holds them succeeds, else none of them. fn runs on the writer
// loop's goroutine; a panic in fn panics here again, with the same value.
//
// fn gets ctx without its cancellation and must use that one: a cancelled context makes the
// driver call sqlite3_interrupt, and an interrupted statement can roll back the whole
// transaction, which holds other callers' writes. ctx counts while the write waits in the
// queue: cancelled by then, fn does not run and inTx returns ctx.Err().
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.gate.RLock()
	if s.closed {
		s.gate.RUnlock()
		return errClosed
	}
	select {
	case s.ops <- op:
		s.gate.RUnlock()
	case <-ctx.Done():
		s.gate.RUnlock()
		return ctx.Err()
	}
	<-op.done
	if op.panicked {
		panic(op.panicVal)
	}
	return op.err
}

// startWriter starts the writer loop; stopWriter ends it.
func (s *Store) startWriter() {
	s.ops = make(chan *writeOp) // unbuffered: a queued write is a sender waiting here
	s.writerDone = make(chan struct{})
	go s.writeLoop()
}

// stopWriter lets the writes already queued run, refuses new ones and waits for the loop to
// end. Senders hold gate's read lock while they wait to hand over their write, so taking the
// write lock waits for every queued write to be taken.
func (s *Store) stopWriter() {
	if s.ops == nil {
		return
	}
	s.gate.Lock()
	if !s.closed {
		s.closed = true
		close(s.ops)
	}
	s.gate.Unlock()
	<-s.writerDone
}

func (s *Store) writeLoop() {
	defer close(s.writerDone)
	for op := range s.ops {
		s.runBatch(op)
	}
}

// runBatch runs first and the writes queued behind it in one transaction.
func (s *Store) runBatch(first *writeOp) {
	if !live(first) {
		return
	}
	// The loop's own context is never cancelled: database/sql rolls a transaction back when
	// the context it began with ends.
	ctx := context.Background()
	c, err := s.writer.Conn(ctx)
	if err != nil {
		first.finish(err)
		return
	}
	// Back to the pool between batches, for the writes that bypass the loop (Query, and
	// the store's own use of the writer: migrations, seeding, the checkpoint at Close).
	defer c.Close()
	tx, err := c.BeginTx(ctx, nil) // IMMEDIATE: the writer's _txlock
	if err != nil {
		first.finish(err)
		return
	}
	if err := call(first, tx); err != nil {
		_ = tx.Rollback()
		first.finish(err)
		return
	}
	batch := []*writeOp{first}
	own := s.tx(tx) // the loop's own statements, prepared like the rules' (statementTexts)
	if err := dropped(c); err != nil {
		abort(tx, batch, err)
		return
	}
	yielded := false
	for len(batch) < maxBatch {
		op := s.queued()
		if op == nil && !yielded {
			// Let the goroutines ready to run hand over their writes first (see the top).
			yielded = true
			runtime.Gosched()
			op = s.queued()
		}
		if op == nil {
			break
		}
		if !live(op) {
			continue
		}
		if _, err := own.Exec(ctx, savepointOp); err != nil {
			abort(tx, append(batch, op), err)
			return
		}
		if err := call(op, tx); err != nil {
			// Undo op's changes alone. When this fails, SQLite has rolled back the whole
			// transaction (or cannot undo op), and nothing of the batch may be stored.
			_, rerr := own.Exec(ctx, rollbackToOp)
			if rerr == nil {
				_, rerr = own.Exec(ctx, releaseOp)
			}
			if rerr != nil {
				abort(tx, batch, fmt.Errorf("undo a failed write of the batch: %w", rerr))
				op.finish(errors.Join(err, rerr))
				return
			}
			op.finish(err) // final: nothing of op is in the transaction
		} else {
			if _, err := own.Exec(ctx, releaseOp); err != nil {
				abort(tx, append(batch, op), err)
				return
			}
			batch = append(batch, op)
		}
		if err := dropped(c); err != nil {
			abort(tx, batch, err)
			return
		}
	}
	if err := tx.Commit(); err != nil { // the driver rolls back what COMMIT left open
		if len(batch) > 1 {
			err = fmt.Errorf("commit %d writes together: %w", len(batch), err)
		}
		for _, op := range batch {
			op.finish(err)
		}
		return
	}
	if s.checkpoints != nil {
		s.checkpoints.commit()
	}
	for _, op := range batch {
		op.finish(nil)
	}
}

// queued is the next write queued for the batch without waiting for one: nil when none is,
// or when the loop is closing (ops closed: commit what runs and let the loop end).
func (s *Store) queued() *writeOp {
	select {
	case op := <-s.ops:
		return op
	default:
		return nil
	}
}

// live reports whether op is still wanted; a write whose caller gave up while it was queued
// ends with the context's error and never runs.
func live(op *writeOp) bool {
	if err := op.ctx.Err(); err != nil {
		op.finish(err)
		return false
	}
	return true
}

// call runs op's fn on tx, with op's context stripped of its cancellation (see inTx). A panic
// is caught for op's caller, and reported here as an error so that op's changes are undone.
func call(op *writeOp, tx *sql.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			op.panicked, op.panicVal = true, r
			err = errPanicked
		}
	}()
	return op.fn(context.WithoutCancel(op.ctx), tx)
}

// dropped reports an error when the connection is back in autocommit mode: SQLite rolled the
// transaction back by itself, and a later SAVEPOINT would begin a new one without the writes
// already run.
func dropped(c *sql.Conn) error {
	var autocommit bool
	err := c.Raw(func(dc any) error {
		sc, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("writer connection is a %T", dc)
		}
		autocommit = sc.AutoCommit()
		return nil
	})
	if err == nil && autocommit {
		err = errors.New("SQLite rolled the transaction back")
	}
	return err
}

// abort rolls the transaction back and fails every write of batch with err.
func abort(tx *sql.Tx, batch []*writeOp, err error) {
	_ = tx.Rollback()
	err = fmt.Errorf("write batch rolled back: %w", err)
	for _, op := range batch {
		op.finish(err)
	}
}

// The statements the writer loop runs around each write after the first of a batch. They
// are prepared with the store's statements (statementTexts), so conn.Exec runs them prepared:
// run as text, SQLite would parse and compile each one every time, two per write.
const (
	savepointOp  = `SAVEPOINT op`
	releaseOp    = `RELEASE op`
	rollbackToOp = `ROLLBACK TO op`
)
