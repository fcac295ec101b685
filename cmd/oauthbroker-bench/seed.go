package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
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

// seedScopes are the seeded identities' and links' scopes, those the bench's providers.yaml
// gives gitlab. PostgreSQL takes them as an array; SQLite keeps them as JSON text
// (seedScopesJSON).
var seedScopes = []string{"read_user"}

// seedScopesJSON is seedScopes as the SQLite store writes a scopes column.
func seedScopesJSON() string {
	b, err := json.Marshal(seedScopes)
	if err != nil {
		panic(err) // a []string always marshals
	}
	return string(b)
}

func seedUser(id int64) string { return fmt.Sprintf("U%07d", id) }

// seededLinks is how many spent links a seeded store of n identities holds: the links of its
// last days, which a store that has been answering keeps for storage.retention (7 days by
// default) before the janitor deletes them. They matter on PostgreSQL: a connection plans the
// foreign key check of link_providers on links once and keeps the plan until the table is
// analyzed again. With links analyzed while empty (the seeding's VACUUM (ANALYZE)), that plan
// read the whole table, more with every link made after it: POST links fell to 0.01–0.03 ×
// bare in the first run after a seeding, on a server without autovacuum.
func seededLinks(n int) int { return min(n, 10_000) }

// seedMarker is what a seeded store's marker file holds: a store seeded for other figures, or
// before the seeding changed, is seeded again.
func seedMarker(n int) string {
	return fmt.Sprintf("%d identities, %d spent links", n, seededLinks(n))
}

// seededBefore reports whether the marker file says its store holds what seeding n writes now.
func seededBefore(marker string, n int) bool {
	data, err := os.ReadFile(marker)
	return err == nil && strings.TrimSpace(string(data)) == seedMarker(n)
}

// markSeeded writes the marker seededBefore reads, once the seeding is complete.
func markSeeded(marker string, n int) error {
	return os.WriteFile(marker, []byte(seedMarker(n)+"\n"), 0o600)
}

// seededLink is the k-th seeded link (1 ≤ k ≤ seededLinks(n)): chat user seedUser(k) made it a
// day before the seeding and linked identity k through it within the minute.
type seededLink struct {
	id                     int64
	key                    []byte // as the store keeps a link token's: 8 bytes of time, then a hash
	user                   string
	created, expires, used time.Time
}

func seedLink(k int64, seeding time.Time) seededLink {
	sum := sha256.Sum256(fmt.Appendf(nil, "bench seeded link %d", k))
	created := seeding.Add(-24 * time.Hour).Truncate(time.Millisecond)
	return seededLink{
		id: k,
		// Zero where a new link's key has its creation time: older than every link of a run.
		key:     append(make([]byte, 8, 8+len(sum)), sum[:]...),
		user:    seedUser(k),
		created: created, expires: created.Add(time.Hour), used: created.Add(time.Minute),
	}
}

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
	if seededBefore(marker, n) {
		logf("reusing the store in %s (%s seeded before)", dir, seedMarker(n))
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
	if err := markSeeded(marker, n); err != nil {
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
	now, scopes := time.Now().UnixMilli(), seedScopesJSON()
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
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 'active', ?, ?, ?, 'bearer', ?, ?, ?)`)
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
				fmt.Sprintf("Bench User%07d", id), nick, nick+"@bench.example", scopes, at, rt,
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
	if err := seedLinksSQLite(ctx, db, n, time.UnixMilli(now)); err != nil {
		return err
	}
	// The counters the admin page reads are kept by triggers; the planner's statistics are
	// what a long-running store would have.
	_, err = db.ExecContext(ctx, `PRAGMA optimize`)
	return err
}

// seedLinksSQLite writes the seeded links and their providers in one transaction.
func seedLinksSQLite(ctx context.Context, db *sql.DB, n int, seeding time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op once committed
	insLink, err := tx.PrepareContext(ctx, `INSERT INTO links (id, token_hash, bot, channel, user_id, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	insProvider, err := tx.PrepareContext(ctx, `INSERT INTO link_providers (link_id, position, provider, scopes, identity_id, linked_at)
		VALUES (?, 0, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	scopes := seedScopesJSON()
	for k := range int64(seededLinks(n)) {
		l := seedLink(k+1, seeding)
		if _, err := insLink.ExecContext(ctx, l.id, l.key, benchBot, benchChannel, l.user,
			l.created.UnixMilli(), l.expires.UnixMilli(), l.used.UnixMilli()); err != nil {
			return err
		}
		if _, err := insProvider.ExecContext(ctx, l.id, seedProvider, scopes, l.id, l.used.UnixMilli()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// mix is SplitMix64's finaliser of x and a salt.
func mix(x, salt uint64) uint64 {
	z := x*0x9e3779b97f4a7c15 + salt*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
