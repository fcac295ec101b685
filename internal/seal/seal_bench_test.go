package seal_test

import (
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/seal"
)

// A GitHub-sized access token and the broker's kind of associated data (bot, channel, user,
// provider, account, field). Compare runs with benchstat.
var (
	benchToken = []byte("gho_16C7e42F292c6912E7710c838347Ae178B4a")
	benchAAD   = []byte("oauthbroker/token/v1\x00supportbot\x00slack\x00U0123456\x00github\x001234567\x00access_token\x00")
)

func benchRing(b *testing.B) *seal.KeyRing {
	b.Helper()
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return keys.Ring
}

func BenchmarkSeal(b *testing.B) {
	ring := benchRing(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ring.Seal(benchToken, benchAAD); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	ring := benchRing(b)
	sealed, err := ring.Seal(benchToken, benchAAD)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ring.Open(sealed, benchAAD); err != nil {
			b.Fatal(err)
		}
	}
}
