package seal

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Key rotation edits the key file in place (a new file renamed over the old one): the
// running brokers notice the change (see FileRing) and the cookie and MAC keys are kept, so
// flows in progress and pending confirmation codes survive it.

// AddPrimaryKey adds a fresh encryption key to the key file at path and makes it the
// primary. The old keys stay, so every sealed value still opens. It returns the new key id.
func AddPrimaryKey(path string, now time.Time) (string, error) {
	var id string
	err := editKeyFile(path, func(f *keyFile) error {
		id = "k" + now.UTC().Format("20060102T150405")
		for n := 2; slices.ContainsFunc(f.EncryptionKeys, func(k keyFileKey) bool { return k.ID == id }); n++ {
			id = fmt.Sprintf("k%s-%d", now.UTC().Format("20060102T150405"), n)
		}
		key, err := randomB64(KeySize)
		if err != nil {
			return err
		}
		f.EncryptionKeys = append(f.EncryptionKeys, keyFileKey{ID: id, Key: key})
		f.Primary = id
		return nil
	})
	return id, err
}

// RemoveKey deletes a key that is not the primary from the key file. Whether any value is
// still sealed under it is the caller's question (`oauthbroker keys retire` asks the store).
func RemoveKey(path, id string) error {
	return editKeyFile(path, func(f *keyFile) error {
		if f.Primary == id {
			return fmt.Errorf("seal: key %q is the primary key; rotate to a new one first", id)
		}
		i := slices.IndexFunc(f.EncryptionKeys, func(k keyFileKey) bool { return k.ID == id })
		if i < 0 {
			return fmt.Errorf("seal: the key file has no key %q", id)
		}
		f.EncryptionKeys = slices.Delete(f.EncryptionKeys, i, i+1)
		return nil
	})
}

// editKeyFile reads the key file, applies edit, checks the result parses, and replaces the
// file atomically with the same mode 0600: a crash leaves the old file or the new one, never
// half of one.
func editKeyFile(path string, edit func(*keyFile) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("seal: read key file: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("seal: %s: keys are not valid JSON: %w", path, err)
	}
	if _, err := ParseKeys(data); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := edit(&f); err != nil {
		return err
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if _, err := ParseKeys(out); err != nil {
		return err
	}
	return replaceFile(path, append(out, '\n'))
}

func replaceFile(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".oauthbroker-keys-*")
	if err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("seal: replace key file: %w", err)
	}
	return nil
}
