package dbdigest_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv/dbdigest"
)

// TestDumpTellsValuesApart: rows that differ in one value only (NULL or empty text, text or
// blob, a number or its digits, a large number or another) dump differently, and the order in
// which rows were written does not show.
func TestDumpTellsValuesApart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (v)`); err != nil {
		t.Fatal(err)
	}
	set := func(v any) string {
		t.Helper()
		if _, err := db.Exec(`DELETE FROM t`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO t VALUES (?)`, v); err != nil {
			t.Fatal(err)
		}
		return dbdigest.Dump(t, path)
	}
	seen := map[string]any{}
	for _, v := range []any{nil, "", "7", int64(7), []byte("7"), int64(1767268800000000000), int64(1767268800000000001), 7.5} {
		d := set(v)
		if prev, ok := seen[d]; ok {
			t.Errorf("%#v and %#v dump the same:\n%s", prev, v, d)
		}
		seen[d] = v
	}
	if _, err := db.Exec(`DELETE FROM t; INSERT INTO t VALUES ('a'); INSERT INTO t VALUES ('b')`); err != nil {
		t.Fatal(err)
	}
	ab := dbdigest.Dump(t, path)
	if _, err := db.Exec(`DELETE FROM t; INSERT INTO t VALUES ('b'); INSERT INTO t VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	if ba := dbdigest.Dump(t, path); ba != ab {
		t.Errorf("the order of writing shows:\n%s\n%s", ab, ba)
	}
	if d1, d2 := dbdigest.Digest(t, path), dbdigest.Digest(t, path); d1 != d2 || len(d1) != 64 {
		t.Error("the digest is not a stable SHA-256")
	}
}
