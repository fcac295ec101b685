package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// These tests read the VFS's process-wide counters; none of the package's tests runs in
// parallel, so the counts between two readings are this test's.

func testLink(i int, now time.Time) store.Link {
	return store.Link{TokenHash: fmt.Appendf(nil, "vfs-link-%08d", i), Bot: "b", Channel: "slack", User: fmt.Sprint("U", i),
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), Providers: []store.LinkProvider{{Provider: "github"}}}
}

func integrityOK(t *testing.T, s *Store) {
	t.Helper()
	var res string
	if err := s.writer.QueryRowContext(t.Context(), `PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q, %v", res, err)
	}
}

// A commit reaches the WAL file in one write, and the read pool sees it as soon as the write
// transaction returns: nothing is left waiting in memory.
func TestWALCommitIsOneWrite(t *testing.T) {
	s := openWriterTest(t)
	now := time.Now()
	before, _ := walVFSCounts()
	const links = 20
	for i := range links {
		l, err := s.CreateLink(t.Context(), testLink(i, now))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.LinkByTokenHash(t.Context(), l.TokenHash)
		if err != nil || got.ID != l.ID {
			t.Fatalf("link %d right after its commit: %+v, %v", i, got, err)
		}
	}
	after, _ := walVFSCounts()
	// A link's transaction changes five pages or so: ten writes each without gathering.
	if n := after - before; n < links || n > links+2 {
		t.Fatalf("%d commits made %d writes to the WAL file, want one each", links, n)
	}
	integrityOK(t, s)
}

// A transaction larger than what the VFS gathers goes out in pieces and reads back whole.
func TestWALLargeTransaction(t *testing.T) {
	s := openWriterTest(t)
	const rows, size = 500, 4000 // about 2 MB: twenty-odd gathering buffers
	before, _ := walVFSCounts()
	err := s.inTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE big (id INTEGER PRIMARY KEY, v BLOB)`); err != nil {
			return err
		}
		for i := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO big (id, v) VALUES (?, zeroblob(?))`, i, size); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := walVFSCounts()
	if n, most := after-before, int64(rows*size/(96<<10)+4); n > most {
		t.Fatalf("a %d-byte transaction made %d writes to the WAL file, want at most %d", rows*size, n, most)
	}
	var n, total int
	if err := s.reader.QueryRowContext(t.Context(), `SELECT count(*), sum(length(v)) FROM big`).Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	if n != rows || total != rows*size {
		t.Fatalf("read back %d rows, %d bytes; want %d, %d", n, total, rows, rows*size)
	}
	integrityOK(t, s)
}

// batchOfUpdates runs writes updates of a table of pages rows, one row per page, together in
// one transaction: each after the first in its own savepoint, whose sub-journal then holds
// the original of pages/writes pages.
func batchOfUpdates(t *testing.T, s *Store, writes, pages int) {
	t.Helper()
	for _, q := range []string{`DROP TABLE IF EXISTS pad`, `CREATE TABLE pad (id INTEGER PRIMARY KEY, v BLOB)`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) INSERT INTO pad SELECT i, zeroblob(3000) FROM n`,
		`DELETE FROM marks`} {
		if _, err := s.writer.ExecContext(t.Context(), q, pages-1); err != nil {
			t.Fatal(err)
		}
	}
	fns := make([]func() error, writes)
	for w := range fns {
		fns[w] = func() error {
			return s.inTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `UPDATE pad SET v = randomblob(3000) WHERE id % ? = ?`, writes, w)
				return err
			})
		}
	}
	errs, err := batch(t, s, fns...)
	for _, e := range append(errs, err) {
		if e != nil {
			t.Fatal(e)
		}
	}
}

// A batch's savepoints write their sub-journal in a few large writes, not two per page, and
// the batch lands whole.
func TestBatchSubjournalGathered(t *testing.T) {
	s := openWriterTest(t)
	_, before := walVFSCounts()
	const writes, pages = 20, 800 // 40 pages (160 KiB) per savepoint: past the 64 KiB SQLite keeps in memory
	batchOfUpdates(t, s, writes, pages)
	_, after := walVFSCounts()
	// Without gathering: two writes per page of the 19 savepoints, 1,520. Gathered: one per
	// 96 KiB, and up to two more per savepoint (each starts the file again from the top).
	if n, most := after-before, int64((writes-1)*(pages/writes)*4100/(96<<10)+2*writes); n == 0 || n > most {
		t.Fatalf("the sub-journal of %d savepoints of %d pages took %d writes, want 1 to %d", writes-1, pages/writes, n, most)
	}
	var changed int
	if err := s.reader.QueryRowContext(t.Context(), `SELECT count(*) FROM pad WHERE v <> zeroblob(3000)`).Scan(&changed); err != nil {
		t.Fatal(err)
	}
	if changed != pages {
		t.Fatalf("%d of %d rows changed by the batch, want all", changed, pages)
	}
	integrityOK(t, s)
}

