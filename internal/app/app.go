// Package app wires one broker: config → keys → store → providers → broker → HTTP (the bot
// API, the connect pages, the admin pages, MCP, /metrics), the webhook delivery loop and the
// retention janitor. The serve and demo commands run it, and the tests start it through
// internal/testenv, so both exercise the same wiring.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/admin"
	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/janitor"
	"github.com/oauthbroker/oauthbroker/internal/metrics"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/internal/webhook"
	"github.com/oauthbroker/oauthbroker/templates"
)

// App is one running broker: everything serve and demo share.
type App struct {
	Cfg      *config.Config
	Store    store.Store
	Broker   *broker.Broker
	Handler  http.Handler
	Metrics  http.Handler // /metrics, for its own listener when server.metrics_listen is set
	Webhooks *webhook.Deliverer
	Janitor  *janitor.Janitor
}

// Options are what the commands and the tests choose; the zero value of each field is the
// serve default.
type Options struct {
	Getenv      func(string) (string, bool)
	Log         *slog.Logger
	SandboxURL  string           // demo only
	Mount       func(chi.Router) // demo only
	Now         func() time.Time // tests move the clock; nil: time.Now
	Webhooks    webhook.Options  // tests shorten the delivery loop's poll and back-off
	RefreshWait time.Duration    // tests shorten how long a read waits for a refresh
	Limits      *server.Limits   // rate limits; nil: server.DefaultLimits()
	Janitor     janitor.Options  // tests shorten the retention janitor's interval and pause
}

// KeyRingCheck is how often a running broker looks at its key file for a rotated key.
const KeyRingCheck = time.Second

// Open wires config → keys → store → providers → broker → HTTP, in that order, and
// fails before listening if any piece is missing.
func Open(ctx context.Context, cfg *config.Config, opts Options) (*App, error) {
	keys, err := loadKeys(cfg, opts.Getenv, opts.Log)
	if err != nil {
		return nil, err
	}
	pages, err := templates.Parse()
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// goth falls back to http.DefaultClient where it ignores the client we inject; give that
	// fallback a deadline too, so no outbound call can hang a request forever.
	providers.GuardDefaultClient(cfg.Server.OutboundTimeout)
	reg, err := providers.NewRegistry(ctx, cfg, providers.Options{
		HTTPClient: &http.Client{Timeout: cfg.Server.OutboundTimeout},
		SandboxURL: opts.SandboxURL,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	// Everything sees the store through the metrics decorator (the broker, the delivery loop,
	// the admin pages and the janitor), which counts store errors, refresh outcomes and
	// webhook deliveries as they are written.
	met := metrics.New()
	observed := met.Store(st)
	whOpts := opts.Webhooks
	whOpts.Logger, whOpts.Now = opts.Log, opts.Now
	hooks := webhook.New(observed, webhookTargets(cfg), whOpts)
	b := broker.New(cfg, reg, observed, keys, broker.Options{Logger: opts.Log, Now: opts.Now,
		Ring: seal.NewFileRing(keysPath(cfg, opts.Getenv), keys.Ring, KeyRingCheck), EventQueued: hooks.Wake,
		RefreshWait: opts.RefreshWait})
	adm, err := adminPages(cfg, b, observed, pages, keys, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	limits := server.DefaultLimits()
	if opts.Limits != nil {
		limits = *opts.Limits
	}
	h := server.New(server.Deps{Broker: b, Pages: pages, Keys: keys, Logger: opts.Log, Mount: opts.Mount, Admin: adm,
		Metrics: met, Limits: limits, Now: opts.Now, MetricsToken: cfg.Server.MetricsToken, MetricsElsewhere: cfg.Server.MetricsListen != ""})
	jOpts := opts.Janitor
	jOpts.Retention, jOpts.Logger, jOpts.Now, jOpts.Observer = cfg.Storage.Retention, opts.Log, opts.Now, met
	return &App{Cfg: cfg, Store: st, Broker: b, Handler: h, Metrics: h.MetricsHandler(), Webhooks: hooks,
		Janitor: janitor.New(observed, jOpts)}, nil
}

// StartBackground starts the webhook delivery loop and the retention janitor. stop ends them
// and waits for them and for refreshes still running, so that the store can be closed after.
func (a *App) StartBackground(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.Webhooks.Run(ctx) })
	wg.Go(func() { a.Janitor.Run(ctx) })
	return func() { cancel(); wg.Wait(); a.Broker.Drain() }
}

func webhookTargets(cfg *config.Config) map[string]webhook.Target {
	out := map[string]webhook.Target{}
	for _, b := range cfg.Bots {
		if b.WebhookURL != "" {
			out[b.Name] = webhook.Target{URL: b.WebhookURL, Secret: b.WebhookSecret}
		}
	}
	return out
}

// keysPath is the key file the keys came from, "" when they came from OAUTHBROKER_KEYS.
func keysPath(cfg *config.Config, getenv func(string) (string, bool)) string {
	if raw, ok := getenv("OAUTHBROKER_KEYS"); ok && strings.TrimSpace(raw) != "" {
		return ""
	}
	return cfg.Storage.KeysFile
}

// adminPages builds the operators' pages, with the password from providers.yaml or
// OAUTHBROKER_ADMIN_PASSWORD (without either they only say how to set one).
func adminPages(cfg *config.Config, b *broker.Broker, st store.Store, pages *templates.Pages, keys seal.Keys, opts Options) (*admin.Handler, error) {
	password, _ := opts.Getenv("OAUTHBROKER_ADMIN_PASSWORD")
	return admin.New(admin.Options{Broker: b, Store: st, Pages: pages, Keys: keys,
		PasswordHash: cfg.Admin.PasswordHash, Password: password, Logger: opts.Log, Now: opts.Now})
}

// OpenStore opens the store storage.driver names (the keys command opens it without a broker).
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Storage.Driver {
	case "sqlite":
		st, err := sqlite.Open(ctx, cfg.Storage.DSN)
		if err != nil {
			return nil, fmt.Errorf("open the SQLite store %s: %w", cfg.Storage.DSN, err)
		}
		return st, nil
	case "postgres":
		// Several instances may start at once: Open migrates under an advisory lock. The DSN is
		// never quoted: it usually carries the database password.
		st, err := postgres.Open(ctx, cfg.Storage.DSN, postgres.Options{MaxConns: cfg.Storage.MaxConns})
		if err != nil {
			return nil, fmt.Errorf("open the PostgreSQL store (storage.dsn in %s): %w", cfg.File, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("%s: storage.driver %q is not available in this version; use sqlite or postgres", cfg.File, cfg.Storage.Driver)
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

// HTTPServer bounds every phase of a request, so slow clients cannot hold connections open.
// The write timeout leaves room for the slowest callback: two provider calls.
func HTTPServer(h http.Handler, cfg *config.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2*cfg.Server.OutboundTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
