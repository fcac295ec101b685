package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
)

// population is the identities the read tests pick from at random: the k-th (0 ≤ k < n) has
// id id(k) and belongs to chat user user(k); token(id) is its access token in plain text.
type population struct {
	n     int
	id    func(k int) int64
	token func(id int64) string
	user  func(k int) string
}

// seeded is the population seedStore and seedPostgres write: ids 1..n.
func seeded(n int) *population {
	return &population{n: n,
		id:    func(k int) int64 { return int64(k) + 1 },
		token: accessToken,
		user:  func(k int) string { return seedUser(int64(k) + 1) }}
}

// storeSetup is the store the broker runs on.
type storeSetup struct {
	driver, dsn, keysPath string
	seedTook              time.Duration
	label                 string // for the table's heading
}

// benchDatabase is the PostgreSQL database the bench creates next to the one -store names
// (which it only connects to, to create and drop its own).
const benchDatabase = "oauthbroker_bench"

// setupStore makes the store the broker will run on: SQLite in dir or a database of its own
// on the PostgreSQL server of -store; seeded with -n identities, or (-fill flows) empty, for
// the flows to fill once the broker runs.
func setupStore(ctx context.Context, o options, dir string, logf func(string, ...any)) (storeSetup, error) {
	keysPath := filepath.Join(dir, "keys.json")
	pg := strings.HasPrefix(o.store, "postgres://") || strings.HasPrefix(o.store, "postgresql://")
	switch {
	case !pg && o.store != "sqlite":
		return storeSetup{}, fmt.Errorf("-store %q: sqlite or a postgres:// URL", o.store)
	case !pg && o.fill == "seed":
		logf("seeding %s into %s", seedMarker(o.n), dir)
		dbPath, keysPath, took, err := seedStore(ctx, dir, o.n, logf)
		return storeSetup{driver: "sqlite", dsn: dbPath, keysPath: keysPath, seedTook: took,
			label: fmt.Sprintf("SQLite, %d seeded identities", o.n)}, err
	case !pg:
		dbPath := filepath.Join(dir, "fresh.db")
		for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
			_ = os.Remove(p)
		}
		if _, _, err := seal.LoadOrCreateKeyFile(keysPath, time.Now()); err != nil {
			return storeSetup{}, err
		}
		return storeSetup{driver: "sqlite", dsn: dbPath, keysPath: keysPath,
			label: fmt.Sprintf("SQLite, a fresh store filled by %d Twitter flows", o.n)}, nil
	}
	name := benchDatabase
	if o.fill == "flows" {
		name += "_fresh"
	}
	dsn, err := withDatabase(o.store, name)
	if err != nil {
		return storeSetup{}, err
	}
	st := storeSetup{driver: "postgres", dsn: dsn, keysPath: keysPath}
	marker := filepath.Join(dir, "seeded-"+name)
	if o.fill == "seed" {
		st.label = fmt.Sprintf("PostgreSQL, %d seeded identities", o.n)
		if seededBefore(marker, o.n) {
			if _, err := os.Stat(keysPath); err == nil {
				logf("reusing database %s (%s seeded before)", name, seedMarker(o.n))
				return st, nil
			}
		}
	} else {
		st.label = fmt.Sprintf("PostgreSQL, a fresh store filled by %d Twitter flows", o.n)
	}
	_ = os.Remove(marker)
	if err := recreateDatabase(ctx, o.store, name); err != nil {
		return storeSetup{}, err
	}
	_ = os.Remove(keysPath)
	keys, _, err := seal.LoadOrCreateKeyFile(keysPath, time.Now())
	if err != nil {
		return storeSetup{}, err
	}
	// The store's own Open creates the schema, exactly as the broker will find it.
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		return storeSetup{}, err
	}
	s.Close()
	if o.fill == "flows" {
		return st, nil
	}
	logf("seeding %s into PostgreSQL database %s", seedMarker(o.n), name)
	began := time.Now()
	if err := seedPostgres(ctx, dsn, keys.Ring, o.n, logf); err != nil {
		return storeSetup{}, fmt.Errorf("seed postgres: %w", err)
	}
	st.seedTook = time.Since(began)
	return st, markSeeded(marker, o.n)
}

