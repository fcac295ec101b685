package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

const migrateStoreUsage = `Usage: oauthbroker migrate-store --from sqlite:PATH --to postgres://… [-force] [-batch N]

Copies an SQLite store (the file of storage.dsn) into a PostgreSQL database, for moving one
broker instance to several behind a load balancer. Everything is copied with its ids, and
sealed tokens byte for byte: bots keep the identity ids they hold, and the same key file
(storage.keys_file or OAUTHBROKER_KEYS) opens the tokens afterwards. Links, flows,
confirmations and undelivered webhook events survive the move.

Stop every broker that writes the SQLite file first: what they write during the copy is
not copied. The PostgreSQL schema is created (migrated) if needed.

The copy is one transaction: interrupted (Ctrl-C, a lost connection), it leaves the target
as it was, and can simply be run again. It refuses a target that holds any record unless
-force is given, which deletes that target's records first. At the end it compares the
number of rows of every table and every identity's sealed values in both stores, and fails
if anything differs. Progress goes to standard error.

--to may be env:NAME to read the URL from the environment variable NAME, which keeps the
database password off the command line.

Flags:
`

func runMigrateStore(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the source: sqlite:PATH of the SQLite database file")
	to := fs.String("to", "", "the target: a postgres:// URL (a search_path parameter selects the schema), or env:NAME")
	force := fs.Bool("force", false, "delete everything the target holds before copying")
	batch := fs.Int("batch", 1000, "rows per batch")
	fs.Usage = func() { fmt.Fprint(fs.Output(), migrateStoreUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	src, srcOK := strings.CutPrefix(*from, "sqlite:")
	dsn, err := targetDSN(*to, getenv)
	if fs.NArg() > 0 || !srcOK || src == "" || *batch < 1 || err != nil {
		if err != nil {
			fmt.Fprintln(stderr, "oauthbroker migrate-store:", err)
		}
		fs.Usage()
		return exitError{code: 2}
	}
	m := &storeMigration{batch: *batch, progress: stderr, started: time.Now()}
	if err := m.run(ctx, src, dsn, *force); err != nil {
		switch {
		case ctx.Err() != nil && m.committed:
			return exitError{code: 1, msg: "oauthbroker migrate-store: interrupted while verifying; the copy was committed but not verified: run it again with -force"}
		case ctx.Err() != nil:
			return exitError{code: 1, msg: "oauthbroker migrate-store: interrupted; nothing was written to the target (it is one transaction): run it again"}
		}
		if errors.Is(err, postgres.ErrNotEmpty) {
			return exitError{code: 1, msg: "oauthbroker migrate-store: " + err.Error() + "\nIs this the right database? -force deletes what it holds and copies anew."}
		}
		return exitError{code: 1, msg: "oauthbroker migrate-store: " + err.Error()}
	}
	fmt.Fprintf(stdout, "Copied %s to PostgreSQL in %s (rows: %s); every table's row count and every identity's sealed values verified.\n",
		src, time.Since(m.started).Round(time.Millisecond), m.summary())
	return nil
}

// targetDSN is --to, or the variable it names with env:NAME.
func targetDSN(to string, getenv func(string) (string, bool)) (string, error) {
	if name, ok := strings.CutPrefix(to, "env:"); ok {
		v, set := getenv(name)
		if !set || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("--to env:%s: the variable is not set", name)
		}
		to = v
	}
	if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
		return "", errors.New("--to must be a postgres:// URL (or env:NAME)")
	}
	return to, nil
}

// storeMigration is one run of migrate-store.
type storeMigration struct {
	batch     int
	progress  io.Writer
	started   time.Time
	counts    map[string]int64 // rows per table in the source
	committed bool             // the copy is in the target; what is left is verifying it
}

func (m *storeMigration) run(ctx context.Context, path, dsn string, force bool) error {
	src, err := sqlite.OpenExport(ctx, path)
	if err != nil {
		return err
	}
	defer src.Close()

	pg, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer pg.Close()

	if m.counts, err = src.Counts(ctx); err != nil {
		return err
	}
	fmt.Fprintf(m.progress, "migrate-store: copying rows: %s\n", m.summary())
	im, err := pg.BeginImport(ctx, force)
	if err != nil {
		return err
	}
	defer im.Rollback(context.WithoutCancel(ctx))
	if err := src.CopyInto(ctx, im, m.batch, m.report); err != nil {
		return err
	}
	lastOutbox, err := src.LastOutboxID(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.progress, "migrate-store: committing")
	if err := im.Commit(ctx, lastOutbox); err != nil {
		return err
	}
	m.committed = true
	fmt.Fprintln(m.progress, "migrate-store: verifying")
	return m.verify(ctx, src, pg)
}

// report prints a table's progress: at most about ten lines per table, and its last row.
func (m *storeMigration) report(table string, done int64) {
	total := m.counts[table]
	step := max(int64(m.batch), total/10)
	if done == total || done%step < int64(m.batch) {
		fmt.Fprintf(m.progress, "migrate-store: %-16s %d/%d (%s)\n", table, done, total, time.Since(m.started).Round(time.Millisecond))
	}
}

func (m *storeMigration) summary() string {
	var parts []string
	for _, t := range store.CopyTables {
		parts = append(parts, fmt.Sprintf("%s %d", t, m.counts[t]))
	}
	return strings.Join(parts, ", ")
}

// verify compares the committed target with the source's snapshot: the row count of every
// table, then every identity's id and sealed values, byte for byte, page by page.
func (m *storeMigration) verify(ctx context.Context, src *sqlite.Export, pg *postgres.Store) error {
	got, err := pg.Counts(ctx)
	if err != nil {
		return err
	}
	var diffs []string
	for _, t := range store.CopyTables {
		if got[t] != m.counts[t] {
			diffs = append(diffs, fmt.Sprintf("%s: %d in SQLite, %d in PostgreSQL", t, m.counts[t], got[t]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("verification failed: %s", strings.Join(diffs, "; "))
	}
	for after := int64(0); ; {
		want, err := src.SealedBatch(ctx, after, m.batch)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		have, err := pg.SealedBatch(ctx, after, m.batch)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		for i := range max(len(want), len(have)) {
			switch {
			case i >= len(want):
				return fmt.Errorf("verification failed: identity %d is in PostgreSQL, not in SQLite", have[i].IdentityID)
			case i >= len(have):
				return fmt.Errorf("verification failed: identity %d is in SQLite, not in PostgreSQL", want[i].IdentityID)
			}
			w, h := want[i], have[i]
			if w.IdentityID != h.IdentityID || !sameSealed(w.AccessToken, h.AccessToken) ||
				!sameSealed(w.AccessTokenSecret, h.AccessTokenSecret) || !sameSealed(w.RefreshToken, h.RefreshToken) {
				return fmt.Errorf("verification failed: identity %d in SQLite, %d in PostgreSQL differ", w.IdentityID, h.IdentityID)
			}
		}
		if len(want) < m.batch {
			return nil
		}
		after = want[len(want)-1].IdentityID
	}
}

// sameSealed compares sealed values byte for byte; absent (NULL) must stay absent.
func sameSealed(a, b []byte) bool { return bytes.Equal(a, b) && (a == nil) == (b == nil) }
