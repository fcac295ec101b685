// Package sqlite is the embedded store.Store: one database file in WAL mode, written through a
// single connection and read through a pool.
//
// The store's rules (what completing a link writes, the refresh lease, confirmations, the
// outbox, retention) are package sqlstore's, which this store embeds and runs on its own SQL
// (statements.go) and value encodings (codec.go). What is here is SQLite's: opening the file,
// the connections, migrations, the hot reads (prepared once), the operators' list, the writes
// whose statements SQLite shapes differently (AcquireRefreshLease, ConsumeFlow), and Export,
// which reads every table for `oauthbroker migrate-store` (export.go).
//
// SQLite allows one writer at a time. Every write goes through one connection whose
// transactions begin IMMEDIATE (they take the write lock up front), so writers queue instead
// of failing with SQLITE_BUSY or deadlocking on a read-to-write lock upgrade; readers never
// wait for writers in WAL mode. The writes queue for a writer loop, which runs those queued
// together in one transaction, each in a savepoint of its own, and commits once (writer.go).
//
// Times are stored as INTEGER unix milliseconds UTC, so they round-trip exactly at millisecond
// precision (finer parts are truncated) and come back in UTC; the zero time is stored as NULL.
//
// It imports only package store and the driver: nothing of HTTP, goth or encryption.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/mattn/go-sqlite3"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// Store is a store.Store on one SQLite database. It is safe for concurrent use.
type Store struct {
	*sqlstore.Rules // the transactions, on this store's statements

	writer *sql.DB // exactly one connection; every write goes here
	reader *sql.DB // read-only pool; the writer itself for ":memory:"

	// Hot reads, prepared once.
	identityByID       *sql.Stmt
	identityTokensByID *sql.Stmt // in memory only: a file store reads tokens on tokenReads
	identitiesByUser   *sql.Stmt
	identitiesByUserOf *sql.Stmt // ... and provider
	linkByTokenHash    *sql.Stmt
	tokenReads         *readPool // IdentityTokens on connections of its own (readpool.go); nil in memory
	uri                string    // the database file's URI; "" in memory

	// Every statement of the rules and of this store's writes, prepared once: on the writer
	// (reads and writes alike, as transactions run them there) and, for the reads, on the
	// read pool. Compiling a statement costs more than running most of them.
	writeStmts, readStmts prepared

	checkpoints *checkpointer // background WAL checkpoints (checkpoint.go); nil in memory

	// The writer loop (writer.go): write transactions queue on ops; gate guards closing it.
	ops        chan *writeOp
	writerDone chan struct{}
	gate       sync.RWMutex
	closed     bool

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// busyTimeoutMS bounds how long a connection waits for a lock another process holds (say a
// `keys rotate` run against the same file) before failing with SQLITE_BUSY.
const busyTimeoutMS = 5000

// tokenReadCacheKiB is the page cache of each of the token reads' connections (readpool.go),
// in KiB. Twice SQLite's default keeps the interior pages of the identities table cached
// beside the leaves that pass through it, so a lookup by id at a million identities reads one
// page from the file, not 1.2 on average.
const tokenReadCacheKiB = 4096

// readerCacheKiB is the page cache of each connection of the read pool, in KiB: SQLite's
// default. The pool's connections had tokenReadCacheKiB while they served the token reads
// too; with those on connections of their own, the default keeps the peak RSS where it was.
const readerCacheKiB = 2000

// Open opens (creating if needed) the database at path, migrates it to the newest schema this
// binary knows and prepares the hot statements. It refuses a database whose schema is newer
// than the binary.
//
// path ":memory:" is a private in-memory database on one connection that serves reads and
// writes alike: it has no WAL and vanishes on Close. It suits throwaway use (a demo, another
// package's tests); the store's own tests run on a file, as production does.
func Open(ctx context.Context, path string) (*Store, error) {
	keepFreedMemory()
	s, err := open(path)
	if err != nil {
		return nil, err
	}
	// The first connection creates the file and switches it to WAL; failing here names the path.
	if err := s.writer.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.init(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty database path")
	}
	if err := keepPlans(); err != nil {
		return nil, err
	}
	if err := registerWALVFS(); err != nil {
		return nil, err
	}
	if path == ":memory:" {
		db, err := sql.Open("sqlite3", dsn(":memory:", writerParams()))
		if err != nil {
			return nil, fmt.Errorf("sqlite: open in-memory database: %w", err)
		}
		oneConnection(db)
		return newStore(db, db, nil), nil
	}

	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := ownerOnly(abs); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	wp := writerParams()
	wp.Set("vfs", walVFSName)
	writer, err := sql.Open("sqlite3", dsn(fileURI(abs), wp))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	oneConnection(writer)
	// The writer connection is never replaced (oneConnection), so the setting holds for it.
	if _, err := writer.Exec(fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, writerCheckpointPages)); err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	readParams := url.Values{}
	readParams.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	readParams.Set("_foreign_keys", "1")
	// query_only rather than mode=ro: a read-only open of a WAL database needs the -shm file
	// to exist already, and the writer may not have created it yet when the first reader dials.
	readParams.Set("_query_only", "1")
	readParams.Set("_cache_size", fmt.Sprint(-readerCacheKiB))
	readParams.Set("vfs", walVFSName) // a reader's WAL reads must see what the writer gathered
	reader, err := sql.Open("sqlite3", dsn(fileURI(abs), readParams))
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	checkpoints, err := startCheckpointer(fileURI(abs))
	if err != nil {
		_ = reader.Close()
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := newStore(writer, reader, checkpoints)
	s.uri = fileURI(abs)
	return s, nil
}

// newStore starts the writer loop of a store on writer and reader; checkpoints is nil for an
// in-memory database, which has no WAL.
func newStore(writer, reader *sql.DB, checkpoints *checkpointer) *Store {
	s := &Store{writer: writer, reader: reader, checkpoints: checkpoints}
	s.Rules = sqlstore.New("sqlite", rulesDB{s}, &statements, codec{})
	s.startWriter()
	return s
}

// ownerOnly makes the database file readable by its owner only before SQLite opens it: it
// holds chat user ids, names and emails. SQLite creates a new database with the process umask
// (often 0644) but gives the -wal and -shm files the mode of the database file, so creating
// the file here with 0600 covers all three from their creation. A database made by an older
// version with a wider mode is narrowed, along with its -wal and -shm.
func ownerOnly(abs string) error {
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, name := range []string{abs, abs + "-wal", abs + "-shm"} {
		info, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() && info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(name, info.Mode().Perm()&0o600); err != nil {
				return fmt.Errorf("make %s readable by its owner only: %w", name, err)
			}
		}
	}
	return nil
}

