package seal

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Keys is every secret the broker itself holds: the token key ring, the keys of the flow
// cookie, and a MAC key for confirmation codes.
type Keys struct {
	Ring           *KeyRing
	CookieHashKey  []byte // HMAC-SHA256 of the flow cookie (64 bytes)
	CookieBlockKey []byte // AES-256 encryption of the flow cookie (32 bytes)
	MACKey         []byte // keyed hashes of confirmation codes (32 bytes)
}

// keyFile is the on-disk (and OAUTHBROKER_KEYS) form of Keys.
type keyFile struct {
	Primary        string       `json:"primary"`
	EncryptionKeys []keyFileKey `json:"encryption_keys"`
	CookieHashKey  string       `json:"cookie_hash_key"`
	CookieBlockKey string       `json:"cookie_block_key"`
	MACKey         string       `json:"mac_key"`
}

type keyFileKey struct {
	ID  string `json:"id"`
	Key string `json:"key"` // base64 (standard encoding)
}

// ParseKeys reads the JSON form of Keys (the key file's content, or OAUTHBROKER_KEYS).
func ParseKeys(data []byte) (Keys, error) {
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Keys{}, fmt.Errorf("seal: keys are not valid JSON: %w", err)
	}
	var keys []Key
	for i, k := range f.EncryptionKeys {
		raw, err := base64.StdEncoding.DecodeString(k.Key)
		if err != nil {
			return Keys{}, fmt.Errorf("seal: encryption_keys[%d] (%q): key is not base64", i, k.ID)
		}
		keys = append(keys, Key{ID: k.ID, Key: raw})
	}
	if len(keys) == 0 {
		return Keys{}, errors.New("seal: no encryption_keys")
	}
	ring, err := NewKeyRing(f.Primary, keys)
	if err != nil {
		return Keys{}, err
	}
	out := Keys{Ring: ring}
	for _, b := range []struct {
		name string
		in   string
		size int
		out  *[]byte
	}{
		{"cookie_hash_key", f.CookieHashKey, 64, &out.CookieHashKey},
		{"cookie_block_key", f.CookieBlockKey, 32, &out.CookieBlockKey},
		{"mac_key", f.MACKey, 32, &out.MACKey},
	} {
		raw, err := base64.StdEncoding.DecodeString(b.in)
		if err != nil || len(raw) != b.size {
			return Keys{}, fmt.Errorf("seal: %s must be %d bytes, base64-encoded", b.name, b.size)
		}
		*b.out = raw
	}
	return out, nil
}

// GenerateKeys makes a fresh set of keys and returns them with their JSON form.
// The first encryption key's id carries the date, so operators can tell keys apart.
func GenerateKeys(now time.Time) (Keys, []byte, error) {
	id := "k" + now.UTC().Format("20060102T150405")
	f := keyFile{Primary: id}
	enc, err := randomB64(KeySize)
	if err != nil {
		return Keys{}, nil, err
	}
	f.EncryptionKeys = []keyFileKey{{ID: id, Key: enc}}
	if f.CookieHashKey, err = randomB64(64); err != nil {
		return Keys{}, nil, err
	}
	if f.CookieBlockKey, err = randomB64(32); err != nil {
		return Keys{}, nil, err
	}
	if f.MACKey, err = randomB64(32); err != nil {
		return Keys{}, nil, err
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return Keys{}, nil, err
	}
	keys, err := ParseKeys(data)
	return keys, append(data, '\n'), err
}

// LoadOrCreateKeyFile reads the key file at path, or creates it (mode 0600, never
// overwriting) when it does not exist. created tells the caller to announce the new file.
func LoadOrCreateKeyFile(path string, now time.Time) (keys Keys, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		keys, err := ParseKeys(data)
		if err != nil {
			return Keys{}, false, fmt.Errorf("%s: %w", path, err)
		}
		return keys, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Keys{}, false, fmt.Errorf("seal: read key file: %w", err)
	}
	keys, data, err = GenerateKeys(now)
	if err != nil {
		return Keys{}, false, err
	}
	// Write a temporary file, then hard-link it into place: link(2) fails if the name exists,
	// so two instances starting at once agree on one key file, and nobody ever reads a
	// half-written one.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".oauthbroker-keys-*")
	if err != nil {
		return Keys{}, false, fmt.Errorf("seal: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return Keys{}, false, fmt.Errorf("seal: create key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return Keys{}, false, fmt.Errorf("seal: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return Keys{}, false, fmt.Errorf("seal: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Keys{}, false, fmt.Errorf("seal: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateKeyFile(path, now)
		}
		return Keys{}, false, fmt.Errorf("seal: create key file: %w", err)
	}
	return keys, true, nil
}

func randomB64(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("seal: random key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
