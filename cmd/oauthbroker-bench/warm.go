package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5"
)

// warmStore reads the store once before the read tests, so that they find its pages in the
// OS page cache, as they are on a server that has been answering for a while. Without it a
// run's read figures depend on how long ago the store was last touched: a VM like this one
// hands idle page cache back to its host within a minute or two (a million-identity SQLite
// file lost a third of its cached pages in 30 s of idling), and a read at a random id then
// waits for the disk, which is not what the test is about. It returns the bytes read.
func warmStore(ctx context.Context, st storeSetup) (int64, error) {
	if st.driver == "postgres" {
		return warmPostgres(ctx, st.dsn)
	}
	var total int64
	buf := make([]byte, 1<<20) // a megabyte per read system call
	for _, p := range []string{st.dsn, st.dsn + "-wal"} {
		n, err := readAll(p, buf)
		total += n
		if err != nil {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	return total, nil
}

// readAll reads the file at path through buf and returns how many bytes it read; a file that
// does not exist (no WAL) reads nothing.
func readAll(path string, buf []byte) (int64, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	for {
		n, err := f.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// warmPostgres reads every table and index of the bench's database into the OS page cache
// with pg_prewarm's read mode (the extension ships with PostgreSQL).
func warmPostgres(ctx context.Context, dsn string) (int64, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_prewarm`); err != nil {
		return 0, fmt.Errorf("pg_prewarm: %w", err)
	}
	var blocks, blockSize int64
	err = c.QueryRow(ctx, `SELECT coalesce(sum(pg_prewarm(c.oid::regclass, 'read')), 0), current_setting('block_size')::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i', 't')`).Scan(&blocks, &blockSize)
	return blocks * blockSize, err
}
