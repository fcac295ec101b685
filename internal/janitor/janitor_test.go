package janitor

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

// observed records what the janitor tells its Observer.
type observed struct {
	mu      sync.Mutex
	batches map[string][]int64
	runs    []string
}

func (o *observed) JanitorPurged(table string, n int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.batches == nil {
		o.batches = map[string][]int64{}
	}
	o.batches[table] = append(o.batches[table], n)
}

func (o *observed) JanitorRun(outcome string, _ time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.runs = append(o.runs, outcome)
}

// seedLinks creates n links of user, expiring at expires, each with a flow of the same expiry.
func seedLinks(t *testing.T, st store.Store, user string, n int, expires time.Time) {
	t.Helper()
	for i := range n {
		l, err := st.CreateLink(t.Context(), store.Link{TokenHash: fmt.Appendf(nil, "%s-%d", user, i), Bot: "b",
			Providers: []store.LinkProvider{{Provider: "p"}}, Channel: "c", User: user, CreatedAt: expires.Add(-time.Hour), ExpiresAt: expires})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateFlow(t.Context(), store.Flow{StateHash: fmt.Appendf(nil, "flow-%s-%d", user, i), LinkID: l.ID,
			CreatedAt: expires.Add(-time.Hour), ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRunOncePurgesPastTheRetentionInBatches: a run deletes the links and flows expired for
// longer than the retention, a batch at a time, reports each batch, and keeps the rest.
func TestRunOncePurgesPastTheRetentionInBatches(t *testing.T) {
	st := openSQLite(t)
	now := time.Now()
	seedLinks(t, st, "old", 7, now.Add(-8*24*time.Hour))
	seedLinks(t, st, "recent", 3, now.Add(-6*24*time.Hour))
	obs := &observed{}
	j := New(st, Options{Batch: 3, Pause: time.Millisecond, Observer: obs, Now: func() time.Time { return now }})
	purged, err := j.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if purged[store.PurgeLinks] != 7 || purged[store.PurgeFlows] != 7 || len(purged) != 2 {
		t.Errorf("purged %v, want 7 links and 7 flows", purged)
	}
	if got := fmt.Sprint(obs.batches); got != "map[flows:[3 3 1] links:[3 3 1]]" || fmt.Sprint(obs.runs) != "[purged]" {
		t.Errorf("observed batches %s, runs %v", got, obs.runs)
	}
	if purged, err := j.RunOnce(t.Context()); err != nil || len(purged) != 0 {
		t.Errorf("second run: %v %v, want nothing left", purged, err)
	}
	for i := range 3 {
		if _, err := st.LinkByTokenHash(t.Context(), fmt.Appendf(nil, "recent-%d", i)); err != nil {
			t.Errorf("a link within the retention is gone: %v", err)
		}
	}
}

// TestRunOnceSkipsWhileAnotherHoldsTheLease: while another instance holds the lease, a run
// deletes nothing; once the lease has expired (its holder died), the run takes over.
func TestRunOnceSkipsWhileAnotherHoldsTheLease(t *testing.T) {
	st := openSQLite(t)
	now := time.Now()
	seedLinks(t, st, "old", 2, now.Add(-30*24*time.Hour))
	if ok, err := st.AcquireLease(t.Context(), LeaseName, "a dead instance", now.Add(time.Minute), now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	obs := &observed{}
	clock := now
	j := New(st, Options{Observer: obs, Pause: time.Millisecond, Now: func() time.Time { return clock }})
	if purged, err := j.RunOnce(t.Context()); err != nil || len(purged) != 0 {
		t.Fatalf("run under another's lease: %v %v", purged, err)
	}
	clock = now.Add(time.Minute)
	if purged, err := j.RunOnce(t.Context()); err != nil || purged[store.PurgeLinks] != 2 {
		t.Fatalf("run after the lease expired: %v %v", purged, err)
	}
	if fmt.Sprint(obs.runs) != "[skipped purged]" {
		t.Errorf("runs %v", obs.runs)
	}
}

// TestTwoInstancesNeverPurgeAtOnce: two broker instances on one PostgreSQL database (two
// stores, two janitors) run over and over at the same time; no Purge of one ever overlaps a
// Purge of the other, and together they empty the tables.
func TestTwoInstancesNeverPurgeAtOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	var stores [2]store.Store
	for i := range stores {
		st, err := postgres.Open(t.Context(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = st
	}
	now := time.Now()
	seedLinks(t, stores[0], "old", 600, now.Add(-30*24*time.Hour))

	var (
		mu     sync.Mutex
		active = map[int]bool{}
		overl  []string
		calls  [2]int
	)
	var wg sync.WaitGroup
	for i, st := range stores {
		rec := recordingStore{Store: st, before: func() {
			mu.Lock()
			defer mu.Unlock()
			if active[1-i] {
				overl = append(overl, fmt.Sprintf("instance %d purged while instance %d was purging", i, 1-i))
			}
			active[i] = true
			calls[i]++
		}, after: func() {
			mu.Lock()
			defer mu.Unlock()
			active[i] = false
		}}
		j := New(rec, Options{Batch: 20, Pause: time.Millisecond, Duty: 1, LeaseTTL: 10 * time.Second})
		wg.Go(func() {
			for range 20 {
				if _, err := j.RunOnce(t.Context()); err != nil {
					t.Errorf("instance %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	for _, o := range overl {
		t.Error(o)
	}
	if calls[0]+calls[1] < 60 {
		t.Errorf("purge calls %v: the instances hardly ran", calls)
	}
	for i := range 3 {
		_, err := stores[1].LinkByTokenHash(t.Context(), fmt.Appendf(nil, "old-%d", i))
		if err == nil {
			t.Errorf("link old-%d survived", i)
		}
	}
}

// recordingStore calls before and after around every Purge of the store it wraps.
type recordingStore struct {
	store.Store
	before, after func()
}

func (r recordingStore) Purge(ctx context.Context, table string, before time.Time, limit int) (int64, error) {
	r.before()
	defer r.after()
	return r.Store.Purge(ctx, table, before, limit)
}

// TestRunCutShortGivesTheLeaseBack: a run ended by its context (shutdown, say) leaves the lease
// free for the other instances rather than make them wait for it to expire.
func TestRunCutShortGivesTheLeaseBack(t *testing.T) {
	st := openSQLite(t)
	now := time.Now()
	seedLinks(t, st, "old", 30, now.Add(-30*24*time.Hour))
	obs := &observed{}
	j := New(st, Options{Batch: 5, Pause: time.Hour, Observer: obs}) // the rest after a batch outlasts the context
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := j.RunOnce(ctx); err == nil {
		t.Fatal("a run cut short by its context reported no error")
	}
	if ok, err := st.AcquireLease(t.Context(), LeaseName, "another instance", now.Add(time.Minute), now); err != nil || !ok {
		t.Errorf("the lease after a run cut short: %v %v, want free", ok, err)
	}
	if fmt.Sprint(obs.runs) != "[failed]" {
		t.Errorf("runs %v, want [failed]", obs.runs)
	}
}
