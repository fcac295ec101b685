package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

// sqliteStore is a store with a busy past, built through the SQLite store's own methods: ten
// thousand identities with tokens sealed as the broker seals them, links used and unused,
// flows open and consumed, a pending confirmation, history, webhook events pending and
// pruned, an admin session and proxy usage.
type sqliteStore struct {
	path, keysFile string
	ring           *seal.KeyRing
	alpha          []store.Identity // linked to bot alpha's provider gl, readable through the API
	unlinked       store.Identity   // the newest identity, unlinked: its id must not come back
	prunedOutboxID int64            // a delivered and pruned webhook event, the newest
}

const seeded = 10_000

func buildSQLiteStore(t *testing.T) *sqliteStore {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	src := &sqliteStore{path: filepath.Join(dir, "broker.db"), keysFile: filepath.Join(dir, "keys.json")}
	keys, _, err := seal.LoadOrCreateKeyFile(src.keysFile, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	src.ring = keys.Ring
	st, err := sqlite.Open(ctx, src.path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The bulk: seeded rows, then every token replaced by a value sealed for its identity.
	if err := st.SeedIdentities(ctx, seeded); err != nil {
		t.Fatal(err)
	}
	for after := int64(0); ; {
		batch, err := st.SealedBatch(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			break
		}
		for _, v := range batch {
			in := store.Identity{Bot: v.Bot, Channel: v.Channel, User: v.User, Provider: v.Provider, ProviderUserID: v.ProviderUserID}
			next := v
			next.AccessToken = sealAs(t, src.ring, in, "access_token", fmt.Sprint("at-", v.IdentityID))
			next.RefreshToken = sealAs(t, src.ring, in, "refresh_token", fmt.Sprint("rt-", v.IdentityID))
			if v.IdentityID%10 == 0 { // an OAuth 1.0a secret here and there
				next.AccessTokenSecret = sealAs(t, src.ring, in, "access_token_secret", fmt.Sprint("ats-", v.IdentityID))
			}
			if err := st.ReplaceSealed(ctx, v, next); err != nil {
				t.Fatal(err)
			}
		}
		after = batch[len(batch)-1].IdentityID
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	link := func(in store.Identity, token string, webhook bool, c *store.Confirmation) store.Identity {
		l, err := st.CreateLink(ctx, store.Link{TokenHash: []byte(token), Bot: in.Bot, Channel: in.Channel, User: in.User,
			Providers: []store.LinkProvider{{Provider: in.Provider, Scopes: []string{"api"}}}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		in.AccessToken = sealAs(t, src.ring, in, "access_token", "at-"+in.ProviderUserID)
		in.RefreshToken = sealAs(t, src.ring, in, "refresh_token", "rt-"+in.ProviderUserID)
		got, err := st.CompleteLink(ctx, store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: now, Webhook: webhook, Confirmation: c})
		if err != nil {
			t.Fatal(err)
		}
		return got.Identity
	}
	account := func(user, puid, status string) store.Identity {
		return store.Identity{Bot: "alpha", Channel: "slack", User: user, Provider: "gl", ProviderUserID: puid, Name: "Ada " + user,
			Status: status, Scopes: []string{"api", "read_user"}, TokenType: "bearer", ExpiresAt: now.Add(24 * time.Hour)}
	}
	for i := range 3 {
		src.alpha = append(src.alpha, link(account(fmt.Sprint("U", i), fmt.Sprint("gl-", i), store.StatusActive), fmt.Sprint("link-", i), true, nil))
	}
	link(account("U-pending", "gl-pending", store.StatusPending), "link-pending", true,
		&store.Confirmation{CodeHash: []byte("code-hash"), ExpiresAt: now.Add(10 * time.Minute)})
	src.unlinked = link(account("U-gone", "gl-gone", store.StatusActive), "link-gone", true, nil)
	if err := st.DeleteIdentity(ctx, "alpha", src.unlinked.ID, store.Event{Outcome: "ok", At: now, Webhook: true}); err != nil {
		t.Fatal(err)
	}
	// A link of two providers, both linked, waiting for its one code; and a cancelled one.
	pair, err := st.CreateLink(ctx, store.Link{TokenHash: []byte("pair-link"), Bot: "alpha", Channel: "slack", User: "U-pair",
		UserLabel: "Pair (@pair)", Providers: []store.LinkProvider{{Provider: "gl"}, {Provider: "gh", Scopes: []string{"repo"}}},
		RedirectURL: "https://bot.example/done", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"gh", "gl"} {
		in := account("U-pair", "pair-"+p, store.StatusPending)
		in.Provider = p
		in.AccessToken = sealAs(t, src.ring, in, "access_token", "at-"+in.ProviderUserID)
		if _, err := st.CompleteLink(ctx, store.CompleteLinkParams{LinkID: pair.ID, Identity: in, Now: now, Webhook: true,
			Confirmation: &store.Confirmation{CodeHash: []byte("pair-code"), ExpiresAt: now.Add(10 * time.Minute)}}); err != nil {
			t.Fatal(err)
		}
	}
	cancelled, err := st.CreateLink(ctx, store.Link{TokenHash: []byte("cancelled-link"), Bot: "alpha", Channel: "slack", User: "U8",
		Providers: []store.LinkProvider{{Provider: "gl"}}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CancelLink(ctx, cancelled.ID, now); err != nil {
		t.Fatal(err)
	}
	// A link never used, with one flow open and one consumed.
	open, err := st.CreateLink(ctx, store.Link{TokenHash: []byte("open-link"), Bot: "alpha", Providers: []store.LinkProvider{{Provider: "gl"}},
		Channel: "slack", User: "U9", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{"state-open", "state-consumed"} {
		if err := st.CreateFlow(ctx, store.Flow{StateHash: []byte(state), LinkID: open.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.ConsumeFlow(ctx, []byte("state-consumed"), now); err != nil {
		t.Fatal(err)
	}
	// The newest webhook event is delivered and pruned: its id lives on only in SQLite's
	// AUTOINCREMENT counter, and must never be handed out again.
	evs, err := st.ClaimDue(ctx, "w", now, now.Add(time.Minute), 100)
	if err != nil || len(evs) == 0 {
		t.Fatalf("ClaimDue: %v, %v", evs, err)
	}
	last := evs[len(evs)-1]
	if err := st.MarkDelivered(ctx, last.ID, "w", now); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PruneOutbox(ctx, now.Add(time.Millisecond)); err != nil || n != 1 {
		t.Fatalf("PruneOutbox: %d, %v", n, err)
	}
	src.prunedOutboxID = last.ID
	if err := st.CreateAdminSession(ctx, store.AdminSession{TokenHash: []byte("session"), Credential: []byte("cred"),
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordProxyCall(ctx, store.ProxyCall{Bot: "alpha", IdentityID: src.alpha[0].ID, Provider: "gl", Status: 200, At: now}); err != nil {
		t.Fatal(err)
	}
	return src
}

// migrateStore runs `oauthbroker migrate-store` through run, as the binary does.
func migrateStore(ctx context.Context, stderr io.Writer, args ...string) (string, error) {
	var stdout bytes.Buffer
	err := run(ctx, append([]string{"migrate-store"}, args...), func(string) (string, bool) { return "", false }, &stdout, stderr)
	return stdout.String(), err
}

func TestMigrateStoreSQLiteToPostgres(t *testing.T) {
	pgtest.Require(t)
	src := buildSQLiteStore(t)
	dsn := pgtest.DSN(t)

	// Interrupted as soon as identities start to arrive: the target keeps nothing.
	ctx, cancel := context.WithCancel(t.Context())
	_, err := migrateStore(ctx, &cancelOn{substr: "migrate-store: identities", cancel: cancel}, "--from", "sqlite:"+src.path, "--to", dsn)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "interrupted; nothing was written") {
		t.Fatalf("interrupted migration: %v", err)
	}
	pg, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	if counts := rowCounts(t, pg); slices.ContainsFunc(store.CopyTables, func(tb string) bool { return counts[tb] != 0 }) {
		t.Fatalf("an interrupted migration left rows behind: %v", counts)
	}

	// The real run.
	var progress syncBuffer
	start := time.Now()
	out, err := migrateStore(t.Context(), &progress, "--from", "sqlite:"+src.path, "--to", dsn, "-batch", "2000")
	took := time.Since(start)
	if err != nil {
		t.Fatalf("migrate-store: %v\n%s", err, progress.String())
	}
	t.Logf("migrated %d identities in %s", seeded+6, took.Round(time.Millisecond))
	if !strings.Contains(out, "verified") || !strings.Contains(progress.String(), fmt.Sprintf("identities       %d/%d", seeded+6, seeded+6)) {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, progress.String())
	}

	// Every count equal: each table, and the totals by bot, provider and status.
	want := sqliteCounts(t, src.path)
	if got := rowCounts(t, pg); !equalCounts(got, want) {
		t.Errorf("rows in PostgreSQL %v, in SQLite %v", got, want)
	}
	if want["identities"] != seeded+6 || want["webhook_outbox"] == 0 || want["proxy_usage"] != 1 || want["flows"] != 2 {
		t.Errorf("the source is not the busy store it should be: %v", want)
	}
	st, err := sqlite.Open(t.Context(), src.path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wantTotals, err := st.IdentityTotals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if gotTotals, err := pg.IdentityTotals(t.Context()); err != nil || !slices.Equal(gotTotals, wantTotals) {
		t.Errorf("totals in PostgreSQL %v (%v), in SQLite %v", gotTotals, err, wantTotals)
	}

	// Every sealed value opens with the broker's own AAD and key ring: a key rotation over the
	// migrated store re-encrypts them all and finds none unreadable.
	if _, err := seal.AddPrimaryKey(src.keysFile, time.Now()); err != nil {
		t.Fatal(err)
	}
	values := sealedValues(t, pg)
	stats, err := broker.Reseal(t.Context(), pg, keyRing(t, src.keysFile), 500)
	if err != nil || len(stats.Unreadable) != 0 || stats.Resealed != values || stats.Scanned != seeded+6 {
		t.Fatalf("reseal of the migrated store: %+v, %v; want %d values resealed, none unreadable", stats, err, values)
	}

	// The migrated store serves: the bot reads its users' tokens, a pending confirmation
	// still confirms, ids of unlinked identities and pruned events are not reused.
	app, base := startBrokerOn(t, postgresStorage(dsn, src.keysFile), glBot("http://127.0.0.1:1", ""))
	for _, in := range src.alpha {
		if tok := readAccessToken(t, base, in.ID); tok != "at-"+in.ProviderUserID {
			t.Errorf("identity %d: access token %q after the migration", in.ID, tok)
		}
	}
	if _, err := pg.Confirm(t.Context(), store.ConfirmParams{Bot: "alpha", Channel: "slack", User: "U-pending", CodeHash: []byte("code-hash"),
		MaxAttempts: 5, Now: time.Now()}); err != nil {
		t.Errorf("confirming the migrated confirmation: %v", err)
	}
	// Links keep their providers, label and state; one code still confirms both of a link's.
	for _, token := range []string{"pair-link", "cancelled-link", "open-link", "link-0"} {
		want, err := st.LinkByTokenHash(t.Context(), []byte(token))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := pg.LinkByTokenHash(t.Context(), []byte(token)); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("link %s in PostgreSQL %+v (%v), in SQLite %+v", token, got, err, want)
		}
	}
	if ids, err := pg.Confirm(t.Context(), store.ConfirmParams{Bot: "alpha", Channel: "slack", User: "U-pair", CodeHash: []byte("pair-code"),
		MaxAttempts: 5, Now: time.Now(), Webhook: true}); err != nil || len(ids) != 2 {
		t.Errorf("confirming the migrated link's code: %d identities, %v", len(ids), err)
	}
	completed, err := pg.OutboxEvents(t.Context(), store.OutboxQuery{Limit: 1})
	if err != nil || len(completed) != 1 || completed[0].Type != store.WebhookLinkCompleted || len(completed[0].Identities) != 2 {
		t.Errorf("the migrated link's link.completed: %+v, %v", completed, err)
	}
	if kinds := eventKinds(must(pg.Events(t.Context(), "alpha", src.unlinked.ID))); !slices.Equal(kinds, []string{store.EventLinked, store.EventUnlinked}) {
		t.Errorf("history of the unlinked identity: %v", kinds)
	}
	now := time.Now()
	l, err := app.Store.CreateLink(t.Context(), store.Link{TokenHash: []byte("after"), Bot: "alpha", Providers: []store.LinkProvider{{Provider: "gl"}},
		Channel: "slack", User: "U-new", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	done, err := app.Store.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Now: now, Webhook: true,
		Identity: store.Identity{Bot: "alpha", Channel: "slack", User: "U-new", Provider: "gl", ProviderUserID: "gl-new", Status: store.StatusActive}})
	if err != nil {
		t.Fatal(err)
	}
	fresh := done.Identity
	outbox, err := pg.OutboxEvents(t.Context(), store.OutboxQuery{Limit: 1})
	if err != nil || len(outbox) != 1 {
		t.Fatal(outbox, err)
	}
	if fresh.ID <= src.unlinked.ID || outbox[0].ID <= src.prunedOutboxID {
		t.Errorf("after the migration a new identity got id %d (unlinked: %d) and a new event id %d (pruned: %d)",
			fresh.ID, src.unlinked.ID, outbox[0].ID, src.prunedOutboxID)
	}

	// Into a target that holds records: refused, unless -force.
	_, err = migrateStore(t.Context(), io.Discard, "--from", "sqlite:"+src.path, "--to", dsn)
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("migrating into a non-empty target: %v", err)
	}
	if _, err := migrateStore(t.Context(), io.Discard, "--from", "sqlite:"+src.path, "--to", dsn, "-force"); err != nil {
		t.Fatalf("migrate-store -force: %v", err)
	}
	if got := rowCounts(t, pg); !equalCounts(got, want) {
		t.Errorf("after -force: rows %v, want %v", got, want)
	}
}

func TestMigrateStoreUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--from", "/tmp/x.db", "--to", "postgres://db/ob"},        // no sqlite: prefix
		{"--from", "sqlite:/tmp/x.db", "--to", "mysql://db/ob"},    // not postgres
		{"--from", "sqlite:/tmp/x.db", "--to", "env:OB_UNSET_DSN"}, // variable not set
		{"--from", "sqlite:/tmp/x.db", "--to", "postgres://db", "-batch", "0"},
	} {
		var stderr bytes.Buffer
		err := run(t.Context(), append([]string{"migrate-store"}, args...), func(string) (string, bool) { return "", false }, io.Discard, &stderr)
		if code, ok := err.(exitError); !ok || code.code != 2 || !strings.Contains(stderr.String(), "Usage: oauthbroker migrate-store") {
			t.Errorf("%q: %v\n%s", args, err, stderr.String())
		}
	}
	_, err := migrateStore(t.Context(), io.Discard, "--from", "sqlite:"+filepath.Join(t.TempDir(), "missing.db"), "--to", "postgres://127.0.0.1:1/x")
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing SQLite file: %v", err)
	}
}

// cancelOn cancels when a line containing substr is written (after that line).
type cancelOn struct {
	substr string
	cancel func()
	once   sync.Once
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(c.substr)) {
		c.once.Do(c.cancel)
	}
	return len(p), nil
}

func rowCounts(t testing.TB, pg *postgres.Store) map[string]int64 {
	t.Helper()
	got, err := pg.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// sqliteCounts counts the rows of the import's tables in the SQLite file itself.
func sqliteCounts(t testing.TB, path string) map[string]int64 {
	t.Helper()
	src, err := sqlite.OpenExport(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := src.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func equalCounts(a, b map[string]int64) bool {
	for _, tb := range store.CopyTables {
		if a[tb] != b[tb] {
			return false
		}
	}
	return true
}

// sealedValues counts the non-empty sealed values of a store.
func sealedValues(t testing.TB, st store.Store) int {
	t.Helper()
	n := 0
	for after := int64(0); ; {
		batch, err := st.SealedBatch(t.Context(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			return n
		}
		for _, v := range batch {
			for _, f := range [][]byte{v.AccessToken, v.AccessTokenSecret, v.RefreshToken} {
				if len(f) > 0 {
					n++
				}
			}
		}
		after = batch[len(batch)-1].IdentityID
	}
}

// readAccessToken reads an alpha identity's credentials over HTTP.
func readAccessToken(t testing.TB, base string, id int64) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/bots/alpha/identities/%d/credentials", base, id), nil)
	req.Header.Set("Authorization", "Bearer "+keyA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c credentialsBody
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("credentials of %d: %d, %v", id, resp.StatusCode, err)
	}
	return c.AccessToken
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
