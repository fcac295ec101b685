package clientlimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failures is a budget of failures per key: burst of them, refilled at one per refill (a
// token bucket of golang.org/x/time/rate per key). Only failures spend it, so a client that
// keeps succeeding is never refused, however often it comes.
//
// An attempt still in flight counts as a failure until it ends: otherwise a burst of
// parallel attempts (password guesses, say) would all pass the check before the first of
// them failed. It is safe for concurrent use and lives in this process only, so each broker
// instance counts on its own.
type Failures struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*client
}

type client struct {
	bucket   *rate.Limiter
	inFlight int
}

// maxClients bounds the memory of a Failures under a spray of addresses: past it, the keys
// with a full budget and nothing in flight (which say nothing a missing key does not) are
// dropped.
const maxClients = 10_000

// NewFailures allows burst failures per key, then one more per refill. now is the clock
// (nil: time.Now).
func NewFailures(burst int, refill time.Duration, now func() time.Time) *Failures {
	if now == nil {
		now = time.Now
	}
	return &Failures{limit: rate.Every(refill), burst: burst, now: now, clients: map[string]*client{}}
}

// Attempt is one attempt of a key, begun by Begin; End must be called once.
type Attempt struct {
	f   *Failures
	key string
}

// Begin starts an attempt of key. It is refused (ok false, with how long until the next one
// is allowed) when the key's failures, counting its attempts still in flight, have used up
// its budget.
func (f *Failures) Begin(key string) (a Attempt, wait time.Duration, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	c, found := f.clients[key]
	if !found {
		if len(f.clients) >= maxClients {
			f.sweep(now)
		}
		c = &client{bucket: rate.NewLimiter(f.limit, f.burst)}
		f.clients[key] = c
	}
	if left := c.bucket.TokensAt(now) - float64(c.inFlight); left < 1 {
		return Attempt{}, time.Duration((1 - left) / float64(f.limit) * float64(time.Second)), false
	}
	c.inFlight++
	return Attempt{f: f, key: key}, 0, true
}

// End ends the attempt; a failed one spends one of the key's budget.
func (a Attempt) End(failed bool) {
	if a.f == nil {
		return
	}
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	c := a.f.clients[a.key]
	c.inFlight--
	if failed {
		// ReserveN rather than AllowN: the failure is counted even when the budget is
		// already spent by failures that ended at the same time (the bucket goes into debt).
		c.bucket.ReserveN(a.f.now(), 1)
	}
}

func (f *Failures) sweep(now time.Time) {
	for k, c := range f.clients {
		if c.inFlight == 0 && c.bucket.TokensAt(now) >= float64(f.burst) {
			delete(f.clients, k)
		}
	}
}
