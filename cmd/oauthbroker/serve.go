package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/logbuf"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/server"
	"github.com/oauthbroker/oauthbroker/internal/webhook"
)

func runServe(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "providers.yaml", "the providers.yaml to run")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	defLimits := server.DefaultLimits()
	flowLimit := fs.Int("flow-rate-limit", defLimits.FlowPerClient, "refused flow requests (unknown, spent, cancelled or expired links; missing or wrong state;\nthe connect page's form posted from another site or without its cookie) one client address\nmay make per minute before all its flow requests wait; page views and successful sign-ins\nnever count; 0: no limit")
	linkLimit := fs.Int("link-rate-limit", defLimits.LinksPerBot, "link-creating bot API calls (links, require) one bot may make per minute; 0: no limit")
	hookTimeout := fs.Duration("webhook-timeout", 10*time.Second, "how long one webhook delivery attempt may take; an event a crashed broker was\nsending is retried by another one this much (plus 5s) later")
	logBuffer := fs.Int("log-buffer", logbuf.DefaultSize, "bytes of log lines held before they are written; written sooner every -log-flush, at once after\na warning or an error, and on shutdown; 0: every line is written as it is logged")
	logFlush := fs.Duration("log-flush", logbuf.DefaultInterval, "the longest a log line waits in the buffer (what a crash can lose); 10ms to 1s")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) of the whole run to this file, finished on a clean stop; off by default")
	trustedProxies := fs.String("trusted-proxies", "", "comma-separated CIDR prefixes of the reverse proxies in front of the broker, whose X-Forwarded-For\nnames the client address for the rate limits and the admin login limit; empty: the TCP peer is the client")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: oauthbroker serve [flags]

Runs the broker from providers.yaml: the link flow (the connect page at /bots/{bot}/connect,
/bots/{bot}/{provider}/auth and /callback), the bot API at /api/v1, /healthz, /readyz and
/metrics (Prometheus; on server.metrics_listen when set, behind server.metrics_token when
set). It listens on server.listen and stops cleanly on SIGINT or SIGTERM (in-flight
requests get 15 seconds).

Keys: OAUTHBROKER_KEYS (JSON), or the key file storage.keys_file, created on first start.
Logs go to standard error and never contain tokens, secrets or codes.

Garbage collector: GOGC=400 and a soft memory limit of GOMEMLIMIT=64MiB, each unless set
in the environment (GOGC=100 and GOMEMLIMIT=off are Go's own defaults). The start-up line
shows what is in effect.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError{code: 2}
	}
	if *logBuffer < 0 || *logFlush < 10*time.Millisecond || *logFlush > time.Second {
		return exitError{code: 2, msg: "-log-buffer: 0 or more bytes; -log-flush: 10ms to 1s"}
	}
	logOut := stderr
	if *logBuffer > 0 {
		lw := logbuf.New(stderr, *logBuffer, *logFlush)
		// The last defer to run, on a return or a panic of serve's goroutine: every line
		// logged before it is out.
		defer lw.Close()
		logOut = lw
	}
	log, err := newLogger(logOut, *logFormat, *logLevel)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return exitError{code: 1, msg: "-cpuprofile: " + err.Error()}
		}
		defer stop()
	}
	// What the runtime had, given back on return for callers that run serve in-process (tests).
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(gcPercentNow())
	gcPercent, gcLimit := gcSettings(getenv)
	limits := server.Limits{FlowPerClient: max(*flowLimit, 0), LinksPerBot: max(*linkLimit, 0)}
	for p := range strings.SplitSeq(*trustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			limits.TrustedProxies = append(limits.TrustedProxies, p)
		}
	}
	if err := limits.Validate(); err != nil {
		return exitError{code: 2, msg: "-trusted-proxies: " + err.Error()}
	}
	cfg, err := config.Load(*configPath, config.LoadOptions{Getenv: getenv, Types: providers.Types()})
	if err != nil {
		return exitError{code: 1, msg: err.Error() + "\n(run 'oauthbroker check' to list every problem)"}
	}
	for _, b := range cfg.Bots {
		for _, p := range b.Providers {
			if p.Type == "sandbox" {
				return exitError{code: 1, msg: fmt.Sprintf("%s:%d: bots.%s.providers.%s.type: the sandbox provider runs only under 'oauthbroker demo'; remove it for serve",
					cfg.File, p.Line, b.Name, p.Name)}
			}
		}
	}
	if *hookTimeout < time.Second || *hookTimeout > 5*time.Minute {
		return exitError{code: 2, msg: "-webhook-timeout: use 1s to 5m"}
	}
	a, err := app.Open(ctx, cfg, app.Options{Getenv: getenv, Log: log, Limits: &limits, Webhooks: webhook.Options{Timeout: *hookTimeout}})
	if err != nil {
		return err
	}
	defer func() {
		if err := a.Store.Close(); err != nil {
			log.Error("closing the store failed; the next start recovers what it holds", "err", err)
		}
	}()
	// Webhook delivery runs on through the HTTP drain (events of the last callbacks go out
	// too) and is stopped, and waited for, before the store closes.
	defer a.StartBackground(context.WithoutCancel(ctx))()
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (server.listen): %w", cfg.Server.Listen, err)
	}
	for _, b := range cfg.Bots {
		if b.Confirm == config.ConfirmNone {
			log.Warn(confirmNoneWarning(b.Name))
		}
	}
	log.Info("oauthbroker serving", "listen", ln.Addr().String(), "public_url", cfg.Server.PublicURL, "bots", len(cfg.Bots),
		"gogc", gcPercent, "gomemlimit", memoryLimitText(gcLimit))
	stopMetrics, err := serveMetrics(a, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	return serveUntilDone(ctx, app.HTTPServer(a.Handler, cfg), ln, log)
}

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// serveMetrics serves /metrics on server.metrics_listen when it is set (and nothing else
// there), or warns when /metrics is open to everyone who reaches server.listen.
func serveMetrics(a *app.App, log *slog.Logger) (stop func(), err error) {
	addr := a.Cfg.Server.MetricsListen
	if addr == "" {
		if a.Cfg.Server.MetricsToken == "" {
			log.Warn("/metrics answers anyone who reaches server.listen and names every bot and provider: set server.metrics_listen or server.metrics_token (docs/DEPLOY.md)")
		}
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (server.metrics_listen): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics served on their own listener", "metrics_listen", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// serveUntilDone serves until ctx ends, then stops accepting and lets in-flight requests
// finish within a deadline.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
