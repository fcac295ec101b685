// Package seal encrypts token material at rest: AES-256-GCM under a key ring whose keys have
// ids, so a sealed value names the key that opens it and keys can rotate without a flag day.
//
// It imports nothing from oauthbroker; the broker seals before the store and opens after it.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
)

// version is the first byte of every sealed value, so the format can change later.
const version byte = 1

// KeySize is the length of an encryption key: AES-256.
const KeySize = 32

var (
	// ErrUnknownKey: the value was sealed under a key id this ring does not have
	// (a key file was lost or replaced). Never treat such a value as empty.
	ErrUnknownKey = errors.New("seal: sealed under a key that is not in the key ring")
	// ErrCorrupt: the value is malformed, was tampered with, or was moved to another record.
	ErrCorrupt = errors.New("seal: sealed value cannot be opened (corrupt, tampered, or sealed for another record)")
)

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Key is one AES-256 key and its id.
type Key struct {
	ID  string
	Key []byte
}

// KeyRing seals with its primary key and opens with any of its keys.
// It is immutable after NewKeyRing and safe for concurrent use.
type KeyRing struct {
	primary string
	aeads   map[string]cipher.AEAD
	ids     []string
}

// NewKeyRing builds a ring from keys; primary names the key new values are sealed with.
func NewKeyRing(primary string, keys []Key) (*KeyRing, error) {
	r := &KeyRing{primary: primary, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if !keyIDPattern.MatchString(k.ID) {
			return nil, fmt.Errorf("seal: key id %q: use 1-64 letters, digits, '.', '_' or '-'", k.ID)
		}
		if len(k.Key) != KeySize {
			return nil, fmt.Errorf("seal: key %q is %d bytes, want %d", k.ID, len(k.Key), KeySize)
		}
		if _, dup := r.aeads[k.ID]; dup {
			return nil, fmt.Errorf("seal: key id %q appears twice", k.ID)
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", k.ID, err)
		}
		r.aeads[k.ID] = aead
		r.ids = append(r.ids, k.ID)
	}
	if _, ok := r.aeads[primary]; !ok {
		return nil, fmt.Errorf("seal: primary key %q is not in the key ring", primary)
	}
	return r, nil
}

// Primary returns the id of the key new values are sealed with.
func (r *KeyRing) Primary() string { return r.primary }

// IDs returns the ids of every key in the ring, in the order given.
func (r *KeyRing) IDs() []string { return append([]string(nil), r.ids...) }

// Seal encrypts plaintext under the primary key. aad binds the value to its record (for
// example the identity and field it belongs to): opening it with other aad fails, so a sealed
// token copied into another row is useless. An empty plaintext seals to nil.
func (r *KeyRing) Seal(plaintext, aad []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, nil
	}
	aead := r.aeads[r.primary]
	id := r.primary
	out := make([]byte, 0, 2+len(id)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, version, byte(len(id)))
	out = append(out, id...)
	nonceStart := len(out)
	out = out[:nonceStart+aead.NonceSize()]
	if _, err := rand.Read(out[nonceStart:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return aead.Seal(out, out[nonceStart:], plaintext, aad), nil
}

// Open decrypts a value made by Seal with the same aad. nil opens to nil.
func (r *KeyRing) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	id, rest, err := split(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := r.aeads[string(id)] // a map index by string(bytes) copies nothing
	if !ok {
		return nil, fmt.Errorf("%w (key id %q)", ErrUnknownKey, id)
	}
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrCorrupt
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], aad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// KeyID returns the id of the key a sealed value was sealed under.
func KeyID(sealed []byte) (string, error) {
	id, _, err := split(sealed)
	return string(id), err
}

func split(sealed []byte) (id, rest []byte, err error) {
	if len(sealed) < 2 || sealed[0] != version {
		return nil, nil, ErrCorrupt
	}
	n := int(sealed[1])
	if len(sealed) < 2+n {
		return nil, nil, ErrCorrupt
	}
	return sealed[2 : 2+n], sealed[2+n:], nil
}
