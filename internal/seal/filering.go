package seal

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// FileRing is the token key ring of a running broker whose keys live in a key file. It
// follows the file, so that `oauthbroker keys rotate`, run as another process, takes effect
// without a restart: new values are sealed under the new primary key within checkEvery, and a
// value sealed under a key the ring has not seen yet makes it re-read the file at once
// (Reload) instead of failing.
//
// Only the encryption keys follow the file; the cookie and MAC keys are read once at start.
// It is safe for concurrent use.
type FileRing struct {
	path       string
	checkEvery time.Duration

	cur       atomic.Pointer[KeyRing]
	nextCheck atomic.Int64 // unix nanoseconds

	mu   sync.Mutex  // serialises reloads
	seen os.FileInfo // of the file the ring was read from
}

// ErrNoKeyFile: a FileRing was asked to reload, but its keys came from the environment.
var ErrNoKeyFile = errors.New("seal: the keys do not come from a file")

// NewFileRing starts from ring (already loaded from path) and checks the file for changes at
// most every checkEvery. path "" makes a ring that never changes (keys from the environment).
func NewFileRing(path string, ring *KeyRing, checkEvery time.Duration) *FileRing {
	f := &FileRing{path: path, checkEvery: checkEvery}
	f.cur.Store(ring)
	if path != "" {
		f.seen, _ = os.Stat(path)
	}
	f.nextCheck.Store(time.Now().Add(checkEvery).UnixNano())
	return f
}

// Current returns the ring to seal and open with. Every checkEvery one caller looks at the
// file's modification time and size (a stat, no read) and reloads when they changed.
func (f *FileRing) Current() *KeyRing {
	if f.path != "" {
		now := time.Now().UnixNano()
		if next := f.nextCheck.Load(); now >= next && f.nextCheck.CompareAndSwap(next, now+int64(f.checkEvery)) {
			_ = f.reload(false) // a broken file keeps the ring we have; Reload reports it
		}
	}
	return f.cur.Load()
}

// Reload re-reads the key file now, whether or not it looks changed.
func (f *FileRing) Reload() error {
	if f.path == "" {
		return ErrNoKeyFile
	}
	return f.reload(true)
}

func (f *FileRing) reload(force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("seal: key file: %w", err)
	}
	// Key rotation renames a new file into place, so a new inode is the usual sign; size and
	// time catch an editor that rewrote the file in place.
	if !force && f.seen != nil && os.SameFile(st, f.seen) && st.ModTime().Equal(f.seen.ModTime()) && st.Size() == f.seen.Size() {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("seal: key file: %w", err)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	f.cur.Store(keys.Ring)
	f.seen = st
	return nil
}
