package sqlite

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One read connection and a writer of its own on a file, to put the read connection's
// transaction exactly where a case needs it.
func openPoolTest(t *testing.T) (pool *readPool, writer *sql.DB, walPath string) {
	t.Helper()
	if err := registerWALVFS(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "db")
	uri := fileURI(path)
	writer, err := sql.Open("sqlite3", dsn(uri, writerParams()))
	if err != nil {
		t.Fatal(err)
	}
	oneConnection(writer)
	t.Cleanup(func() { writer.Close() })
	for _, q := range []string{`PRAGMA wal_autocheckpoint = 0`, `CREATE TABLE t (id INTEGER PRIMARY KEY, bot TEXT, v INTEGER)`,
		`INSERT INTO t VALUES (1, 'b', 0)`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := writer.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	pool, err = openReadPool(uri, walVFSName, 1, `PRAGMA query_only = 1`, `SELECT v FROM t WHERE id = ? AND bot = ?`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.close)
	// The first read maps the wal-index, so the reads after it keep their transaction open.
	poolRead(t, pool)
	return pool, writer, path + "-wal"
}

func poolRead(t *testing.T, pool *readPool) int64 {
	t.Helper()
	var c [1]column
	found, err := pool.row(1, "b", c[:])
	if err != nil || !found {
		t.Fatalf("read: found %v, %v", found, err)
	}
	return c[0].value
}

func walSalt(t *testing.T, walPath string) []byte {
	t.Helper()
	h := make([]byte, 32)
	f, err := os.Open(walPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(h, 0); err != nil {
		t.Fatal(err)
	}
	return h[16:24]
}

// A read transaction left open after a checkpoint copied every page it sees would keep the
// WAL from starting again at its beginning, and the WAL would grow for as long as reads keep
// coming. The read after the checkpoint ends it.
func TestReadAfterACheckpointLetsTheWALRestart(t *testing.T) {
	pool, writer, walPath := openPoolTest(t)
	exec := func(q string) {
		t.Helper()
		if _, err := writer.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`UPDATE t SET v = 1`)
	if got := poolRead(t, pool); got != 1 {
		t.Fatalf("read %d after the commit of 1", got)
	}
	// The read's transaction sees the WAL's last frame: a checkpoint can copy them all.
	var busy, logged, copied int
	if err := writer.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logged, &copied); err != nil || copied != logged {
		t.Fatalf("checkpoint: busy %d, %d of %d frames copied, %v", busy, copied, logged, err)
	}
	if got := poolRead(t, pool); got != 1 {
		t.Fatalf("read %d after the checkpoint", got)
	}
	salt := walSalt(t, walPath)
	exec(`UPDATE t SET v = 2`)
	if bytes.Equal(walSalt(t, walPath), salt) {
		t.Error("the commit after a full checkpoint appended to the WAL instead of starting it again: the read connection still held its transaction")
	}
	if got := poolRead(t, pool); got != 2 {
		t.Fatalf("read %d after the commit of 2", got)
	}
}

// A read connection idle on a transaction begun on a fully checkpointed WAL keeps the next
// checkpoint from copying anything until releaseIdle ends it.
func TestReleaseIdleLetsTheCheckpointCopy(t *testing.T) {
	pool, writer, _ := openPoolTest(t)
	poolRead(t, pool) // its transaction reads the database file itself: the WAL is empty
	if _, err := writer.Exec(`UPDATE t SET v = 1`); err != nil {
		t.Fatal(err)
	}
	checkpoint := func() (logged, copied int) {
		var busy int
		if err := writer.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logged, &copied); err != nil {
			t.Fatal(err)
		}
		return logged, copied
	}
	if logged, copied := checkpoint(); logged == 0 || copied != 0 {
		t.Fatalf("with the idle transaction open: %d of %d frames copied, want none of some (the test no longer holds one open)", copied, logged)
	}
	pool.releaseIdle()
	if logged, copied := checkpoint(); copied != logged {
		t.Fatalf("after releaseIdle: %d of %d frames copied", copied, logged)
	}
	if got := poolRead(t, pool); got != 1 {
		t.Fatalf("read %d after the commit of 1", got)
	}
}

// An open that fails says which step and SQLite's reason.
func TestReadPoolOpenFails(t *testing.T) {
	_, _, walPath := openPoolTest(t)
	for _, c := range []struct{ path, query, want string }{
		{strings.TrimSuffix(walPath, "-wal"), `SELECT v FROM no_such_table WHERE id = ? AND bot = ?`, "prepare: no such table: no_such_table"},
		{filepath.Join(t.TempDir(), "missing"), `SELECT 1`, "open: unable to open database file"}, // the pool never creates it
	} {
		if _, err := openReadPool(fileURI(c.path), walVFSName, 2, `PRAGMA query_only = 1`, c.query); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("open %s with %q: %v, want %q", c.path, c.query, err, c.want)
		}
	}
}

// A read that fails in SQLite returns SQLite's message and code, ends the connection's
// transaction, and the connection reads again afterwards.
func TestReadPoolReadError(t *testing.T) {
	pool, _, walPath := openPoolTest(t)
	failing, err := openReadPool(fileURI(strings.TrimSuffix(walPath, "-wal")), walVFSName, 1,
		`PRAGMA query_only = 1`, `SELECT abs(?) FROM t WHERE bot = ?`) // abs of the least int64 overflows
	if err != nil {
		t.Fatal(err)
	}
	defer failing.close()
	var c [1]column
	for range 2 { // the second read runs in a transaction kept from the first, the one after the error in a new one
		if found, err := failing.row(-9223372036854775808, "b", c[:]); found || err == nil ||
			!strings.Contains(err.Error(), "integer overflow") || !strings.Contains(err.Error(), "SQLite error 1") {
			t.Fatalf("read: found %v, %v; want SQLite's integer overflow", found, err)
		}
	}
	if found, err := failing.row(-5, "b", c[:]); err != nil || !found || c[0].value != 5 {
		t.Fatalf("the read after the errors: found %v, %d, %v", found, c[0].value, err)
	}
	if got := poolRead(t, pool); got != 0 {
		t.Fatalf("the other pool read %d", got)
	}
}