// A write that fails in a batch is rolled back from its sub-journal, which is read back from
// what was gathered, and its neighbours land.
func TestBatchRollbackFromGatheredSubjournal(t *testing.T) {
	s := openWriterTest(t)
	const pages = 400
	for _, q := range []string{`CREATE TABLE pad (id INTEGER PRIMARY KEY, v BLOB)`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) INSERT INTO pad SELECT i, zeroblob(3000) FROM n`} {
		if _, err := s.writer.ExecContext(t.Context(), q, pages-1); err != nil {
			t.Fatal(err)
		}
	}
	var inFirst [3]bool
	errs, err := batch(t, s,
		marking(s, &inFirst[0], "before"),
		tracked(s, &inFirst[1], func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE pad SET v = randomblob(3000)`); err != nil { // 1.6 MB of sub-journal
				return err
			}
			return errors.New("changed my mind")
		}),
		marking(s, &inFirst[2], "after"))
	if err != nil || errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("first %v, writes %v; want only the second to fail", err, errs)
	}
	wantInFirstTx(t, inFirst[:]...)
	wantMarks(t, s, map[string]bool{"first": true, "before": true, "after": true})
	var changed int
	if err := s.reader.QueryRowContext(t.Context(), `SELECT count(*) FROM pad WHERE v <> zeroblob(3000)`).Scan(&changed); err != nil {
		t.Fatal(err)
	}
	if changed != 0 {
		t.Fatalf("%d rows changed by the write that failed", changed)
	}
	integrityOK(t, s)
}

// A process killed at any moment loses no commit it was told had landed, and leaves a sound
// database. The child creates links one after the other and prints each one's number once
// CreateLink has returned; the test kills it without warning and finds every printed link.
func TestCommitsSurviveAKilledProcess(t *testing.T) {
	if path := os.Getenv("OAUTHBROKER_TEST_WAL_CHILD"); path != "" {
		writeUntilKilled(path)
		return
	}
	path := filepath.Join(t.TempDir(), "db")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCommitsSurviveAKilledProcess$")
		cmd.Env = append(os.Environ(), "OAUTHBROKER_TEST_WAL_CHILD="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var printed []int
		lines := bufio.NewScanner(out)
		for len(printed) < 300*(round+1) && lines.Scan() {
			n, err := strconv.Atoi(lines.Text())
			if err != nil {
				continue // the test framework's own output
			}
			printed = append(printed, n)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if len(printed) == 0 {
			t.Fatal("the child wrote nothing")
		}

		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range printed {
			if _, err := s.LinkByTokenHash(t.Context(), testLink(i, time.Now()).TokenHash); err != nil {
				_ = s.Close()
				t.Fatalf("round %d: link %d was committed before the kill, then: %v", round, i, err)
			}
		}
		integrityOK(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// writeUntilKilled is the child of TestCommitsSurviveAKilledProcess: several goroutines
// create links, so that commits are batched, until the process is killed.
func writeUntilKilled(path string) {
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var start int
	_ = s.reader.QueryRow(`SELECT count(*) FROM links`).Scan(&start)
	printed := make(chan int)
	for g := range 8 {
		go func() {
			for i := start*10 + g; ; i += 8 {
				if _, err := s.CreateLink(context.Background(), testLink(i, time.Now())); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				printed <- i
			}
		}()
	}
	for i := range printed {
		fmt.Println(i)
	}
}

// A commit whose gathered WAL write fails fails itself, and leaves the database as it was
// before it. The child runs under a file size limit the WAL soon reaches (the write then fails
// with EFBIG, as it would with a full disk); it prints each link once its CreateLink returned
// and then the first error. Every printed link is there afterwards, the failed one is not.
func TestFailedWALWriteFailsTheCommit(t *testing.T) {
	if path := os.Getenv("OAUTHBROKER_TEST_WAL_LIMIT_CHILD"); path != "" {
		writeUntilFull(path)
		return
	}
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(t.Context(), path) // the schema, made before the limit
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFailedWALWriteFailsTheCommit$")
	cmd.Env = append(os.Environ(), "OAUTHBROKER_TEST_WAL_LIMIT_CHILD="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var printed []int
	failed := -1
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "failed "); ok {
			failed, _ = strconv.Atoi(strings.Fields(rest)[0])
			if !strings.Contains(rest, "disk I/O error") && !strings.Contains(rest, "full") {
				t.Errorf("the failed commit's error: %s", rest)
			}
		} else if n, err := strconv.Atoi(line); err == nil {
			printed = append(printed, n)
		}
	}
	if failed < 0 || len(printed) == 0 {
		t.Fatalf("the child committed %d links and no commit failed:\n%s", len(printed), out)
	}

	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, i := range printed {
		if _, err := s.LinkByTokenHash(t.Context(), testLink(i, time.Now()).TokenHash); err != nil {
			t.Fatalf("link %d was committed before the failure, then: %v", i, err)
		}
	}
	if _, err := s.LinkByTokenHash(t.Context(), testLink(failed, time.Now()).TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("link %d, whose commit failed: %v, want not found", failed, err)
	}
	integrityOK(t, s)
}

// writeUntilFull is the child of TestFailedWALWriteFailsTheCommit.
func writeUntilFull(path string) {
	info, err := os.Stat(path)
	if err != nil {
		fmt.Println("stat:", err)
		return
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails with EFBIG instead of killing the process
	limit := uint64(info.Size()) + 128<<10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		fmt.Println("setrlimit:", err)
		return
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	for i := range 10_000 {
		if _, err := s.CreateLink(context.Background(), testLink(i, time.Now())); err != nil {
			fmt.Printf("failed %d %v\n", i, err)
			break
		}
		fmt.Println(i)
	}
	_ = s.Close()
}
