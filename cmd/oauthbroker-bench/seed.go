package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

// The seeded data: one bot, one chat user per identity, GitLab-shaped bearer tokens that
// expire in 2100 (so no read refreshes), every one sealed under the generated key and openable.
const (
	benchBot       = "benchbot"
	benchChannel   = "slack"
	seedProvider   = "gitlab"
	farFutureMilli = 4_102_444_800_000 // 2100-01-01
)

func seedUser(id int64) string { return fmt.Sprintf("U%07d", id) }

// accessToken is identity id's access token in plain text: the bench checks every
// credentials answer against it.
func accessToken(id int64) string {
	return fmt.Sprintf("glpat-%016x%04x", mix(uint64(id), 1), id&0xffff)
}

func refreshToken(id int64) string {
	return fmt.Sprintf("glrt-%016x%016x", mix(uint64(id), 2), mix(uint64(id), 3))
}

// seedStore makes dir/bench.db hold n identities (reusing a store seeded with the same n
// before) and returns the key file's keys, which the broker will read.
func seedStore(ctx context.Context, dir string, n int, logf func(string, ...any)) (dbPath, keysPath string, took time.Duration, err error) {
	dbPath, keysPath = filepath.Join(dir, "bench.db"), filepath.Join(dir, "keys.json")
	marker := filepath.Join(dir, "seeded")
	if data, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(data)) == strconv.Itoa(n) {
		logf("reusing the store in %s (%d identities seeded before)", dir, n)
		return dbPath, keysPath, 0, nil
	}
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", keysPath} {
		_ = os.Remove(p)
	}
	keys, _, err := seal.LoadOrCreateKeyFile(keysPath, time.Now())
	if err != nil {
		return "", "", 0, err
	}
	// The store's own Open creates the schema, exactly as the broker will find it.
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return "", "", 0, err
	}
	if err := st.Close(); err != nil {
		return "", "", 0, err
	}
	began := time.Now()
	if err := seedRows(ctx, dbPath, keys.Ring, n, logf); err != nil {
		return "", "", 0, err
	}
	took = time.Since(began)
	if err := os.WriteFile(marker, []byte(strconv.Itoa(n)+"\n"), 0o600); err != nil {
		return "", "", 0, err
	}
	return dbPath, keysPath, took, nil
}

// seedRows inserts the identities straight through the driver in transactions of 10,000 rows
// through one prepared statement: CompleteLink one by one would take hours. The chat user ids,
// names and emails grow with the id, so each of the table's indexes takes the rows at its end.
func seedRows(ctx context.Context, dbPath string, ring *seal.KeyRing, n int, logf func(string, ...any)) error {
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?_busy_timeout=5000&_synchronous=NORMAL")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil { // 256 MiB
		return err
	}
	now := time.Now().UnixMilli()
	const batch = 10_000
	for done := 0; done < n; {
		m := min(batch, n-done)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO identities (id, bot, channel, user_id, provider,
			provider_user_id, name, nickname, email, avatar_url, status, scopes, access_token, refresh_token,
			token_type, expires_at, linked_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 'active', '["read_user"]', ?, ?, 'bearer', ?, ?, ?)`)
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		for k := range m {
			id := int64(done + k + 1)
			user, puid := seedUser(id), strconv.FormatInt(1_000_000_000+id, 10)
			at, err := ring.Seal([]byte(accessToken(id)), seal.TokenAAD(benchBot, benchChannel, user, seedProvider, puid, "access_token"))
			if err != nil {
				_ = tx.Rollback()
				return err
			}
			rt, err := ring.Seal([]byte(refreshToken(id)), seal.TokenAAD(benchBot, benchChannel, user, seedProvider, puid, "refresh_token"))
			if err != nil {
				_ = tx.Rollback()
				return err
			}
			nick := fmt.Sprintf("bench%07d", id)
			if _, err := ins.ExecContext(ctx, id, benchBot, benchChannel, user, seedProvider, puid,
				fmt.Sprintf("Bench User%07d", id), nick, nick+"@bench.example", at, rt,
				farFutureMilli, now, now); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		_ = ins.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
		done += m
		if done%100_000 == 0 {
			logf("seeded %d of %d identities", done, n)
		}
	}
	// The counters the admin page reads are kept by triggers; the planner's statistics are
	// what a long-running store would have.
	_, err = db.ExecContext(ctx, `PRAGMA optimize`)
	return err
}

// mix is SplitMix64's finaliser of x and a salt.
func mix(x, salt uint64) uint64 {
	z := x*0x9e3779b97f4a7c15 + salt*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
