package server

import (
	"encoding/binary"
	"errors"

	"github.com/gorilla/securecookie"
)

// cookieSerializer is the securecookie.Serializer of the flow and page cookies, in place of
// securecookie's default gob: gob builds a fresh encoder and decoder, compiling both for the
// type, on every call, which cost more than the HMAC and AES around it. Both cookies carry
// strings only: the flow cookie a session whose Values map strings to strings (the flow as
// JSON under "flow"), the page cookie one string (its JSON). The format is a sequence of
// uvarint-length-prefixed strings: the value for a string, key and value pairs for a map.
// It is what gets signed and encrypted, exactly as gob's bytes were; securecookie checks the
// MAC before it decrypts and deserializes, so only bytes this broker serialized reach
// Deserialize, and it still refuses anything malformed.
//
// Cookies set before the broker used it hold gob: they no longer read as a flow or a page,
// so such a browser is asked to start again (a flow cookie lives 10 minutes; a page cookie
// is set again by the next visit to the page, and a form posted from a page loaded before
// the upgrade is refused once).
type cookieSerializer struct{}

var errCookieValue = errors.New("cookie: only strings and maps of strings are stored")

// Serialize encodes a string or a map of string keys to string values (what sessions hands
// over: map[any]any).
func (cookieSerializer) Serialize(src any) ([]byte, error) {
	switch v := src.(type) {
	case string:
		return []byte(v), nil
	case map[any]any:
		n := 0
		for k, x := range v {
			ks, ok1 := k.(string)
			xs, ok2 := x.(string)
			if !ok1 || !ok2 {
				return nil, errCookieValue
			}
			n += len(ks) + len(xs) + 2*binary.MaxVarintLen64
		}
		out := make([]byte, 0, n)
		for k, x := range v {
			out = appendString(out, k.(string))
			out = appendString(out, x.(string))
		}
		return out, nil
	}
	return nil, errCookieValue
}

// Deserialize decodes into a *string or a *map[any]any (filled in, made when nil).
func (cookieSerializer) Deserialize(src []byte, dst any) error {
	switch d := dst.(type) {
	case *string:
		*d = string(src)
		return nil
	case *map[any]any:
		m := *d
		if m == nil {
			m = map[any]any{}
		}
		for len(src) > 0 {
			k, rest, ok := cutString(src)
			if !ok {
				return errCookieValue
			}
			x, rest, ok := cutString(rest)
			if !ok {
				return errCookieValue
			}
			m[k] = x
			src = rest
		}
		*d = m
		return nil
	}
	return errCookieValue
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// cutString reads one length-prefixed string off the front of b.
func cutString(b []byte) (s string, rest []byte, ok bool) {
	n, size := binary.Uvarint(b)
	if size <= 0 || n > uint64(len(b)-size) {
		return "", nil, false
	}
	b = b[size:]
	return string(b[:n]), b[n:], true
}

// useCookieSerializer sets the serializer on every codec (all are securecookie's).
func useCookieSerializer(codecs []securecookie.Codec) {
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(cookieSerializer{})
		}
	}
}
