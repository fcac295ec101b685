package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// StartBrokerOn is StartBroker with the storage section given (any driver, the key file
// where it says): the real app (the code path of `serve`) on an httptest server. It returns
// the app and the broker's base URL.
func StartBrokerOn(t testing.TB, storageYAML, botsYAML string) (*app.App, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	publicURL := "http://" + srv.Listener.Addr().String()
	yaml := fmt.Sprintf("server:\n  public_url: %s\n  outbound_timeout: 5s\n%sbots:\n%s", publicURL, storageYAML, botsYAML)
	noEnv := func(string) (string, bool) { return "", false }
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.LoadOptions{Getenv: noEnv, Types: providers.Types()})
	if err != nil {
		t.Fatalf("config:\n%v\n--- yaml:\n%s", err, yaml)
	}
	a, err := app.Open(context.Background(), cfg, app.Options{Getenv: noEnv, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("app.Open: %v", err)
	}
	srv.Config.Handler = a.Handler
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		a.Store.Close()
	})
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
