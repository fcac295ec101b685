//go:build cgo

package sqlite

/*
#include "walvfs.h"
*/
import "C"

import (
	"fmt"
	"sync"
)

// The file databases are opened through a VFS of our own (walvfs.c): SQLite's default VFS
// with the writes to two kinds of file gathered in memory. Profiles of link flows showed them
// as most of the broker's syscalls (docs/BENCHMARKS.md has the counts), each costing a few µs
// on a virtual machine:
//
//   - The WAL. SQLite writes each page of a commit as two writes, the frame's header and then
//     the page: a flow's four transactions wrote about 40 pages, so 80 pwrite calls. Gathered,
//     a commit is one write (or one per 96 KiB).
//   - Sub-journals. The writer loop runs every write of a batch after the first in a
//     SAVEPOINT, and SQLite keeps the original of each page a savepoint changes in a
//     sub-journal, which moves from memory to a temporary file past 64 KiB and then takes two
//     writes per page. Gathered, it takes one per 96 KiB; memory stays bounded.
//
// Why gathering the WAL is as safe as the default VFS: nothing waits in memory past the end of
// a commit. The page that follows a commit frame's header is the last write of the commit; it
// and everything gathered before it go to the file before that write call returns, so an
// error is the commit's error (the transaction fails as it would have), and SQLite publishes
// the commit to readers only after that. Any other operation on the file — a read, a sync, a
// truncate, its size, a file control, close — first writes what was gathered. A process that
// dies mid-commit leaves fewer frames of the unfinished transaction in the WAL; SQLite ignores
// such frames either way. Durability with synchronous=NORMAL is unchanged: a commit is in the
// operating system's hands when it returns, and checkpoints sync as before. A sub-journal
// only ever serves ROLLBACK TO within its transaction and is deleted at its end, so a read
// first writing what was gathered is all it needs.

var (
	walVFSOnce sync.Once
	walVFSErr  error
)

// walVFSName is the name our VFS is registered under, for the vfs= parameter of a DSN.
const walVFSName = C.WALVFS_NAME

// registerWALVFS registers the VFS once per process.
func registerWALVFS() error {
	walVFSOnce.Do(func() {
		if rc := C.walvfs_register(); rc != C.SQLITE_OK {
			walVFSErr = fmt.Errorf("sqlite: register the WAL-gathering VFS: SQLite error %d", int(rc))
		}
	})
	return walVFSErr
}

// walVFSCounts reports, for tests, the writes the VFS has passed to the file system for WAL
// files and for sub-journals since the process started.
func walVFSCounts() (walWrites, subjournalWrites int64) {
	return int64(C.walvfs_wal_writes()), int64(C.walvfs_subjournal_writes())
}
