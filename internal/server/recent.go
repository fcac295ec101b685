package server

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// recentPages hands the connect page a successful callback left to the page view the callback
// sends the browser to, so that view does not read the link again right after the callback
// wrote it (a link flow read it three times: the page, the button, the page after the
// provider). An entry is bound to the link's token and to the browser's page cookie (its
// random browser id), is taken at most once, and lasts recentTTL: a reload, another tab or
// another browser reads the link. It holds what the page shows, no token (the key holds the
// link token's SHA-256). On a broker with several instances the next request may land on
// another one, which reads the link as before.
type recentPages struct {
	mu      sync.Mutex
	entries map[recentKey]recentPage
}

type recentKey struct {
	browser string
	link    [sha256.Size]byte
}

type recentPage struct {
	page  broker.Connect
	until time.Time
}

const (
	recentTTL = 10 * time.Second // the redirect's round trip, with room for a slow browser
	maxRecent = 4096             // entries; past it (a burst of callbacks whose pages never came) none is added
)

func recentKeyOf(browser, token string) recentKey {
	return recentKey{browser: browser, link: sha256.Sum256([]byte(token))}
}

// put keeps page for the next view of token's page by browser.
func (rp *recentPages) put(browser, token string, page broker.Connect, now time.Time) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.entries == nil {
		rp.entries = map[recentKey]recentPage{}
	}
	if len(rp.entries) >= maxRecent {
		for k, e := range rp.entries {
			if !now.Before(e.until) {
				delete(rp.entries, k)
			}
		}
		if len(rp.entries) >= maxRecent {
			return
		}
	}
	rp.entries[recentKeyOf(browser, token)] = recentPage{page: page, until: now.Add(recentTTL)}
}

// take returns, and forgets, the page kept for browser's view of token's page.
func (rp *recentPages) take(browser, token string, now time.Time) (broker.Connect, bool) {
	k := recentKeyOf(browser, token)
	rp.mu.Lock()
	e, ok := rp.entries[k]
	if ok {
		delete(rp.entries, k)
	}
	rp.mu.Unlock()
	if !ok || !now.Before(e.until) {
		return broker.Connect{}, false
	}
	return e.page, true
}
