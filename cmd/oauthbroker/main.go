// Command oauthbroker runs the OAuth broker for chat bots.
//
// main only calls run, which takes everything from the outside world as arguments, so the
// tests start the real command's code path.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/oauthbroker/oauthbroker/internal/providers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	providers.KeepConnections(64)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	var exit exitError
	if errors.As(err, &exit) {
		if exit.msg != "" {
			fmt.Fprintln(os.Stderr, exit.msg)
		}
		os.Exit(exit.code)
	}
	fmt.Fprintln(os.Stderr, "oauthbroker:", err)
	os.Exit(1)
}

// exitError carries an exit status and a message already fit for the user.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

const usage = `oauthbroker — an OAuth broker for chat bots: users link Twitter, GitHub, Google, Slack, …
accounts to a bot; the bot gets fresh credentials through a JSON API.

Usage:
  oauthbroker demo  [flags]   run a self-contained demo: broker + sandbox OAuth provider, no secrets needed
  oauthbroker serve [flags]   run the broker from providers.yaml
  oauthbroker check [flags] [FILE]
                              validate a providers.yaml and list every problem as file:line: field: what is wrong
  oauthbroker providers [-json] [TYPE...]
                              list every provider type: protocol, refresh, revocation, API base, docs
  oauthbroker keys list|rotate|retire [flags]
                              show, rotate (re-encrypting every stored token) or retire token encryption keys
  oauthbroker migrate-store --from sqlite:PATH --to postgres://…
                              copy an SQLite store into PostgreSQL, to run several instances behind a load balancer

Run 'oauthbroker COMMAND -help' for a command's flags.

Environment:
  OAUTHBROKER_KEYS            the broker's keys as JSON (the content of a key file); without it,
                              the key file named by storage.keys_file is used, and created on first start
  OAUTHBROKER_ADMIN_PASSWORD  the admin pages' password, when providers.yaml has no admin.password_hash
                              (without either, /admin/ only says how to set one)
  (providers.yaml may read any variable as ${VAR} or ${VAR:-default})
`

// run dispatches a subcommand.
func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{code: 2}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], getenv, stdout, stderr)
	case "check":
		return runCheck(args[1:], getenv, stdout, stderr)
	case "providers":
		return runProviders(args[1:], stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], getenv, stdout, stderr)
	case "migrate-store":
		return runMigrateStore(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "oauthbroker: unknown command %q\n\n%s", args[0], usage)
	return exitError{code: 2}
}
