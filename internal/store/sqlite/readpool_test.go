package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

// The credentials read (IdentityTokens) runs on read connections that keep their read
// transaction open while the database does not change. These tests hold it to what a
// transaction per read gives: every commit that returned before a read, from this store or
// from another process, is in what the read returns, and an idle connection's open
// transaction does not hold back checkpoints. readpool_internal_test.go puts one connection's
// transaction exactly where each case needs it.

// linkWithToken links a GitHub account whose sealed access token is token.
func linkWithToken(t testing.TB, s store.Store, user string, token []byte) store.Identity {
	t.Helper()
	now := time.Now().UTC()
	l, err := s.CreateLink(t.Context(), store.Link{TokenHash: []byte("link of " + user), Bot: "bot", Channel: "slack", User: user,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), Providers: []store.LinkProvider{{Provider: "github"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Now: now, Identity: store.Identity{
		Bot: "bot", Channel: "slack", User: user, Provider: "github", ProviderUserID: "gh-" + user, Status: store.StatusActive,
		AccessToken: token, TokenType: "bearer", ExpiresAt: now.Add(time.Hour).Truncate(time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	return got.Identity
}

// reseal replaces id's access token old with next, as `keys rotate` does.
func reseal(s store.Store, id int64, old, next string) error {
	return s.ReplaceSealed(context.Background(), store.SealedValues{IdentityID: id, AccessToken: []byte(old)},
		store.SealedValues{IdentityID: id, AccessToken: []byte(next)})
}

func accessToken(t testing.TB, s store.Store, id int64) string {
	t.Helper()
	got, err := s.IdentityTokens(t.Context(), "bot", id)
	if err != nil {
		t.Fatal(err)
	}
	return string(got.AccessToken)
}

func TestTokenReadsSeeEveryCommit(t *testing.T) {
	s, path := openFile(t)
	id := linkWithToken(t, s, "U1", []byte("v0")).ID

	// Readers keep every read connection busy, so their transactions stay open across the
	// writes below. Each must only ever see the token move forward.
	stop := make(chan struct{})
	var (
		wg    sync.WaitGroup
		reads atomic.Int64
	)
	for range 6 {
		wg.Go(func() {
			last := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := s.IdentityTokens(t.Context(), "bot", id)
				if err != nil {
					t.Error(err)
					return
				}
				var v int
				if _, err := fmt.Sscanf(string(got.AccessToken), "v%d", &v); err != nil || v < last {
					t.Errorf("a reader saw %q after v%d", got.AccessToken, last)
					return
				}
				last = v
				reads.Add(1)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	for v := 1; v <= 200; v++ {
		if err := reseal(s, id, fmt.Sprintf("v%d", v-1), fmt.Sprintf("v%d", v)); err != nil {
			t.Fatal(err)
		}
		if got, want := accessToken(t, s, id), fmt.Sprintf("v%d", v); got != want {
			t.Fatalf("read after the commit of %s: %s", want, got)
		}
	}

	// Another process's commits (here `keys rotate`'s, by this test binary run again) wake
	// nothing in this one; the reads must see them all the same.
	for v := 201; v <= 203; v++ {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestHelperReseal$")
		cmd.Env = append(os.Environ(), "RESEAL_DB="+path, fmt.Sprintf("RESEAL_ID=%d", id),
			fmt.Sprintf("RESEAL_OLD=v%d", v-1), fmt.Sprintf("RESEAL_NEW=v%d", v))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the other process: %v\n%s", err, out)
		}
		if got, want := accessToken(t, s, id), fmt.Sprintf("v%d", v); got != want {
			t.Fatalf("read after another process's commit of %s: %s", want, got)
		}
	}
	if reads.Load() == 0 {
		t.Fatal("the readers read nothing")
	}
}

// TestHelperReseal is the other process of TestTokenReadsSeeEveryCommit.
func TestHelperReseal(t *testing.T) {
	path := os.Getenv("RESEAL_DB")
	if path == "" {
		t.Skip("runs as another process of TestTokenReadsSeeEveryCommit")
	}
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var id int64
	fmt.Sscan(os.Getenv("RESEAL_ID"), &id)
	if err := reseal(s, id, os.Getenv("RESEAL_OLD"), os.Getenv("RESEAL_NEW")); err != nil {
		t.Fatal(err)
	}
}

// A read connection left idle on an open transaction does not keep a commit out of the
// database file: the checkpointer ends the idle transactions before it checkpoints.
func TestIdleTokenReadsDoNotHoldBackCheckpoints(t *testing.T) {
	s, path := openFile(t)
	id := linkWithToken(t, s, "U1", []byte("v0")).ID
	// Wait until the database file alone holds the identity, then leave a read connection
	// idle on a transaction begun after that: the first read on a connection maps the WAL
	// index, the second keeps its transaction, and one at a time they take the same
	// connection.
	waitInFileAlone(t, path, "v0")
	accessToken(t, s, id)
	accessToken(t, s, id)
	if err := reseal(s, id, "v0", "v1"); err != nil {
		t.Fatal(err)
	}
	waitInFileAlone(t, path, "v1")
}

// waitInFileAlone waits until a copy of the database file at path, without its WAL, holds an
// identity whose access token is token.
func waitInFileAlone(t *testing.T, path, token string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// A new file each time: the copies of the last try are still open, with their -wal
		// and -shm.
		cp := filepath.Join(t.TempDir(), "copy")
		copyFile(t, path, cp)
		var n int
		err := rawDB(t, "file:"+cp).QueryRow(`SELECT count(*) FROM identities WHERE access_token = ?`, []byte(token)).Scan(&n)
		if err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s on, the database file alone holds %d identities with access token %q (%v)", n, token, err)
		}
	}
}

// A row larger than the read's first buffer comes back whole, and NULL and empty values come
// back as the other reads return them.
func TestTokenReadOfAnyRow(t *testing.T) {
	s, _ := openFile(t)
	big := bytes.Repeat([]byte("sealed"), 2000)
	id := linkWithToken(t, s, "U1", big).ID
	got, err := s.IdentityTokens(t.Context(), "bot", id)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := s.Identity(t.Context(), "bot", id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.AccessToken, big) || got.AccessTokenSecret != nil || got.RefreshToken != nil ||
		got.Bot != "bot" || got.Channel != "slack" || got.User != "U1" || got.Provider != "github" || got.ProviderUserID != "gh-U1" ||
		got.Status != store.StatusActive || got.TokenType != "bearer" || !got.ExpiresAt.Equal(whole.ExpiresAt) || got.ID != id {
		t.Errorf("IdentityTokens = %+v (access token of %d bytes), Identity = %+v", got, len(got.AccessToken), whole)
	}

	empty := linkWithToken(t, s, "U2", []byte{}).ID
	if got, err := s.IdentityTokens(t.Context(), "bot", empty); err != nil || got.AccessToken == nil || len(got.AccessToken) != 0 {
		t.Errorf("an empty access token reads back as %#v, %v", got.AccessToken, err)
	}
	for _, c := range []struct {
		bot string
		id  int64
	}{{"bot", id + 100}, {"other", id}, {"", id}} {
		if _, err := s.IdentityTokens(t.Context(), c.bot, c.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("IdentityTokens(%q, %d): %v, want not found", c.bot, c.id, err)
		}
	}
}

// Close waits for the reads under way; a read after it fails.
func TestTokenReadsAcrossClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	id := linkWithToken(t, s, "U1", []byte("v0")).ID
	var (
		wg sync.WaitGroup
		ok atomic.Int64
	)
	closed := fmt.Sprintf("sqlite: identity %d: the store is closed", id)
	for range 8 {
		wg.Go(func() {
			for range 2000 {
				got, err := s.IdentityTokens(t.Context(), "bot", id)
				if err != nil {
					// Once Close has begun: that, and no other failure.
					if err.Error() != closed {
						t.Errorf("a read around Close: %v, want %q", err, closed)
					}
					continue
				}
				if string(got.AccessToken) != "v0" {
					t.Errorf("read %q", got.AccessToken)
				}
				ok.Add(1)
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := s.IdentityTokens(t.Context(), "bot", id); err == nil || err.Error() != closed {
		t.Errorf("a read after Close: %v, want %q", err, closed)
	}
	if ok.Load() == 0 {
		t.Error("no read finished before Close")
	}
	checkIntegrity(t, path)
}
