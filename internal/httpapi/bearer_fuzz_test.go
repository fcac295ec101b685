package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

const fuzzKey = "key-of-bot-a-0123456789"

// FuzzBearerToken: whatever the Authorization header, BearerToken returns either nothing or
// exactly the one token after "Bearer " (any case) — visible ASCII, at most 512 bytes, no
// spaces — and the API opens bot a only for exactly its key. Seeds: testdata/fuzz/FuzzBearerToken.
// Run: go test -fuzz=FuzzBearerToken ./internal/httpapi/
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{
		"Bearer " + fuzzKey, "bearer " + fuzzKey, "BEARER " + fuzzKey, "Bearer  " + fuzzKey, "Bearer " + fuzzKey + " ",
		"Bearer\t" + fuzzKey, "Basic " + fuzzKey, fuzzKey, "", "Bearer", "Bearer ", "Bearer " + fuzzKey + "\x00",
		"Bearer " + fuzzKey[:len(fuzzKey)-1], "Bearer " + strings.ToUpper(fuzzKey), "Bearer\u00a0" + fuzzKey,
		"Bearer " + strings.Repeat("k", 513), "Bearer key,Bearer " + fuzzKey,
	} {
		f.Add(s)
	}
	h := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := BearerToken(header)
		if !ok {
			if token != "" {
				t.Fatalf("BearerToken(%q) refused but returned %q", header, token)
			}
		} else {
			scheme, rest, _ := strings.Cut(header, " ")
			if !strings.EqualFold(scheme, "Bearer") || rest != token || token == "" || len(token) > 512 {
				t.Fatalf("BearerToken(%q) = %q: not the one token after the scheme", header, token)
			}
			for i := 0; i < len(token); i++ {
				if c := token[i]; c <= ' ' || c >= 0x7f {
					t.Fatalf("BearerToken(%q) = %q: byte %#x", header, token, c)
				}
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/bots/a/identities?channel=c&user=u", nil)
		req.Header["Authorization"] = []string{header} // as sent, not canonicalised
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		want := http.StatusUnauthorized
		if ok && token == fuzzKey {
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Fatalf("Authorization %q: %d, want %d", header, rec.Code, want)
		}
	})
}

// fuzzAPI is the bot API of one bot "a" (key fuzzKey, provider "gh") on an in-memory store.
func fuzzAPI(f *testing.F) http.Handler { return fuzzAPIOf(f) }

func fuzzAPIOf(f testing.TB) http.Handler {
	cfg := &config.Config{
		Server: config.Server{PublicURL: "https://broker.test", OutboundTimeout: time.Second, LinkTTL: 10 * time.Minute, MaxLinkTTL: time.Hour},
		Bots: []*config.Bot{{Name: "a", APIKeys: []string{fuzzKey},
			Providers: []*config.Provider{{Name: "gh", Type: "github", Key: "k", Secret: "s"}}}},
	}
	reg, err := providers.NewRegistry(context.Background(), cfg, providers.Options{HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		f.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		f.Fatal(err)
	}
	return New(broker.New(cfg, reg, st, keys, broker.Options{}), Options{Logger: slog.New(slog.DiscardHandler)})
}
