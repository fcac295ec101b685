// Command oauthbroker-bench measures the broker's hot path (the credentials read), its lookups
// and its burst path (link creation and complete link flows) against a bare net/http handler
// in the same run, on this machine. One invocation, no setup:
//
//	go run ./cmd/oauthbroker-bench                 # 1,000,000 identities, concurrency 64, 10 s per test
//	go run ./cmd/oauthbroker-bench -n 20000 -duration 1s -concurrency 8   # a smoke run
//	go run ./cmd/oauthbroker-bench -duration 8s -rounds 5   # each test five times, the median round shown
//
// It seeds a fresh SQLite store (or, -store, a PostgreSQL database) with openable sealed
// tokens, or fills an empty one through real link flows (-fill flows); builds the real
// oauthbroker binary and starts it with `serve` on a generated config and key file, starts the
// fake OAuth 2 and OAuth 1.0a providers and a bare handler (this binary again, with a hidden
// -role; it also serves a bare flow, the flow's requests and provider calls without the
// broker's work), drives each with the same keep-alive load generator, and prints one table
// with ratios to the bare handler.
// Every server is its own process, so its CPU time and peak RSS are read from /proc for it alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -help asked for the usage, which was printed
		}
		fmt.Fprintln(os.Stderr, "oauthbroker-bench:", err)
		os.Exit(1)
	}
}

// options are the bench's flags.
type options struct {
	n           int
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	dir         string
	brokerBin   string
	tests       string
	keep        bool
	cpuProfile  string
	store       string
	fill        string
	rounds      int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("oauthbroker-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.n, "n", 1_000_000, "identities to seed")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent keep-alive clients per test")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per test and target")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each test")
	fs.StringVar(&o.dir, "dir", "", "directory for the store, key file and config; an existing seeded store there is reused (default: a temporary directory, deleted at the end)")
	fs.StringVar(&o.brokerBin, "broker", "", "the oauthbroker binary to measure (default: built from ./cmd/oauthbroker of the current module)")
	fs.StringVar(&o.tests, "tests", "credentials,identities,links,flows", "the tests to run, comma-separated")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
	fs.StringVar(&o.store, "store", "sqlite", "the broker's store: sqlite (in -dir), or a postgres:// URL of a server on which the bench creates (and recreates) its own database "+benchDatabase+"[_fresh]")
	fs.StringVar(&o.fill, "fill", "seed", "how the store gets its -n identities: seed (rows written straight into the database, sealed tokens openable, with the spent links of the last days: 10,000, or -n when fewer) or flows (a fresh store, filled by -n complete Twitter link flows through the running broker)")
	fs.IntVar(&o.rounds, "rounds", 1, "how many times each test runs, its baseline and the broker in turn (bare, broker, bare, broker, …); the table shows each test's round with the median ratio, and a line per test lists every round's")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "have the broker write a CPU profile of the whole run to this file (serve -cpuprofile), for go tool pprof")
	role := fs.String("role", "", "internal: run as the bare handler and bare flow (bare) or the fake providers (fakes)")
	roleArg := fs.String("role-arg", "", "internal: the role's argument")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./cmd/oauthbroker-bench [flags]

Measures the broker against a bare net/http handler answering a body of the same size, in
the same run, on this machine: GET credentials over random identities, GET identities of
one user, POST links, and complete link flows against the fake OAuth 2 and OAuth 1.0a
providers. Each flow also runs against the fake alone (the provider's own cost) and through
a bare flow, which makes the flow's requests and provider calls and nothing else: the floor
of any server of the same flow. It seeds a SQLite store (a million identities take about a
minute) or, with -store, a PostgreSQL database of its own, or with -fill flows fills a
fresh store through real Twitter link flows; builds and starts the real broker with
'serve', and prints one table: req/s, p50/p90/p99, ratios to the bare handler, CPU per
request and peak RSS of each server process. With -rounds N each test runs N times, the
baseline and the broker in turn, and the table shows the round with the median ratio: on a
noisy machine one round can land either side of a target. Only loopback addresses are used;
every test runs for a fixed time and the whole run stops by itself (Ctrl-C stops it early).
docs/BENCHMARKS.md keeps the figures from this machine.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *role {
	case "bare":
		return runBare(ctx, *roleArg, stdout)
	case "fakes":
		return runFakes(ctx, *roleArg, stdout)
	case "":
	default:
		return fmt.Errorf("unknown -role %q", *role)
	}
	if o.n < 1 || o.concurrency < 1 || o.duration <= 0 || o.rounds < 1 {
		return errors.New("-n, -concurrency, -duration and -rounds must be positive")
	}
	if o.fill != "seed" && o.fill != "flows" {
		return errors.New("-fill: seed or flows")
	}
	return bench(ctx, o, stdout, stderr)
}
