package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func ring(t *testing.T, primary string, ids ...string) *KeyRing {
	t.Helper()
	var keys []Key
	for i, id := range ids {
		keys = append(keys, Key{ID: id, Key: bytes.Repeat([]byte{byte(i + 1)}, KeySize)})
	}
	r, err := NewKeyRing(primary, keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpen(t *testing.T) {
	r := ring(t, "k1", "k1")
	aad := []byte("identity 7 access_token")
	sealed, err := r.Seal([]byte("ya29.secret-token"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret-token")) {
		t.Fatal("sealed value contains the plaintext")
	}
	if id, _ := KeyID(sealed); id != "k1" {
		t.Errorf("KeyID = %q", id)
	}
	plain, err := r.Open(sealed, aad)
	if err != nil || string(plain) != "ya29.secret-token" {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	again, _ := r.Seal([]byte("ya29.secret-token"), aad)
	if bytes.Equal(again, sealed) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
}

func TestOpenRefuses(t *testing.T) {
	r := ring(t, "k1", "k1")
	sealed, _ := r.Seal([]byte("token"), []byte("row 1"))
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	other := ring(t, "k2", "k2")
	for _, c := range []struct {
		name string
		ring *KeyRing
		in   []byte
		aad  string
		want error
	}{
		{"another record's aad", r, sealed, "row 2", ErrCorrupt},
		{"a flipped bit", r, tampered, "row 1", ErrCorrupt},
		{"truncated", r, sealed[:10], "row 1", ErrCorrupt},
		{"unknown version", r, append([]byte{9}, sealed[1:]...), "row 1", ErrCorrupt},
		{"a key the ring lacks", other, sealed, "row 1", ErrUnknownKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.ring.Open(c.in, []byte(c.aad)); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestEmptySealsToNil(t *testing.T) {
	r := ring(t, "k1", "k1")
	if s, err := r.Seal(nil, nil); s != nil || err != nil {
		t.Errorf("Seal(nil) = %v, %v", s, err)
	}
	if p, err := r.Open(nil, nil); p != nil || err != nil {
		t.Errorf("Open(nil) = %v, %v", p, err)
	}
}

func TestRotationKeepsOldValuesReadable(t *testing.T) {
	old := ring(t, "k1", "k1")
	sealed, _ := old.Seal([]byte("token"), nil)
	rotated := ring(t, "k2", "k1", "k2")
	if p, err := rotated.Open(sealed, nil); err != nil || string(p) != "token" {
		t.Fatalf("old value under the rotated ring: %q %v", p, err)
	}
	fresh, _ := rotated.Seal([]byte("token"), nil)
	if id, _ := KeyID(fresh); id != "k2" {
		t.Errorf("new values sealed under %q, want the primary k2", id)
	}
}

func TestNewKeyRingRefuses(t *testing.T) {
	k := bytes.Repeat([]byte{1}, KeySize)
	for _, c := range []struct {
		name    string
		primary string
		keys    []Key
	}{
		{"short key", "a", []Key{{ID: "a", Key: k[:16]}}},
		{"bad id", "a b", []Key{{ID: "a b", Key: k}}},
		{"duplicate id", "a", []Key{{ID: "a", Key: k}, {ID: "a", Key: k}}},
		{"primary missing", "b", []Key{{ID: "a", Key: k}}},
	} {
		if _, err := NewKeyRing(c.primary, c.keys); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	keys, created, err := LoadOrCreateKeyFile(path, time.Now())
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", info.Mode(), err)
	}
	sealed, _ := keys.Ring.Seal([]byte("token"), nil)
	again, created, err := LoadOrCreateKeyFile(path, time.Now())
	if err != nil || created {
		t.Fatalf("second start: created=%v err=%v", created, err)
	}
	if p, err := again.Ring.Open(sealed, nil); err != nil || string(p) != "token" {
		t.Errorf("reloaded keys do not open: %v", err)
	}
	if !bytes.Equal(keys.CookieHashKey, again.CookieHashKey) || len(again.CookieBlockKey) != 32 || len(again.MACKey) != 32 {
		t.Error("cookie or MAC keys differ after reload")
	}
}

// TestKeyFileConcurrentCreate: instances starting together agree on one key file.
func TestKeyFileConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	var wg sync.WaitGroup
	got := make([]Keys, 8)
	created := make([]bool, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, c, err := LoadOrCreateKeyFile(path, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			got[i], created[i] = k, c
		}()
	}
	wg.Wait()
	n := 0
	for i, c := range created {
		if c {
			n++
		}
		if got[i].Ring == nil || !bytes.Equal(got[i].MACKey, got[0].MACKey) {
			t.Fatal("instances started with different keys")
		}
	}
	if n != 1 {
		t.Errorf("%d instances created the key file, want 1", n)
	}
}

func TestParseKeysRefuses(t *testing.T) {
	for _, in := range []string{``, `{}`, `{"primary":"k","encryption_keys":[{"id":"k","key":"!!"}]}`, `{"primary":"k","encryption_keys":[{"id":"k","key":"AAAA"}]}`} {
		if _, err := ParseKeys([]byte(in)); err == nil {
			t.Errorf("ParseKeys(%q) accepted", in)
		}
	}
}
