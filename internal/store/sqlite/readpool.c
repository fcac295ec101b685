// A pool of read connections, each with one prepared query, taken, used and given back within
// one call from Go; and read transactions kept open while the database does not change.
// readpool.go says why.

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "readpool.h"

// What of the wal-index (the -shm file, https://sqlite.org/walformat.html#the_wal_index_file_format)
// tells whether a read transaction still sees the newest database: the first copy of its header,
// which every commit rewrites (a change counter, the last frame, checksums, the WAL's salts), and
// nBackfill, which every checkpoint that copies pages moves.
enum { header_bytes = 48, backfill_at = 96, seen_bytes = header_bytes + 4, shm_region = 32768 };

typedef struct conn {
	sqlite3 *db;
	sqlite3_stmt *query, *begin, *commit;
	const volatile unsigned char *shm; // region 0 of the wal-index; 0 until a read maps it
	int open;                          // a read transaction is open
	unsigned char seen[seen_bytes];    // the wal-index when it began
} conn;

struct readpool {
	pthread_mutex_t mu;
	int n;     // connections
	int nidle; // entries of idle in use
	int *idle; // indexes of the connections not in use
	conn *c;
};

void readpool_seterr(char *err, int errcap, const char *what, const char *msg) {
	if (errcap <= 0) return;
	size_t w = strlen(what), m = msg ? strlen(msg) : 0;
	size_t n = 0;
	if (w > (size_t)errcap - 1) w = errcap - 1;
	memcpy(err, what, w);
	n = w;
	if (m && n + 2 < (size_t)errcap) {
		err[n++] = ':';
		err[n++] = ' ';
		if (m > (size_t)errcap - 1 - n) m = errcap - 1 - n;
		memcpy(err + n, msg, m);
		n += m;
	}
	err[n] = 0;
}

// read_seen copies what current compares from the wal-index at shm into out.
static void read_seen(const volatile unsigned char *shm, unsigned char *out) {
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (int i = 0; i < header_bytes; i++) out[i] = shm[i];
	for (int i = 0; i < 4; i++) out[header_bytes + i] = shm[backfill_at + i];
}

// current reports whether c's open read transaction still sees the newest database and leaves
// the WAL as it was when it began. A torn read of a header being written only says "no".
static int current(conn *c) {
	unsigned char now[seen_bytes];
	read_seen(c->shm, now);
	return memcmp(now, c->seen, seen_bytes) == 0;
}

