package testenv

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	_ "github.com/mattn/go-sqlite3"
)

// Snapshot is a digest of every row of every table of the store (the tables are read from
// sqlite_master, so a table a migration adds is covered without touching this): equal
// snapshots mean the store did not change. except names tables to leave out; each must
// exist. It reads the file through its own connection, as an operator would.
func (b *Broker) Snapshot(except ...string) string {
	b.T.Helper()
	db, err := sql.Open("sqlite3", "file:"+b.DBPath+"?mode=ro")
	if err != nil {
		b.T.Fatal(err)
	}
	defer db.Close()
	tables := b.tables(db)
	for _, e := range except {
		if !slices.Contains(tables, e) {
			b.T.Fatalf("snapshot: no table %q to leave out (tables: %v)", e, tables)
		}
	}
	h := sha256.New()
	for _, table := range tables {
		if slices.Contains(except, table) {
			continue
		}
		// Every column in order is a total order for any table, WITHOUT ROWID ones too.
		rows, err := db.Query(`SELECT * FROM "` + table + `" LIMIT 0`)
		if err != nil {
			b.T.Fatalf("snapshot %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		rows.Close()
		order := make([]string, len(cols))
		for i := range cols {
			order[i] = strconv.Itoa(i + 1)
		}
		rows, err = db.Query(`SELECT * FROM "` + table + `" ORDER BY ` + strings.Join(order, ", "))
		if err != nil {
			b.T.Fatalf("snapshot %s: %v", table, err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				b.T.Fatal(err)
			}
			fmt.Fprintf(h, "%s%v\n", table, vals)
			n++
		}
		if err := rows.Err(); err != nil {
			b.T.Fatalf("snapshot %s: %v", table, err)
		}
		rows.Close()
		fmt.Fprintf(h, "%s:%d\n", table, n)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Tables lists the store's tables, from the schema.
func (b *Broker) Tables() []string {
	b.T.Helper()
	db, err := sql.Open("sqlite3", "file:"+b.DBPath+"?mode=ro")
	if err != nil {
		b.T.Fatal(err)
	}
	defer db.Close()
	return b.tables(db)
}

func (b *Broker) tables(db *sql.DB) []string {
	b.T.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		b.T.Fatalf("list the tables: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			b.T.Fatal(err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		b.T.Fatalf("list the tables: %v (%d found)", err, len(out))
	}
	return out
}

// Count returns the number of rows in a table.
func (b *Broker) Count(table string) int {
	b.T.Helper()
	db, err := sql.Open("sqlite3", "file:"+b.DBPath+"?mode=ro")
	if err != nil {
		b.T.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		b.T.Fatal(err)
	}
	return n
}

// RawFiles returns the bytes of the database and its WAL, as an attacker with the disk
// would see them.
func (b *Broker) RawFiles() []byte {
	b.T.Helper()
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(b.DBPath + suffix)
		if err == nil {
			all = append(all, data...)
		}
	}
	return all
}
