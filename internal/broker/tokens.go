package broker

import (
	"errors"

	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// tokenAAD binds a sealed token to the identity and field it belongs to (seal.TokenAAD), by
// the identity's natural key, known before the row exists.
func tokenAAD(id store.Identity, field string) []byte {
	return seal.TokenAAD(id.Bot, id.Channel, id.User, id.Provider, id.ProviderUserID, field)
}

func (b *Broker) sealToken(id store.Identity, field, value string) ([]byte, error) {
	sealed, err := b.ring.Current().Seal([]byte(value), tokenAAD(id, field))
	if err != nil {
		return nil, wrapError(err, CodeInternal, "sealing a token failed")
	}
	return sealed, nil
}

// openToken opens one sealed field. A value that cannot be opened is an error, never an
// empty or garbled token: losing the key must be loud.
func (b *Broker) openToken(id store.Identity, field string, sealed []byte) (string, error) {
	plain, err := b.ring.Current().Open(sealed, tokenAAD(id, field))
	if errors.Is(err, seal.ErrUnknownKey) && b.ring.Reload() == nil {
		// Sealed under a key added since this ring was read: `keys rotate` ran elsewhere.
		plain, err = b.ring.Current().Open(sealed, tokenAAD(id, field))
	}
	if err != nil {
		b.log.Error("token: cannot open a sealed token; was the key file replaced or lost?",
			"bot", id.Bot, "identity", id.ID, "field", field, "err", err)
		return "", wrapError(err, CodeTokenUnreadable,
			"the stored token of identity %d cannot be decrypted (the broker's key is missing or the data is damaged); the user must link again", id.ID)
	}
	return string(plain), nil
}