// withDatabase is the postgres:// URL dsn naming database name instead.
func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("-store: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// recreateDatabase drops and creates database name through the server of adminDSN.
func recreateDatabase(ctx context.Context, adminDSN, name string) error {
	c, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("-store: %w", err)
	}
	defer c.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`); err != nil {
		return err
	}
	_, err = c.Exec(ctx, `CREATE DATABASE `+ident)
	return err
}

// seedPostgres copies the rows seedRows writes into SQLite (the same users, names and
// tokens, sealed under the same key) into PostgreSQL's identities with COPY.
func seedPostgres(ctx context.Context, dsn string, ring *seal.KeyRing, n int, logf func(string, ...any)) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	// The counters' trigger would update one row a million times in one transaction (a
	// version each): the copy skips triggers, and the counts are made once after it.
	if _, err := c.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	expires := time.UnixMilli(farFutureMilli).UTC()
	k := 0
	_, err = c.CopyFrom(ctx, pgx.Identifier{"identities"},
		[]string{"id", "bot", "channel", "user_id", "provider", "provider_user_id", "name", "nickname", "email",
			"avatar_url", "status", "scopes", "access_token", "refresh_token", "token_type", "expires_at", "linked_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if k == n {
				return nil, nil
			}
			k++
			id := int64(k)
			user, puid := seedUser(id), strconv.FormatInt(1_000_000_000+id, 10)
			at, err := ring.Seal([]byte(accessToken(id)), seal.TokenAAD(benchBot, benchChannel, user, seedProvider, puid, "access_token"))
			if err != nil {
				return nil, err
			}
			rt, err := ring.Seal([]byte(refreshToken(id)), seal.TokenAAD(benchBot, benchChannel, user, seedProvider, puid, "refresh_token"))
			if err != nil {
				return nil, err
			}
			nick := fmt.Sprintf("bench%07d", id)
			return []any{id, benchBot, benchChannel, user, seedProvider, puid, fmt.Sprintf("Bench User%07d", id), nick,
				nick + "@bench.example", "", "active", seedScopes, at, rt, "bearer", expires, now, now}, nil
		}))
	if err != nil {
		return err
	}
	if err := seedLinksPostgres(ctx, c, n, now); err != nil {
		return err
	}
	for _, q := range []string{
		`SET session_replication_role = DEFAULT`,
		// Each total in one row, its default shard, as the store's own import counts them: only
		// the sum over a total's shards means anything (migration 0006).
		`INSERT INTO identity_counts (bot, provider, status, n)
			SELECT bot, provider, status, count(*) FROM identities GROUP BY bot, provider, status`,
		`SELECT setval(pg_get_serial_sequence('identities', 'id'), (SELECT max(id) FROM identities))`,
		`SELECT setval(pg_get_serial_sequence('links', 'id'), (SELECT max(id) FROM links))`,
		// A server that has been answering for a while has vacuumed its tables (hint bits
		// set, the visibility map made) and written them out. Without the vacuum and the
		// checkpoint below, the first run after a seeding paid for the copy: every page read
		// set its hint bits, and the checkpoint that the copy's gigabyte of WAL asked for went
		// on writing for minutes, with every page first changed after it logged whole (POST
		// links 0.07 × bare in that run, 0.41 × in the next). The links are seeded before it:
		// a links table analyzed empty gets foreign key checks that read all of it (seededLinks).
		`VACUUM (ANALYZE)`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return err
		}
	}
	if _, err := c.Exec(ctx, `CHECKPOINT`); err != nil {
		// Only a superuser or a member of pg_checkpoint may; the bench still runs.
		logf("CHECKPOINT after seeding refused (%v): the first run may pay for the copy's writes", err)
	}
	return nil
}

// seedLinksPostgres copies the links seedLinksSQLite writes, and their providers.
func seedLinksPostgres(ctx context.Context, c *pgx.Conn, n int, seeding time.Time) error {
	each := func(table string, columns []string, row func(l seededLink) []any) error {
		k, m := int64(0), int64(seededLinks(n))
		_, err := c.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			if k == m {
				return nil, nil
			}
			k++
			return row(seedLink(k, seeding)), nil
		}))
		return err
	}
	if err := each("links", []string{"id", "token_hash", "bot", "channel", "user_id", "created_at", "expires_at", "used_at"},
		func(l seededLink) []any {
			return []any{l.id, l.key, benchBot, benchChannel, l.user, l.created, l.expires, l.used}
		}); err != nil {
		return err
	}
	return each("link_providers", []string{"link_id", "position", "provider", "scopes", "identity_id", "linked_at"},
		func(l seededLink) []any { return []any{l.id, 0, seedProvider, seedScopes, l.id, l.used} })
}

// fillByFlows links n Twitter accounts through complete flows against the running broker
// (concurrency at a time), then reads each identity's id and access token back through the
// bot API: the population of the read tests on a store made the way production makes one.
func fillByFlows(ctx context.Context, client *http.Client, base string, n, concurrency int) (*population, error) {
	user := func(k int) string { return fmt.Sprintf("P%07d", k) }
	ids := make([]int64, n)
	tokens := make(map[int64]string, n)
	var mu sync.Mutex
	each := func(do func(w *worker, k int) error) error {
		jobs := make(chan int)
		errc := make(chan error, concurrency)
		var wg sync.WaitGroup
		for i := range concurrency {
			w := &worker{id: i, rng: rand.New(rand.NewPCG(uint64(i), 7)), client: client}
			wg.Go(func() {
				for k := range jobs {
					if err := do(w, k); err != nil {
						errc <- err
						return
					}
				}
			})
		}
	feed:
		for k := range n {
			select {
			case jobs <- k:
			case err := <-errc:
				close(jobs)
				wg.Wait()
				return err
			case <-ctx.Done():
				break feed
			}
		}
		close(jobs)
		wg.Wait()
		select {
		case err := <-errc:
			return err
		default:
			return ctx.Err()
		}
	}
	if err := each(func(w *worker, k int) error { return linkFlow(ctx, w, base, "twitter", user(k)) }); err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	prefix := base + "/api/v1/bots/" + benchBot + "/identities"
	err := each(func(w *worker, k int) error {
		body, err := api(ctx, w, http.MethodGet, prefix+"?channel="+benchChannel+"&user="+user(k), nil, http.StatusOK)
		if err != nil {
			return err
		}
		var list struct {
			Identities []struct {
				ID int64 `json:"id"`
			} `json:"identities"`
		}
		if err := json.Unmarshal(body, &list); err != nil || len(list.Identities) != 1 {
			return fmt.Errorf("fill: user %s has not one identity: %.300s", user(k), body)
		}
		id := list.Identities[0].ID
		body, err = api(ctx, w, http.MethodGet, prefix+"/"+strconv.FormatInt(id, 10)+"/credentials", nil, http.StatusOK)
		if err != nil {
			return err
		}
		var cred struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(body, &cred); err != nil || cred.AccessToken == "" {
			return fmt.Errorf("fill: identity %d: no access token: %.300s", id, body)
		}
		mu.Lock()
		ids[k], tokens[id] = id, cred.AccessToken
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(tokens) != n {
		return nil, errors.New("fill: two users share an identity")
	}
	return &population{n: n,
		id:    func(k int) int64 { return ids[k] },
		token: func(id int64) string { return tokens[id] },
		user:  user}, nil
}
