// Package janitor deletes what the broker no longer needs: links, flows, confirmation codes
// and admin sessions spent or expired for longer than storage.retention. Identities, their
// history and webhook events are kept (delivered webhooks are pruned by package webhook).
//
// It must not slow serving down. It deletes in small batches, each its own short transaction,
// and pauses between them, so SQLite's single writer is never held for long and readers keep
// their CPU; and with several broker instances on one database, one instance at a time does
// it, under a lease in the store.
//
// It imports only package store.
package janitor

import (
	"context"
	crand "crypto/rand"
	"errors"
	"log/slog"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// LeaseName is the store lease the janitor runs under.
const LeaseName = "janitor"

// Store is what the janitor needs of the store.
type Store interface {
	Purge(ctx context.Context, table string, before time.Time, limit int) (int64, error)
	AcquireLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Observer is told what the janitor did (package metrics implements it).
type Observer interface {
	// JanitorPurged counts rows deleted from a table.
	JanitorPurged(table string, n int64)
	// JanitorRun counts a run by outcome: RunPurged, RunSkipped or RunFailed; a run that
	// purged records its end as the last success.
	JanitorRun(outcome string, at time.Time)
}

// Run outcomes.
const (
	RunPurged  = "purged"  // held the lease and purged every table down to the cutoff
	RunSkipped = "skipped" // another instance holds the lease
	RunFailed  = "failed"  // a store error, the lease lost midway, or the run cut short (shutdown)
)

// Options tune the janitor; every zero value has a default.
type Options struct {
	Retention time.Duration // how long spent or expired rows are kept; default 7 days
	Interval  time.Duration // time between runs; default 1 hour
	// Batch is the rows per transaction; default 50. Small, so that one batch (in SQLite a
	// stretch of C code no goroutine can preempt) is over in a millisecond or two, shorter
	// than a request.
	Batch int
	// Pause is the shortest rest between two batches, so serving gets the writer and the CPU
	// back; default 20ms.
	Pause time.Duration
	// Duty is the largest share of time the janitor spends in batches (the database's work
	// included): after a batch it also rests long enough to keep to it, so on a busy or slow
	// machine it slows down rather than crowd out requests. Default 0.1; 1 rests Pause only.
	Duty float64
	// LeaseTTL is how long a lease lasts without renewal; the janitor renews it before every
	// batch, so an instance that dies mid-run blocks the others for at most this long.
	// Default 1 minute.
	LeaseTTL time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
	Observer Observer
}

// Janitor purges on a schedule. It is safe to run one per broker instance.
type Janitor struct {
	st     Store
	opts   Options
	holder string
}

// New makes a Janitor on st.
func New(st Store, opts Options) *Janitor {
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&opts.Retention, 7*24*time.Hour)
	set(&opts.Interval, time.Hour)
	set(&opts.Pause, 20*time.Millisecond)
	set(&opts.LeaseTTL, time.Minute)
	if opts.Batch <= 0 {
		opts.Batch = 50
	}
	if opts.Duty <= 0 || opts.Duty > 1 {
		opts.Duty = 0.1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	return &Janitor{st: st, opts: opts, holder: "janitor-" + crand.Text()}
}

// Run purges at once and then every Interval until ctx ends.
func (j *Janitor) Run(ctx context.Context) {
	t := time.NewTicker(j.opts.Interval)
	defer t.Stop()
	for {
		if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
			j.opts.Logger.ErrorContext(ctx, "janitor: purge failed; trying again at the next run", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errLeaseLost: the lease passed to another instance during a run (this one paused for
// longer than LeaseTTL), so this one stops rather than purge beside it.
var errLeaseLost = errors.New("janitor: lost the lease to another instance")

// RunOnce takes the lease and purges every table down to now − Retention, batch by batch. It
// returns the rows deleted per table; none, and no error, when another instance holds the lease.
func (j *Janitor) RunOnce(ctx context.Context) (map[string]int64, error) {
	purged := map[string]int64{}
	release := func() {
		if err := j.st.ReleaseLease(context.WithoutCancel(ctx), LeaseName, j.holder); err != nil {
			j.opts.Logger.WarnContext(ctx, "janitor: releasing the lease failed; it expires by itself", "err", err)
		}
	}
	ok, err := j.renew(ctx)
	if err != nil {
		// The write may have happened even so (a cancelled call): give the lease back rather
		// than make the other instances wait for it to expire.
		release()
		return purged, j.failed(err)
	}
	if !ok {
		j.opts.Observer.JanitorRun(RunSkipped, j.opts.Now())
		return purged, nil
	}
	defer release()
	cutoff := j.opts.Now().Add(-j.opts.Retention)
	var took time.Duration // the last batch's
	for i, table := range store.PurgeTables {
		for first := i == 0; ; first = false {
			if !first {
				rest := time.Duration(float64(took) * (1 - j.opts.Duty) / j.opts.Duty)
				if err := sleep(ctx, max(j.opts.Pause, rest)); err != nil {
					return purged, j.failed(err)
				}
				ok, err := j.renew(ctx)
				if err == nil && !ok {
					err = errLeaseLost
				}
				if err != nil {
					return purged, j.failed(err)
				}
			}
			start := time.Now()
			n, err := j.st.Purge(ctx, table, cutoff, j.opts.Batch)
			took = time.Since(start)
			if err != nil {
				return purged, j.failed(err)
			}
			if n > 0 {
				purged[table] += n
				j.opts.Observer.JanitorPurged(table, n)
			}
			if n < int64(j.opts.Batch) {
				break
			}
		}
	}
	j.opts.Observer.JanitorRun(RunPurged, j.opts.Now())
	if len(purged) > 0 {
		j.opts.Logger.InfoContext(ctx, "janitor: purged spent and expired rows", "cutoff", cutoff,
			"links", purged[store.PurgeLinks], "flows", purged[store.PurgeFlows],
			"confirmations", purged[store.PurgeConfirmations], "admin_sessions", purged[store.PurgeAdminSessions])
	}
	return purged, nil
}

// renew takes or extends the lease for LeaseTTL from now.
func (j *Janitor) renew(ctx context.Context) (bool, error) {
	now := j.opts.Now()
	return j.st.AcquireLease(ctx, LeaseName, j.holder, now.Add(j.opts.LeaseTTL), now)
}

func (j *Janitor) failed(err error) error {
	j.opts.Observer.JanitorRun(RunFailed, j.opts.Now())
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type nopObserver struct{}

func (nopObserver) JanitorPurged(string, int64)  {}
func (nopObserver) JanitorRun(string, time.Time) {}
