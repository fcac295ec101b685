package seal

import (
	"bytes"
	"testing"
)

// TestTokenAADFormat pins the bytes of the AAD: every token in every store was sealed with
// them, so a change here would make them all unreadable.
func TestTokenAADFormat(t *testing.T) {
	got := TokenAAD("supportbot", "slack", "U0123456", "github", "1234567", "access_token")
	want := []byte("oauthbroker/token/v1\x00supportbot\x00slack\x00U0123456\x00github\x001234567\x00access_token\x00")
	if !bytes.Equal(got, want) {
		t.Fatalf("TokenAAD = %q, want %q", got, want)
	}
	// The NUL separators keep parts from sliding into each other.
	if bytes.Equal(TokenAAD("ab", "c", "u", "p", "1", "f"), TokenAAD("a", "bc", "u", "p", "1", "f")) {
		t.Fatal("two different identities have the same AAD")
	}
}
