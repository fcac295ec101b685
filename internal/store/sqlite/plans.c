// Every connection keeps its statements' plans whatever values are bound; plans.go says why.

#include "plans.h"

// keep_plans runs for every connection the process opens, before it is used.
static int keep_plans(sqlite3 *db, char **err, const void *api) {
	(void)err;
	(void)api;
	return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, (int *)0);
}

int plans_keep(void) { return sqlite3_auto_extension((void (*)(void))keep_plans); }

// plans_recompiles opens a read-only connection to uri through vfs, switches the stability
// guarantee off if off is set (else the connection keeps what opening it set), prepares sql
// and runs it runs times as go-sqlite3 runs a prepared statement: reset, clear the bindings,
// bind (2+i to every parameter in run i), step. It reports in *recompiles how often SQLite
// compiled the statement again. A write fails as read-only after the point where SQLite
// would recompile it, which is all this counts.
int plans_recompiles(const char *uri, const char *vfs, int off, const char *sql, int runs, int *recompiles,
                     char *err, int errcap) {
	sqlite3 *db = 0;
	sqlite3_stmt *stmt = 0;
	int rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, vfs);
	const char *what = "open";
	if (rc == SQLITE_OK && off) {
		what = "configure";
		rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, 0, (int *)0);
	}
	if (rc == SQLITE_OK) {
		what = "prepare";
		rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, 0);
	}
	for (int i = 0; rc == SQLITE_OK && i < runs; i++) {
		what = "run";
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		for (int p = 1; p <= sqlite3_bind_parameter_count(stmt); p++) sqlite3_bind_int64(stmt, p, 2 + i);
		do rc = sqlite3_step(stmt);
		while (rc == SQLITE_ROW);
		if (rc == SQLITE_DONE || rc == SQLITE_READONLY) rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK) readpool_seterr(err, errcap, what, db ? sqlite3_errmsg(db) : "out of memory");
	if (stmt) {
		*recompiles = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_REPREPARE, 0);
		sqlite3_finalize(stmt);
	}
	sqlite3_close_v2(db);
	return rc;
}