func writerParams() url.Values {
	p := url.Values{}
	p.Set("_journal_mode", "WAL")
	p.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	p.Set("_foreign_keys", "1")
	p.Set("_synchronous", "NORMAL")
	p.Set("_txlock", "immediate")
	return p
}

// oneConnection keeps db on a single, never-recycled connection: the one writer (and, for
// ":memory:", the only copy of the data).
func oneConnection(db *sql.DB) {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
}

// fileURI makes an SQLite URI of an absolute path, so that a '?' or '#' in a file name is
// not read as the start of the query.
func fileURI(abs string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
}

func dsn(name string, params url.Values) string { return name + "?" + params.Encode() }

// init migrates the schema, then prepares the hot reads and every statement of the rules
// (which need the tables to exist).
func (s *Store) init(ctx context.Context) error {
	if err := migrate(ctx, s.writer); err != nil {
		return err
	}
	var err error
	texts := statementTexts()
	if s.writeStmts, err = prepare(ctx, s.writer, texts, false); err != nil {
		return err
	}
	if s.reader == s.writer {
		s.readStmts = s.writeStmts
	} else if s.readStmts, err = prepare(ctx, s.reader, texts, true); err != nil {
		return err
	}
	for _, p := range s.hotReads() {
		stmt, err := s.reader.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", p.query, err)
		}
		*p.stmt = stmt
	}
	if s.uri != "" {
		setup := fmt.Sprintf(`PRAGMA query_only = 1; PRAGMA cache_size = %d; PRAGMA busy_timeout = %d`, -tokenReadCacheKiB, busyTimeoutMS)
		if s.tokenReads, err = openReadPool(s.uri, walVFSName, tokenReadConns(), setup, selectIdentityTokens); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		s.checkpoints.reads.Store(s.tokenReads)
	} else if s.identityTokensByID, err = s.reader.PrepareContext(ctx, selectIdentityTokens); err != nil {
		// In memory the token reads go through the one pool: other connections would open
		// other databases.
		return fmt.Errorf("sqlite: prepare %q: %w", selectIdentityTokens, err)
	}
	return nil
}

// hotRead is a read prepared on the read pool beside the rules' statements, and where it goes.
type hotRead struct {
	stmt  **sql.Stmt
	query string
}

// hotReads are the store's hot reads.
func (s *Store) hotReads() []hotRead {
	return []hotRead{
		{&s.identityByID, selectIdentity + ` WHERE id = ? AND bot = ?`},
		{&s.identitiesByUser, selectIdentitiesOfUser},
		{&s.identitiesByUserOf, selectIdentitiesOfUserOf},
		{&s.linkByTokenHash, selectLinkByTokenHash},
	}
}

// Ping reports whether both the writer and the read pool reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping writer: %w", err)
	}
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping reader: %w", err)
	}
	return nil
}

// Close lets the writes already queued finish, then closes the prepared statements and both
// connection pools; writes after it fail. Closing again returns the first call's outcome.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.stopWriter()
	var errs []error
	if s.checkpoints != nil {
		errs = append(errs, s.checkpoints.close())
	}
	if s.tokenReads != nil {
		s.tokenReads.close()
	}
	for _, stmt := range []*sql.Stmt{s.identityByID, s.identityTokensByID, s.identitiesByUser, s.identitiesByUserOf, s.linkByTokenHash} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	errs = append(errs, s.writeStmts.close())
	if s.reader != s.writer {
		errs = append(errs, s.readStmts.close())
	}
	if s.reader != s.writer {
		errs = append(errs, s.reader.Close())
		// The last connection to close checkpoints and deletes the WAL, but a read connection
		// still being dialled or released when the pool closes would make the writer not the
		// last. Checkpointing here leaves the database file complete on its own either way,
		// which is what a backup of it after a clean stop expects.
		if _, err := s.writer.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint: %w", err))
		}
	}
	errs = append(errs, s.writer.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// constraint turns a UNIQUE or PRIMARY KEY violation into store.ErrConflict, keeping the
// driver's message (which names the column) for the operator.
func constraint(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
	}
	return err
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey
}
