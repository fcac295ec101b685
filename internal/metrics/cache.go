package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
)

// children remembers a vector's child per label combination. WithLabelValues hashes every
// label value and takes the vector's read lock on each call, and every request of the HTTP
// edge makes such a call (with its status formatted first); a lookup here is one read of a
// map that is never written once published, so the two cores do not meet on a lock. A new
// combination copies the map: the combinations are bounded (see the package doc), so the
// copies stop once each was seen.
type children[K comparable, V any] struct {
	mu sync.Mutex // serializes copies
	m  atomic.Pointer[map[K]V]
}

// get returns k's child, made by child on k's first use.
func (c *children[K, V]) get(k K, child func() V) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := map[K]V{}
	if old := c.m.Load(); old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
		next = maps.Clone(*old)
	}
	v := child()
	next[k] = v
	c.m.Store(&next)
	return v
}
