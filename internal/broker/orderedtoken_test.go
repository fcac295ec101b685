package broker

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// TestOrderedTokensKeyInCreationOrder: a link token or flow state is 40 bytes of base64url,
// its key in the store the creation time followed by the token's SHA-256, so keys made later
// sort later; tokens made at the same instant still differ in their 32 random bytes.
func TestOrderedTokensKeyInCreationOrder(t *testing.T) {
	base := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	urlSafe := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	var prevKey []byte
	seen := map[string]bool{}
	for i := range 200 {
		at := base.Add(time.Duration(i/2) * time.Microsecond) // two tokens per instant
		tok := newOrderedToken(at)
		if len(tok) != orderedTokenLen || !urlSafe.MatchString(tok) || seen[tok] {
			t.Fatalf("token %d: %q (length %d, want %d, unreserved URL characters, never seen)", i, tok, len(tok), orderedTokenLen)
		}
		seen[tok] = true
		key := tokenKey(tok)
		sum := sha256.Sum256([]byte(tok))
		if len(key) != 8+sha256.Size || !bytes.Equal(key[8:], sum[:]) {
			t.Fatalf("key of %q = %x, want 8 bytes of time then %x", tok, key, sum)
		}
		if at.UnixNano() != int64(binary.BigEndian.Uint64(key[:8])) {
			t.Fatalf("key of %q starts with %x, not the creation time %d", tok, key[:8], at.UnixNano())
		}
		if i%2 == 0 && prevKey != nil && bytes.Compare(prevKey, key) >= 0 {
			t.Fatalf("key %d (%x) does not sort after the key made before it (%x)", i, key, prevKey)
		}
		prevKey = key
	}
}

// TestTokenKeyOfOtherTokens: a token of 32 random bytes (a link made before tokens were
// ordered) keys to its SHA-256 alone, as that release stored it; so does anything that is not
// an ordered token, whatever its length, so it can only miss.
func TestTokenKeyOfOtherTokens(t *testing.T) {
	ordered := newOrderedToken(time.Now())
	for _, tok := range []string{
		randomToken(32), "", "x", ordered[:53], ordered + "A", ordered[:53] + "!", ordered[:53] + "=",
		base64.StdEncoding.EncodeToString(make([]byte, 40))[:orderedTokenLen-1] + "+",
	} {
		sum := sha256.Sum256([]byte(tok))
		if got := tokenKey(tok); !bytes.Equal(got, sum[:]) {
			t.Errorf("tokenKey(%q) = %x, want its SHA-256 %x", tok, got, sum)
		}
	}
}

// TestFlowStartedBeforeOrderedStatesCompletes: a sign-in begun by the release before ordered
// states (32 random bytes, stored as their SHA-256 alone) and answered by the provider after
// the upgrade completes, for OAuth 2 (the state comes back) and OAuth 1.0a (it does not); it
// is consumed once.
func TestFlowStartedBeforeOrderedStatesCompletes(t *testing.T) {
	for _, provider := range []string{"sb", "tw"} {
		t.Run(provider, func(t *testing.T) {
			b := newSecBroker(t)
			fs, q := b.begin(t, provider, "U1")
			link, err := b.store.LinkByTokenHash(t.Context(), tokenKey(fs.Link))
			if err != nil {
				t.Fatal(err)
			}
			// The flow as the old release stored it: the same sign-in, under an old state.
			old := randomToken(32)
			sum := sha256.Sum256([]byte(old))
			if err := b.store.CreateFlow(t.Context(), store.Flow{StateHash: sum[:], LinkID: link.ID,
				CreatedAt: time.Now().UTC(), ExpiresAt: fs.ExpiresAt}); err != nil {
				t.Fatal(err)
			}
			fs.State = old
			if q.Has("state") {
				q.Set("state", old)
			}
			done, err := b.CompleteAuth(t.Context(), "alpha", provider, &fs, q)
			if err != nil || done.Identity.ID == 0 || !done.LinkComplete {
				t.Fatalf("the old flow's callback: %+v, %v", done, err)
			}
			if _, err := b.CompleteAuth(t.Context(), "alpha", provider, &fs, q); ErrorCode(err) != CodeFlowInvalid {
				t.Errorf("the same callback again: %v, want %s", err, CodeFlowInvalid)
			}
		})
	}
}
