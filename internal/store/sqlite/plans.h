// The parts of SQLite's C interface (https://sqlite.org/c3ref/funclist.html) that plans.c uses
// beyond readpool.h's, declared after its stable ABI as walvfs.h does, and plans.c's functions.
#ifndef OAUTHBROKER_PLANS_H
#define OAUTHBROKER_PLANS_H

#include "readpool.h"

#define SQLITE_READONLY 8
#define SQLITE_OPEN_READONLY 0x00000001
#define SQLITE_DBCONFIG_ENABLE_QPSG 1007
#define SQLITE_STMTSTATUS_REPREPARE 5

int sqlite3_db_config(sqlite3 *, int op, ...);
int sqlite3_auto_extension(void (*entry)(void));
int sqlite3_stmt_status(sqlite3_stmt *, int op, int reset);
int sqlite3_bind_parameter_count(sqlite3_stmt *);

int plans_keep(void);
int plans_recompiles(const char *uri, const char *vfs, int off, const char *sql, int runs, int *recompiles,
                     char *err, int errcap);

#endif
