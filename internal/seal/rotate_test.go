package seal_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/seal"
)

func newKeyFile(t *testing.T) (string, seal.Keys) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	keys, _, err := seal.LoadOrCreateKeyFile(path, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return path, keys
}

func loadFile(t *testing.T, path string) seal.Keys {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.ParseKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestAddPrimaryKeyKeepsEverythingElse(t *testing.T) {
	path, before := newKeyFile(t)
	aad := []byte("identity 1, access_token")
	old, err := before.Ring.Seal([]byte("token"), aad)
	if err != nil {
		t.Fatal(err)
	}
	// Twice in the same second: the ids must still differ.
	at := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	id1, err := seal.AddPrimaryKey(path, at)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := seal.AddPrimaryKey(path, at)
	if err != nil {
		t.Fatal(err)
	}
	after := loadFile(t, path)
	if id1 == id2 || after.Ring.Primary() != id2 || len(after.Ring.IDs()) != 3 {
		t.Fatalf("ids %s, %s; ring primary %s of %v", id1, id2, after.Ring.Primary(), after.Ring.IDs())
	}
	if plain, err := after.Ring.Open(old, aad); err != nil || string(plain) != "token" {
		t.Fatalf("a value sealed under the old key: %q, %v", plain, err)
	}
	if !bytes.Equal(after.CookieHashKey, before.CookieHashKey) || !bytes.Equal(after.CookieBlockKey, before.CookieBlockKey) || !bytes.Equal(after.MACKey, before.MACKey) {
		t.Error("rotation changed the cookie or MAC keys: flows and pending codes would break")
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", info.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("left files behind: %v", entries)
	}
}

func TestRemoveKey(t *testing.T) {
	path, before := newKeyFile(t)
	first := before.Ring.Primary()
	if err := seal.RemoveKey(path, first); err == nil || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("removing the primary key: %v", err)
	}
	second, err := seal.AddPrimaryKey(path, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := seal.RemoveKey(path, "no-such-key"); err == nil {
		t.Fatal("removing an unknown key succeeded")
	}
	if err := seal.RemoveKey(path, first); err != nil {
		t.Fatal(err)
	}
	if ids := loadFile(t, path).Ring.IDs(); len(ids) != 1 || ids[0] != second {
		t.Fatalf("keys left: %v", ids)
	}
}

func TestFileRingFollowsTheFile(t *testing.T) {
	path, keys := newKeyFile(t)
	ring := seal.NewFileRing(path, keys.Ring, 20*time.Millisecond)
	if ring.Current().Primary() != keys.Ring.Primary() {
		t.Fatal("not the ring it was given")
	}
	id, err := seal.AddPrimaryKey(path, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for ring.Current().Primary() != id && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if ring.Current().Primary() != id {
		t.Fatalf("primary %s, want the added %s", ring.Current().Primary(), id)
	}

	// A broken file keeps the ring that works, and Reload says what is wrong.
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if ring.Current().Primary() != id {
		t.Fatal("a broken key file replaced the ring")
	}
	if err := ring.Reload(); err == nil {
		t.Fatal("Reload of a broken file succeeded")
	}

	env := seal.NewFileRing("", keys.Ring, time.Millisecond)
	if err := env.Reload(); !errors.Is(err, seal.ErrNoKeyFile) || env.Current() != keys.Ring {
		t.Fatalf("ring without a file: %v", err)
	}
}
