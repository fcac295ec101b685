// A VFS that is SQLite's default VFS except for one thing: writes to a WAL file or to a
// savepoint's sub-journal are gathered in memory and reach the file in one write per commit
// (or per 96 KiB) instead of two per page. walvfs.go says why, and which rules keep it exactly
// as safe as the default VFS.

#include <stdlib.h>
#include <string.h>

#include "walvfs.h"

// walbuf is the state kept after the base VFS's own file object, for every file this VFS opens.
typedef struct walbuf {
	const sqlite3_io_methods *base; // the base VFS's methods for this file; 0 when not gathered
	volatile long *writes;          // the counter of this kind of file's writes
	int wal;                        // a WAL file, whose commits are written at once
	unsigned char *data;            // bytes written but not yet passed on
	int len;                        // bytes used in data
	sqlite3_int64 at;               // file offset of data[0]
	int commit_next;                // the last write was a commit frame's header
} walbuf;

static sqlite3_vfs *base_vfs;

// Counters for the tests: the writes passed to the base VFS for WAL files and for sub-journals.
static volatile long wal_writes, subjournal_writes;
long walvfs_wal_writes(void) { return __atomic_load_n(&wal_writes, __ATOMIC_RELAXED); }
long walvfs_subjournal_writes(void) { return __atomic_load_n(&subjournal_writes, __ATOMIC_RELAXED); }
static void count(volatile long *c) { __atomic_fetch_add(c, 1, __ATOMIC_RELAXED); }

static sqlite3_vfs wal_vfs;
static sqlite3_io_methods wal_methods;

static walbuf *state(sqlite3_file *f) { return (walbuf *)((char *)f + base_vfs->szOsFile); }

// flush passes the gathered bytes to the base VFS. On failure they are dropped: SQLite then
// fails the statement that wrote them, and frames past the last published commit are never
// read (the WAL format ignores them).
static int flush(sqlite3_file *f) {
	walbuf *b = state(f);
	if (b->len == 0) return SQLITE_OK;
	count(b->writes);
	int rc = b->base->xWrite(f, b->data, b->len, b->at);
	b->len = 0;
	return rc;
}

// reserve makes sure b can hold need bytes: its buffer is allocated at the first write and
// never grows, since the base VFS writes at most 128 KiB per call. 0 if it cannot.
static int reserve(walbuf *b, int need) {
	if (need > WALVFS_BUFFER) return 0;
	if (b->data == 0 && (b->data = malloc(WALVFS_BUFFER)) == 0) return 0;
	return 1;
}

// The size of a WAL frame header, and where its "database size after commit" field is: a
// frame whose field is not zero ends a transaction.
enum { frame_header = 24, commit_field = 4 };

static int walWrite(sqlite3_file *f, const void *p, int n, sqlite3_int64 off) {
	walbuf *b = state(f);
	int commit = b->commit_next;
	b->commit_next = 0;
	if (b->wal && n == frame_header && off >= 32) {
		const unsigned char *h = p;
		b->commit_next = (h[commit_field] | h[commit_field + 1] | h[commit_field + 2] | h[commit_field + 3]) != 0;
	}
	if (b->len > 0 && off != b->at + b->len) {
		int rc = flush(f);
		if (rc != SQLITE_OK) return rc;
	}
	if (!reserve(b, b->len + n)) {
		int rc = flush(f);
		if (rc != SQLITE_OK) return rc;
		if (!reserve(b, n)) { // too big to gather, or no memory
			count(b->writes);
			return b->base->xWrite(f, p, n, off);
		}
	}
	if (b->len == 0) b->at = off;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	// In a WAL, the page after a commit frame's header is the last write of the transaction: it
	// goes to the file before SQLite publishes the commit to readers, and its error is the
	// commit's.
	if (commit) return flush(f);
	return SQLITE_OK;
}

static int walClose(sqlite3_file *f) {
	walbuf *b = state(f);
	int rc = flush(f);
	free(b->data);
	b->data = 0;
	int crc = b->base->xClose(f);
	return rc != SQLITE_OK ? rc : crc;
}

