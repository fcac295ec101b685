package providers_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
)

const publicURL = "https://broker.test"

// cfg builds a Config the way Load would, without a file.
func cfg(bots ...*config.Bot) *config.Config {
	return &config.Config{File: "providers.yaml", Server: config.Server{PublicURL: publicURL}, Bots: bots}
}

func bot(name string, ps ...*config.Provider) *config.Bot {
	return &config.Bot{Name: name, Providers: ps}
}

func callbackOf(bot, provider string) string {
	return publicURL + "/bots/" + bot + "/" + provider + "/callback"
}

// testTimeout keeps every provider call in the tests short.
const testTimeout = 3 * time.Second

func registry(t testing.TB, c *config.Config, opts providers.Options) *providers.Registry {
	t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: testTimeout}
	}
	r, err := providers.NewRegistry(context.Background(), c, opts)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	return r
}

// only builds a registry of one provider for bot "b" and returns it.
func only(t testing.TB, p *config.Provider, opts providers.Options) *providers.Provider {
	t.Helper()
	r := registry(t, cfg(bot("b", p)), opts)
	got, ok := r.Lookup("b", p.Name)
	if !ok {
		t.Fatalf("Lookup(b, %s) found nothing", p.Name)
	}
	return got
}

// wantUpstream fails unless err wraps ErrUpstream and its message holds none of secrets.
func wantUpstream(t testing.TB, err error, secrets ...string) {
	t.Helper()
	t.Logf("error: %v", err)
	if !errors.Is(err, providers.ErrUpstream) {
		t.Fatalf("error %v does not wrap ErrUpstream", err)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error message %q contains the secret %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "goroutine ") || strings.Contains(err.Error(), ".go:") {
		t.Fatalf("error message %q looks like a stack trace", err)
	}
}
