package testenv

import (
	"os"

	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// ReadRing reads the key ring of a key file, as the keys command does.
func ReadRing(path string) (*seal.KeyRing, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := seal.ParseKeys(data)
	if err != nil {
		return nil, err
	}
	return keys.Ring, nil
}

// EventKinds are the kinds of an identity's history events, in order.
func EventKinds(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}
