package sqlite

import (
	"database/sql"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"
)

// Checkpoints off the writer's path.
//
// In WAL mode a commit appends pages to the WAL, and a checkpoint copies them back into the
// database file and syncs it. By default the connection whose commit takes the WAL past 1,000
// pages runs that checkpoint itself, before its COMMIT returns: here that is the one writer
// connection, so every write queued behind it waited for the copy and the sync (under the
// bench's POST links load, every few hundred milliseconds). A connection of its own runs them
// instead, in the background, at most every checkpointInterval while commits come in; the
// writer then only appends to the WAL. A PASSIVE checkpoint takes no lock the writer or the
// readers wait for: it copies what no reader still needs, and the rest at a later one.
//
// The writer still checkpoints by itself when the WAL reaches writerCheckpointPages: that
// covers the writes that do not go through the writer loop (migrations, seeding), and a
// background checkpoint that keeps failing. Nothing is lost while checkpoints wait or fail:
// the WAL holds every commit until one succeeds, and readers read the newest pages from it.
//
// The token reads (readpool.go) keep a read transaction open while the database does not
// change, and one left idle would hold back the checkpoint and the WAL's restart. So every
// checkpoint first ends the idle ones, and again after it (it moved what they saw). Commits
// from another process (a `keys rotate` run) do not wake the checkpointer; an idle tick does,
// at most idleCheckpointInterval after them.

// checkpointInterval is the least time between two background checkpoints: under load, a
// page the commits keep changing (the last page of a table, of an index) is copied once per
// checkpoint, however often it was committed in between.
const checkpointInterval = 100 * time.Millisecond

// idleCheckpointInterval is how often the checkpointer runs with no commit of this process to
// wake it.
const idleCheckpointInterval = time.Second

// writerCheckpointPages is the WAL size, in pages, at which the writer checkpoints by itself
// (SQLite's wal_autocheckpoint; its default is 1,000). The background checkpoints keep the
// WAL well below it under load: a few hundred pages at the bench's rate of links.
const writerCheckpointPages = 8000

// checkpointer runs the background checkpoints of one database file.
type checkpointer struct {
	db        *sql.DB       // one connection of its own
	committed chan struct{} // buffered 1: a commit since the last checkpoint began
	stop      chan struct{}
	done      chan struct{}
	reads     atomic.Pointer[readPool] // whose idle read transactions each checkpoint ends
}

// startCheckpointer opens a connection to the file at uri for the background checkpoints and
// starts them.
func startCheckpointer(uri string) (*checkpointer, error) {
	p := url.Values{}
	p.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	p.Set("vfs", walVFSName) // the WAL as the writer wrote it
	db, err := sql.Open("sqlite3", dsn(uri, p))
	if err != nil {
		return nil, err
	}
	oneConnection(db)
	c := &checkpointer{db: db, committed: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

// commit tells the checkpointer that a transaction committed; it never waits.
func (c *checkpointer) commit() {
	select {
	case c.committed <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	idle := time.NewTicker(idleCheckpointInterval)
	defer idle.Stop()
	for {
		select {
		case <-c.committed:
		case <-idle.C:
		case <-c.stop:
			return
		}
		reads := c.reads.Load()
		if reads != nil {
			reads.releaseIdle()
		}
		// An error (another process checkpointing the same file at this moment, say) leaves
		// the pages in the WAL for the next checkpoint; see the comment at the top.
		_, _ = c.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		if reads != nil {
			reads.releaseIdle() // the checkpoint moved nBackfill: let the WAL restart
		}
		select {
		case <-time.After(checkpointInterval):
		case <-c.stop:
			return
		}
	}
}

// close stops the checkpoints, waiting for one under way, and closes the connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
