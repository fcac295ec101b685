// Package dbdigest reads every row of every table of a SQLite store file, for tests that
// check an action left the store as it was. The tables come from sqlite_master, so a table a
// migration adds is covered without touching the tests.
//
// It imports only the standard library and the SQLite driver, so any package's tests can use
// it, internal tests of the packages internal/testenv itself builds on included.
package dbdigest

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// Dump is every row of every table of the SQLite file at path, as text (a table's name and
// row count, then its rows, each with every column, in the order of all their columns):
// equal dumps mean the store did not change. except names tables to leave out; each must
// exist. It reads the file through its own read-only connection, as an operator would.
func Dump(t testing.TB, path string, except ...string) string {
	t.Helper()
	db := open(t, path)
	defer db.Close()
	tables := tables(t, db)
	for _, e := range except {
		if !slices.Contains(tables, e) {
			t.Fatalf("dbdigest: no table %q to leave out (tables: %v)", e, tables)
		}
	}
	var out strings.Builder
	for _, table := range tables {
		if slices.Contains(except, table) {
			continue
		}
		// Every column in order is a total order for any table, WITHOUT ROWID ones too.
		rows, err := db.Query(`SELECT * FROM "` + table + `" LIMIT 0`)
		if err != nil {
			t.Fatalf("dbdigest %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		rows.Close()
		order := make([]string, len(cols))
		for i := range cols {
			order[i] = strconv.Itoa(i + 1)
		}
		rows, err = db.Query(`SELECT * FROM "` + table + `" ORDER BY ` + strings.Join(order, ", "))
		if err != nil {
			t.Fatalf("dbdigest %s: %v", table, err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var lines []string
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dbdigest %s: %v", table, err)
			}
			fields := make([]string, len(vals))
			for i, v := range vals {
				fields[i] = value(v)
			}
			lines = append(lines, "  "+strings.Join(fields, " "))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dbdigest %s: %v", table, err)
		}
		rows.Close()
		fmt.Fprintf(&out, "%s %d\n", table, len(lines))
		for _, l := range lines {
			out.WriteString(l + "\n")
		}
	}
	return out.String()
}

// value writes a column so that different values read differently: text and blobs quoted,
// NULL as NULL, numbers as they are.
func value(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("x%q", v)
	case string:
		return strconv.Quote(v)
	default:
		return fmt.Sprint(v)
	}
}

// Digest is the SHA-256 of Dump, in hex: short enough to keep one per step of a test.
func Digest(t testing.TB, path string, except ...string) string {
	t.Helper()
	h := sha256.Sum256([]byte(Dump(t, path, except...)))
	return hex.EncodeToString(h[:])
}

// Tables lists the tables of the SQLite file at path, from its schema (SQLite's own
// sqlite_ tables left out), by name.
func Tables(t testing.TB, path string) []string {
	t.Helper()
	db := open(t, path)
	defer db.Close()
	return tables(t, db)
}

func open(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func tables(t testing.TB, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		t.Fatalf("dbdigest: list the tables: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		t.Fatalf("dbdigest: list the tables: %v (%d found)", err, len(out))
	}
	return out
}