static int walRead(sqlite3_file *f, void *p, int n, sqlite3_int64 off) {
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : state(f)->base->xRead(f, p, n, off);
}

static int walTruncate(sqlite3_file *f, sqlite3_int64 size) {
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : state(f)->base->xTruncate(f, size);
}

static int walSync(sqlite3_file *f, int flags) {
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : state(f)->base->xSync(f, flags);
}

static int walFileSize(sqlite3_file *f, sqlite3_int64 *size) {
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : state(f)->base->xFileSize(f, size);
}

static int walFileControl(sqlite3_file *f, int op, void *arg) {
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : state(f)->base->xFileControl(f, op, arg);
}

// The rest pass straight through: a WAL file is never locked, mapped or shared by SQLite, but
// the table must be complete.
static int walLock(sqlite3_file *f, int l) { return state(f)->base->xLock(f, l); }
static int walUnlock(sqlite3_file *f, int l) { return state(f)->base->xUnlock(f, l); }
static int walCheckReservedLock(sqlite3_file *f, int *out) { return state(f)->base->xCheckReservedLock(f, out); }
static int walSectorSize(sqlite3_file *f) { return state(f)->base->xSectorSize(f); }
static int walDeviceCharacteristics(sqlite3_file *f) { return state(f)->base->xDeviceCharacteristics(f); }
static int walShmMap(sqlite3_file *f, int pg, int size, int extend, void volatile **pp) {
	return state(f)->base->xShmMap(f, pg, size, extend, pp);
}
static int walShmLock(sqlite3_file *f, int off, int n, int flags) { return state(f)->base->xShmLock(f, off, n, flags); }
static void walShmBarrier(sqlite3_file *f) { state(f)->base->xShmBarrier(f); }
static int walShmUnmap(sqlite3_file *f, int del) { return state(f)->base->xShmUnmap(f, del); }
static int walFetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) {
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : state(f)->base->xFetch(f, off, n, pp);
}
static int walUnfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return state(f)->base->xUnfetch(f, off, p); }

static int walOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *outFlags) {
	(void)vfs;
	walbuf *b = state(f);
	memset(b, 0, sizeof *b);
	int rc = base_vfs->xOpen(base_vfs, name, f, flags, outFlags);
	if (rc != SQLITE_OK || f->pMethods == 0 || (flags & (SQLITE_OPEN_WAL | SQLITE_OPEN_SUBJOURNAL)) == 0) return rc;
	if (f->pMethods->iVersion < 3) return rc; // a base VFS older than this file knows: leave it be
	b->base = f->pMethods;
	b->wal = (flags & SQLITE_OPEN_WAL) != 0;
	b->writes = b->wal ? &wal_writes : &subjournal_writes;
	f->pMethods = &wal_methods;
	return rc;
}

int walvfs_register(void) {
	if (base_vfs != 0) return SQLITE_OK;
	sqlite3_vfs *base = sqlite3_vfs_find(0);
	if (base == 0) return SQLITE_ERROR;
	base_vfs = base;
	wal_vfs = *base;
	wal_vfs.pNext = 0;
	wal_vfs.zName = WALVFS_NAME;
	wal_vfs.szOsFile = base->szOsFile + (int)sizeof(walbuf);
	wal_vfs.xOpen = walOpen;
	wal_methods = (sqlite3_io_methods){
		.iVersion = 3,
		.xClose = walClose,
		.xRead = walRead,
		.xWrite = walWrite,
		.xTruncate = walTruncate,
		.xSync = walSync,
		.xFileSize = walFileSize,
		.xLock = walLock,
		.xUnlock = walUnlock,
		.xCheckReservedLock = walCheckReservedLock,
		.xFileControl = walFileControl,
		.xSectorSize = walSectorSize,
		.xDeviceCharacteristics = walDeviceCharacteristics,
		.xShmMap = walShmMap,
		.xShmLock = walShmLock,
		.xShmBarrier = walShmBarrier,
		.xShmUnmap = walShmUnmap,
		.xFetch = walFetch,
		.xUnfetch = walUnfetch,
	};
	return sqlite3_vfs_register(&wal_vfs, 0);
}
