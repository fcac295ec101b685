//go:build cgo

package sqlite

/*
#include <stdlib.h>
#include "readpool.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// readPool runs the hottest read, one identity's tokens by its id (GET credentials), on read
// connections of its own. Against database/sql's pool it saves three things, each measured
// in docs/BENCHMARKS.md:
//
//   - A connection is taken, used and given back within one call into C. Through database/sql
//     a goroutine holds its connection from the query to the end of its Scan, across several
//     calls into C; when one runs long, the Go runtime hands the goroutine's processor to
//     another, and on its return the goroutine waits in the run queue (under load, behind
//     tens of requests) still holding the connection while other reads queue for it.
//   - A read transaction stays open while the database does not change. Each new one costs
//     two fcntl calls (the WAL's read lock, taken and released) and SQLite's checks of the
//     WAL, about a third of the read. A connection instead notes the wal-index header (which
//     every commit rewrites, from any process) and nBackfill (which every checkpoint that
//     copies pages moves) when its transaction begins, and ends the transaction as soon as
//     either differs: before a read, and again before it goes back to the pool, so an idle
//     connection does not sit on an old snapshot. Reads therefore see every commit that
//     finished before they began, as with a transaction per read. An idle connection on the
//     newest snapshot would still hold back a checkpoint (and the WAL's restart) once a
//     commit comes, so the checkpointer ends idle transactions around each checkpoint
//     (checkpoint.go).
//   - The row is copied once, into one Go buffer that the strings and token slices share;
//     database/sql and the driver allocate and convert each column.
type readPool struct {
	mu sync.RWMutex // held for reading by every read, for writing by close
	p  *C.readpool  // nil once closed
}

// tokenReadConns is how many connections the token reads have: one per core. A read holds
// one only while its thread runs in C, and each has a page cache of tokenReadCacheKiB, so
// more would add memory and not reads (two and four measured alike on two cores).
func tokenReadConns() int { return max(2, runtime.GOMAXPROCS(0)) }

// openReadPool opens conns connections to uri through vfs, runs setup on each and prepares
// query, which takes an integer and a text parameter.
func openReadPool(uri, vfs string, conns int, setup, query string) (*readPool, error) {
	curi, cvfs, csetup, cquery := C.CString(uri), C.CString(vfs), C.CString(setup), C.CString(query)
	defer func() {
		for _, s := range []*C.char{curi, cvfs, csetup, cquery} {
			C.free(unsafe.Pointer(s))
		}
	}()
	var (
		p   *C.readpool
		err [256]C.char
	)
	if rc := C.readpool_open(curi, cvfs, C.int(conns), csetup, cquery, &p, &err[0], C.int(len(err))); rc != C.SQLITE_OK {
		return nil, fmt.Errorf("read connections: %s (SQLite error %d)", C.GoString(&err[0]), int(rc))
	}
	return &readPool{p: p}, nil
}

// emptyText is where an empty text parameter points.
var emptyText [1]byte

// column is one value of a row read by row.
type column struct {
	kind  int // SQLite's type: C.SQLITE_INTEGER, _TEXT, _BLOB or _NULL
	value int64
	// TEXT and BLOB: the value's own bytes of the row's buffer (capacity cut to them), so a
	// caller writing into one value's slice changes no other value or string.
	bytes []byte
}

// rowBuffer is the first buffer a read gets; a row that needs more is read again.
const rowBuffer = 1024

// errReadsClosed answers a read after Close; the caller names the store.
var errReadsClosed = errors.New("the store is closed")

// row runs the query with a and b and reads its first row's first len(cols) columns into
// cols. found is false when it returns no row.
func (r *readPool) row(a int64, b string, cols []column) (found bool, err error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p == nil {
		return false, errReadsClosed
	}
	text := unsafe.StringData(b)
	if len(b) == 0 {
		text = &emptyText[0] // a nil pointer would bind NULL, not ''
	}
	buf := make([]byte, max(rowBuffer, len(cols)*3*8+1)) // room for the header C writes first
	for {
		rc := C.readpool_row(r.p, C.sqlite3_int64(a), (*C.char)(unsafe.Pointer(text)), C.int(len(b)),
			(*C.uchar)(unsafe.Pointer(&buf[0])), C.int(len(buf)), C.int(len(cols)))
		switch rc {
		case C.READPOOL_BUSY:
			// Waiting inside C would block the thread without the Go scheduler knowing, and
			// the goroutines ready to run would wait for the runtime to notice: give the
			// processor to them, and try again.
			runtime.Gosched()
			continue
		case C.SQLITE_DONE:
			return false, nil
		case C.READPOOL_SHORT:
			buf = make([]byte, binary.NativeEndian.Uint64(buf))
			continue
		case C.SQLITE_ROW:
		default:
			return false, fmt.Errorf("%s (SQLite error %d)", C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), int(rc))
		}
		for c := range cols {
			h := buf[c*24:]
			kind := int(binary.NativeEndian.Uint64(h))
			v := int64(binary.NativeEndian.Uint64(h[8:]))
			n := int64(binary.NativeEndian.Uint64(h[16:]))
			cols[c] = column{kind: kind, value: v}
			if kind == C.SQLITE_TEXT || kind == C.SQLITE_BLOB {
				cols[c].value = 0
				cols[c].bytes = buf[v : v+n : v+n]
			}
		}
		return true, nil
	}
}

// releaseIdle ends the read transactions of the connections not in use, so that they hold
// back neither a checkpoint nor the WAL's restart.
func (r *readPool) releaseIdle() {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p != nil {
		C.readpool_release_idle(r.p)
	}
}

// close waits for the reads under way and closes the connections.
func (r *readPool) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p != nil {
		C.readpool_close(r.p)
		r.p = nil
	}
}

// sqliteInteger is SQLite's INTEGER type, for the code that decodes columns.
const sqliteInteger = C.SQLITE_INTEGER

// text is a TEXT (or BLOB) column as a string sharing the row's buffer; "" for NULL.
func (c column) text() string {
	if len(c.bytes) == 0 {
		return ""
	}
	return unsafe.String(&c.bytes[0], len(c.bytes))
}

// blob is a BLOB (or TEXT) column; nil for NULL, empty for an empty value.
func (c column) blob() []byte {
	if c.kind == C.SQLITE_NULL {
		return nil
	}
	return c.bytes
}
