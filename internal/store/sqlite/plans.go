//go:build cgo

package sqlite

/*
#include <stdlib.h>
#include "plans.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// Every SQLite connection this process opens — the writer, the read pool, the token reads,
// the checkpointer — keeps each prepared statement's plan whatever values are bound to it
// (SQLite's query planner stability guarantee, SQLITE_DBCONFIG_ENABLE_QPSG).
//
// Why: without it SQLite compiles some statements again on every run. When the planner looks
// at a bound value while choosing a plan — whether an equality's value is 0 or 1 when it
// weighs a join's orders, the number in a LIMIT ? — it marks the statement to be compiled
// again once that value changes, and clearing the bindings, which go-sqlite3 does before every
// run of a prepared statement, counts as a change. The link reads by token and by id (a join
// of links and link_providers; by token twice per link flow, by id once) were compiled
// afresh every time: about a tenth of the broker's CPU per flow (docs/BENCHMARKS.md, item
// 32). Our statements are written for one plan each — the indexes they use follow from their
// shape, and the admin list chooses its query in Go (admin_list.go) — so a bound value never
// needs to change it; TestStatementsKeepTheirPlans checks every statement the store prepares.
//
// The setting is made by an automatic extension, SQLite's hook for code that runs on every
// new connection, because go-sqlite3 gives no access to a connection's handle.

var (
	keepPlansOnce sync.Once
	keepPlansErr  error
)

// keepPlans installs the setting for every connection opened after it, once per process.
func keepPlans() error {
	keepPlansOnce.Do(func() {
		if rc := C.plans_keep(); rc != C.SQLITE_OK {
			keepPlansErr = fmt.Errorf("sqlite: keep query plans stable on every connection: SQLite error %d", int(rc))
		}
	})
	return keepPlansErr
}

// recompiles reports how often SQLite compiles query again when it runs it runs times the way
// go-sqlite3 runs a prepared statement, on a read-only connection of its own to uri: as
// opening it set it up, or with the stability guarantee switched off (off). For tests.
func recompiles(uri, query string, off bool, runs int) (int, error) {
	curi, cvfs, cquery := C.CString(uri), C.CString(walVFSName), C.CString(query)
	defer func() {
		for _, s := range []*C.char{curi, cvfs, cquery} {
			C.free(unsafe.Pointer(s))
		}
	}()
	cOff := C.int(0)
	if off {
		cOff = 1
	}
	var (
		n   C.int
		err [256]C.char
	)
	if rc := C.plans_recompiles(curi, cvfs, cOff, cquery, C.int(runs), &n, &err[0], C.int(len(err))); rc != C.SQLITE_OK {
		return 0, fmt.Errorf("%s (SQLite error %d)", C.GoString(&err[0]), int(rc))
	}
	return int(n), nil
}
