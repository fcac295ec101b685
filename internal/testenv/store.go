package testenv

import (
	"database/sql"
	"os"

	"github.com/oauthbroker/oauthbroker/internal/testenv/dbdigest"
)

// Snapshot is a digest of every row of every table of the store (dbdigest.Digest: the
// tables are read from sqlite_master, so a table a migration adds is covered without
// touching this): equal snapshots mean the store did not change. except names tables to
// leave out; each must exist.
func (b *Broker) Snapshot(except ...string) string {
	b.T.Helper()
	return dbdigest.Digest(b.T, b.DBPath, except...)
}

// Tables lists the store's tables, from the schema.
func (b *Broker) Tables() []string {
	b.T.Helper()
	return dbdigest.Tables(b.T, b.DBPath)
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