// end_read ends c's read transaction, if it has one.
static void end_read(conn *c) {
	if (!c->open) return;
	c->open = 0;
	int rc = sqlite3_step(c->commit);
	sqlite3_reset(c->commit);
	if (rc != SQLITE_DONE && !sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", 0, 0, 0);
}

// begin_read opens a read transaction on c, noting the wal-index first: a commit in between
// makes the note older than the transaction, so the next look ends it, never the reverse.
static void begin_read(conn *c) {
	read_seen(c->shm, c->seen);
	int rc = sqlite3_step(c->begin);
	sqlite3_reset(c->begin);
	c->open = rc == SQLITE_DONE;
}

// map_shm finds region 0 of c's wal-index, which the base VFS mapped for the read just done.
static void map_shm(conn *c) {
	sqlite3_file *f = 0;
	if (sqlite3_file_control(c->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || f == 0 ||
	    f->pMethods == 0 || f->pMethods->iVersion < 2 || f->pMethods->xShmMap == 0)
		return;
	void volatile *p = 0;
	if (f->pMethods->xShmMap(f, 0, shm_region, 0, &p) == SQLITE_OK && p != 0) c->shm = p;
}

void readpool_close(readpool *p) {
	for (int i = 0; i < p->n; i++) {
		conn *c = &p->c[i];
		end_read(c);
		if (c->query) sqlite3_finalize(c->query);
		if (c->begin) sqlite3_finalize(c->begin);
		if (c->commit) sqlite3_finalize(c->commit);
		if (c->db) sqlite3_close_v2(c->db);
	}
	pthread_mutex_destroy(&p->mu);
	free(p->idle);
	free(p->c);
	free(p);
}

int readpool_open(const char *uri, const char *vfs, int conns, const char *setup, const char *query,
                  readpool **out, char *err, int errcap) {
	readpool *p = calloc(1, sizeof *p);
	if (!p) return readpool_seterr(err, errcap, "out of memory", 0), SQLITE_ERROR;
	p->idle = calloc(conns, sizeof *p->idle);
	p->c = calloc(conns, sizeof *p->c);
	pthread_mutex_init(&p->mu, 0);
	if (!p->idle || !p->c) {
		readpool_close(p);
		return readpool_seterr(err, errcap, "out of memory", 0), SQLITE_ERROR;
	}
	for (int i = 0; i < conns; i++) {
		conn *c = &p->c[i];
		p->n++;
		int rc = sqlite3_open_v2(uri, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, vfs);
		const char *what = "open";
		if (rc == SQLITE_OK) {
			what = "set up";
			rc = sqlite3_exec(c->db, setup, 0, 0, 0);
		}
		if (rc == SQLITE_OK) {
			what = "prepare";
			rc = sqlite3_prepare_v3(c->db, query, -1, SQLITE_PREPARE_PERSISTENT, &c->query, 0);
		}
		if (rc == SQLITE_OK) rc = sqlite3_prepare_v3(c->db, "BEGIN", -1, SQLITE_PREPARE_PERSISTENT, &c->begin, 0);
		if (rc == SQLITE_OK) rc = sqlite3_prepare_v3(c->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &c->commit, 0);
		if (rc != SQLITE_OK) {
			readpool_seterr(err, errcap, what, c->db ? sqlite3_errmsg(c->db) : "out of memory");
			readpool_close(p);
			return rc;
		}
		p->idle[p->nidle++] = i;
	}
	*out = p;
	return SQLITE_OK;
}

// put writes a column's bytes at *at in buf when they fit; *at grows by n either way.
static void put(unsigned char *buf, int cap, int *at, const void *src, int n) {
	if (n > 0 && *at + n <= cap) memcpy(buf + *at, src, n);
	*at += n;
}

int readpool_row(readpool *p, sqlite3_int64 a, const char *b, int blen, unsigned char *buf, int cap, int ncols) {
	pthread_mutex_lock(&p->mu);
	if (p->nidle == 0) {
		pthread_mutex_unlock(&p->mu);
		return READPOOL_BUSY;
	}
	conn *c = &p->c[p->idle[--p->nidle]];
	pthread_mutex_unlock(&p->mu);

	if (c->open && !current(c)) end_read(c);
	if (!c->open && c->shm) begin_read(c);

	sqlite3_stmt *s = c->query;
	int rc = sqlite3_bind_int64(s, 1, a);
	if (rc == SQLITE_OK) rc = sqlite3_bind_text(s, 2, b, blen, 0); // SQLITE_STATIC: cleared below
	if (rc == SQLITE_OK) rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		// A header of three int64 per column (type, value or offset, length), then the bytes;
		// the caller's buffer always holds the header (readpool.h).
		sqlite3_int64 *h = (sqlite3_int64 *)buf;
		int at = ncols * 3 * (int)sizeof(sqlite3_int64);
		for (int i = 0; i < ncols; i++) {
			int t = sqlite3_column_type(s, i);
			sqlite3_int64 v = 0, n = 0;
			if (t == SQLITE_INTEGER) {
				v = sqlite3_column_int64(s, i);
			} else if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
				const void *src = t == SQLITE_TEXT ? (const void *)sqlite3_column_text(s, i) : sqlite3_column_blob(s, i);
				n = sqlite3_column_bytes(s, i);
				v = at;
				put(buf, cap, &at, src, (int)n);
			}
			h[3 * i] = t;
			h[3 * i + 1] = v;
			h[3 * i + 2] = n;
		}
		if (at > cap) {
			h[0] = at;
			rc = READPOOL_SHORT;
		}
	} else if (rc != SQLITE_DONE) {
		readpool_seterr((char *)buf, cap, "read", sqlite3_errmsg(c->db));
		rc = sqlite3_extended_errcode(c->db);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s); // b is the caller's memory

	if (rc != SQLITE_ROW && rc != SQLITE_DONE && rc != READPOOL_SHORT) end_read(c);
	if (c->shm == 0) map_shm(c);
	if (c->open && !current(c)) end_read(c); // a connection never waits in the pool on an old snapshot

	pthread_mutex_lock(&p->mu);
	p->idle[p->nidle++] = (int)(c - p->c);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void readpool_release_idle(readpool *p) {
	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->nidle; i++) end_read(&p->c[p->idle[i]]);
	pthread_mutex_unlock(&p->mu);
}
