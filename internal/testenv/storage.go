package testenv

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// PostgresStorage is a storage section for the DSN, with the key file at keysFile (shared by
// every instance of a test, as operators share it).
func PostgresStorage(dsn, keysFile string) string {
	return fmt.Sprintf("storage:\n  driver: postgres\n  dsn: '%s'\n  keys_file: %s\n  max_conns: 8\n", dsn, keysFile)
}

// StartBrokerOn is StartBroker with the storage section given (any driver, the key file
// where it says): the real app (the code path of `serve`) on an httptest server. It returns
// the app and the broker's base URL.
func StartBrokerOn(t testing.TB, storageYAML, botsYAML string) (*app.App, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String()
	yaml := fmt.Sprintf("server:\n  public_url: %s\n  outbound_timeout: 5s\n%sbots:\n%s", publicURL, storageYAML, botsYAML)
	a := serveApp(t, srv, yaml, app.Options{Log: slog.New(slog.DiscardHandler)})
	return a, publicURL
}

// KeyRing reads the broker's token key ring from a key file.
func KeyRing(t testing.TB, path string) *seal.KeyRing {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.ParseKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	return keys.Ring
}

// SealAs seals value as the broker seals an identity's token field: the AAD (seal.TokenAAD)
// binds it to the identity's natural key and the field.
func SealAs(t testing.TB, ring *seal.KeyRing, in store.Identity, field, value string) []byte {
	t.Helper()
	sealed, err := ring.Seal([]byte(value), seal.TokenAAD(in.Bot, in.Channel, in.User, in.Provider, in.ProviderUserID, field))
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// CredentialsApp starts a broker on storage (StartBrokerOn) with 100 linked identities of bot
// alpha's provider gl whose tokens are good for a day, and returns its app, its URL and the
// identities' ids; keysDir makes the links' token hashes unique to it.
func CredentialsApp(t testing.TB, storage, keysDir string) (*app.App, string, []int64) {
	t.Helper()
	a, base := StartBrokerOn(t, storage, GlBot("http://127.0.0.1:1", ""))
	ring := KeyRing(t, a.Cfg.Storage.KeysFile)
	now := time.Now().UTC()
	var ids []int64
	for i := range 100 {
		in := store.Identity{Bot: "alpha", Channel: "slack", User: fmt.Sprint("U", i), Provider: "gl", ProviderUserID: fmt.Sprint(i),
			Name: "Ada", Status: store.StatusActive, Scopes: []string{"api"}, TokenType: "bearer", ExpiresAt: now.Add(24 * time.Hour)}
		in.AccessToken = SealAs(t, ring, in, "access_token", fmt.Sprint("at-", i))
		in.RefreshToken = SealAs(t, ring, in, "refresh_token", fmt.Sprint("rt-", i))
		l, err := a.Store.CreateLink(t.Context(), store.Link{TokenHash: []byte(fmt.Sprint(keysDir, i)), Bot: "alpha",
			Providers: []store.LinkProvider{{Provider: "gl"}}, Channel: "slack", User: in.User, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Store.CompleteLink(t.Context(), store.CompleteLinkParams{LinkID: l.ID, Identity: in, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got.Identity.ID)
	}
	return a, base, ids
}
