package admin

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// limiter limits login attempts per client address with a token bucket: burst attempts, then
// one more per refill. It lives in this process, so each broker instance counts on its own.
type limiter struct {
	burst  float64
	refill time.Duration
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// maxBuckets bounds the limiter's memory under a spray of addresses: past it, the buckets that
// have refilled completely (which say nothing an absent bucket does not) are dropped.
const maxBuckets = 10_000

func newLimiter(burst int, refill time.Duration, now func() time.Time) *limiter {
	return &limiter{burst: float64(burst), refill: refill, now: now, buckets: map[string]*bucket{}}
}

// take spends one attempt of key. When none is left it reports how long until the next.
// An attempt is spent before the password is checked, so parallel guesses cannot all slip
// through on the same token; a successful login gives it back.
func (l *limiter) take(key string) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.current(key)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.refill))
	}
	b.tokens--
	return true, 0
}

// give returns an attempt to key: a correct password costs nothing.
func (l *limiter) give(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.current(key)
	b.tokens = min(l.burst, b.tokens+1)
}

// current is key's bucket, refilled up to now.
func (l *limiter) current(key string) *bucket {
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
		return b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.refill))
		b.at = now
	}
	return b
}

func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.refill) >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// clientKey is the address a login attempt counts against: the connection's IP (a proxy's
// X-Forwarded-For is not trusted: anyone can send one), and for IPv6 its /64, which one host
// usually owns whole.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
