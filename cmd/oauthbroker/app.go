package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/templates"
)

// app is one running broker: everything serve and demo share.
type app struct {
	cfg     *config.Config
	store   store.Store
	broker  *broker.Broker
	handler http.Handler
}

type appOptions struct {
	getenv     func(string) (string, bool)
	log        *slog.Logger
	sandboxURL string           // demo only
	mount      func(chi.Router) // demo only
	now        func() time.Time // tests move the clock; nil: time.Now
}

// openApp wires config → keys → store → providers → broker → HTTP, in that order, and
// fails before listening if any piece is missing.
func openApp(ctx context.Context, cfg *config.Config, opts appOptions) (*app, error) {
	keys, err := loadKeys(cfg, opts.getenv, opts.log)
	if err != nil {
		return nil, err
	}
	pages, err := templates.Parse()
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// goth falls back to http.DefaultClient where it ignores the client we inject; give that
	// fallback a deadline too, so no outbound call can hang a request forever.
	providers.GuardDefaultClient(cfg.Server.OutboundTimeout)
	reg, err := providers.NewRegistry(ctx, cfg, providers.Options{
		HTTPClient: &http.Client{Timeout: cfg.Server.OutboundTimeout},
		SandboxURL: opts.sandboxURL,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	b := broker.New(cfg, reg, st, keys, broker.Options{Logger: opts.log, Now: opts.now})
	h := server.New(server.Deps{Broker: b, Pages: pages, Keys: keys, Logger: opts.log, Mount: opts.mount})
	return &app{cfg: cfg, store: st, broker: b, handler: h}, nil
}

func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Storage.Driver {
	case "sqlite":
		st, err := sqlite.Open(ctx, cfg.Storage.DSN)
		if err != nil {
			return nil, fmt.Errorf("open the SQLite store %s: %w", cfg.Storage.DSN, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("%s: storage.driver %q is not available in this version; use sqlite", cfg.File, cfg.Storage.Driver)
}

// loadKeys takes the broker's keys from OAUTHBROKER_KEYS, or from the key file, creating it
// on first start and saying so once: losing it must never go unnoticed.
func loadKeys(cfg *config.Config, getenv func(string) (string, bool), log *slog.Logger) (seal.Keys, error) {
	if raw, ok := getenv("OAUTHBROKER_KEYS"); ok && strings.TrimSpace(raw) != "" {
		keys, err := seal.ParseKeys([]byte(raw))
		if err != nil {
			return seal.Keys{}, fmt.Errorf("OAUTHBROKER_KEYS: %w", err)
		}
		return keys, nil
	}
	keys, created, err := seal.LoadOrCreateKeyFile(cfg.Storage.KeysFile, time.Now())
	if err != nil {
		return seal.Keys{}, err
	}
	if created {
		log.Warn("created a new key file for token encryption and cookies; back it up with the database — without it stored tokens cannot be read",
			"path", cfg.Storage.KeysFile)
	}
	return keys, nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: use debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("-log-format %q: use text or json", format)
}

// httpServer bounds every phase of a request, so slow clients cannot hold connections open.
// The write timeout leaves room for the slowest callback: two provider calls.
func httpServer(h http.Handler, cfg *config.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2*cfg.Server.OutboundTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
