package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// credential is the one admin password, from the configuration (a bcrypt hash) or from the
// environment (the password itself).
type credential struct {
	hash     []byte // bcrypt; nil for an environment password
	password []byte // SHA-256 of the environment password
	// id names this credential in the sessions it opens (a keyed hash, not the password):
	// when the password changes, the sessions opened with the old one stop working.
	id []byte
}

func newCredential(hash, password string, key []byte) (*credential, error) {
	switch {
	case hash != "" && password != "":
		return nil, errors.New("admin: both admin.password_hash and OAUTHBROKER_ADMIN_PASSWORD are set; keep one")
	case hash != "":
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil, errors.New("admin: admin.password_hash is not a bcrypt hash")
		}
		if cost < config.MinBcryptCost {
			return nil, fmt.Errorf("admin: admin.password_hash has bcrypt cost %d, below %d", cost, config.MinBcryptCost)
		}
		return &credential{hash: []byte(hash), id: mac(key, "credential", hash)}, nil
	case password != "":
		sum := sha256.Sum256([]byte(password))
		return &credential{password: sum[:], id: mac(key, "credential", string(sum[:]))}, nil
	}
	return nil, nil
}

// check reports whether password is the admin password. bcrypt is slow by design; the
// environment password is compared in constant time through its hash, so neither its length
// nor a matching prefix shows in the timing.
func (c *credential) check(password string) bool {
	if c.hash != nil {
		return bcrypt.CompareHashAndPassword(c.hash, []byte(password)) == nil
	}
	sum := sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(sum[:], c.password) == 1
}

// mac is HMAC-SHA256 of the parts under key, each part closed by a zero byte so that no two
// lists of parts run together into the same input.
func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}
