// The parts of SQLite's C interface (https://sqlite.org/c3ref/funclist.html) that readpool.c
// uses, declared after its stable ABI as walvfs.h does, and readpool.c's own functions.
#ifndef OAUTHBROKER_READPOOL_H
#define OAUTHBROKER_READPOOL_H

#include "walvfs.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

#define SQLITE_ROW 100
#define SQLITE_DONE 101
#define SQLITE_OPEN_READWRITE 0x00000002
#define SQLITE_OPEN_URI 0x00000040
#define SQLITE_OPEN_NOMUTEX 0x00008000
#define SQLITE_PREPARE_PERSISTENT 0x01
#define SQLITE_FCNTL_FILE_POINTER 7

#define SQLITE_INTEGER 1
#define SQLITE_TEXT 3
#define SQLITE_BLOB 4
#define SQLITE_NULL 5

int sqlite3_open_v2(const char *filename, sqlite3 **db, int flags, const char *zVfs);
int sqlite3_close_v2(sqlite3 *);
int sqlite3_exec(sqlite3 *, const char *sql, int (*callback)(void *, int, char **, char **), void *, char **errmsg);
int sqlite3_prepare_v3(sqlite3 *, const char *sql, int nByte, unsigned int prepFlags, sqlite3_stmt **, const char **tail);
int sqlite3_bind_int64(sqlite3_stmt *, int, sqlite3_int64);
int sqlite3_bind_text(sqlite3_stmt *, int, const char *, int, void (*)(void *));
int sqlite3_step(sqlite3_stmt *);
int sqlite3_reset(sqlite3_stmt *);
int sqlite3_clear_bindings(sqlite3_stmt *);
int sqlite3_finalize(sqlite3_stmt *);
int sqlite3_column_type(sqlite3_stmt *, int iCol);
sqlite3_int64 sqlite3_column_int64(sqlite3_stmt *, int iCol);
const void *sqlite3_column_blob(sqlite3_stmt *, int iCol);
const unsigned char *sqlite3_column_text(sqlite3_stmt *, int iCol);
int sqlite3_column_bytes(sqlite3_stmt *, int iCol);
const char *sqlite3_errmsg(sqlite3 *);
int sqlite3_extended_errcode(sqlite3 *);
int sqlite3_file_control(sqlite3 *, const char *zDbName, int op, void *);
int sqlite3_get_autocommit(sqlite3 *);

// What readpool_row returns besides SQLite's own codes (SQLITE_ROW, SQLITE_DONE, errors).
#define READPOOL_SHORT -1 // the row does not fit in the buffer; its first int64 is the size it needs
#define READPOOL_BUSY -2  // every connection is in use: nothing was read

// readpool_seterr writes "what: msg" into err, cut to errcap bytes with its terminating zero
// (plans.c uses it too).
void readpool_seterr(char *err, int errcap, const char *what, const char *msg);

typedef struct readpool readpool;

int readpool_open(const char *uri, const char *vfs, int conns, const char *setup, const char *query,
                  readpool **out, char *err, int errcap);
// readpool_row runs the query with a and b and copies the first row's first ncols columns into
// buf, which holds at least their header (ncols * 3 int64). Its error message, if any, too.
int readpool_row(readpool *p, sqlite3_int64 a, const char *b, int blen, unsigned char *buf, int cap, int ncols);
void readpool_release_idle(readpool *p);
void readpool_close(readpool *p);

#endif
