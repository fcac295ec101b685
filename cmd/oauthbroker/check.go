package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
)

func runCheck(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "providers.yaml", "the providers.yaml to check (or give it as the argument)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: oauthbroker check [-config FILE | FILE]

Validates a providers.yaml without starting anything: syntax, unknown keys, provider types,
required fields, URLs, and every ${VAR} against the current environment. Every problem is
listed at once as file:line: field: what is wrong. For a valid file it prints, per provider,
what runs it, the callback URL to register at the provider and where the provider registers
apps. Exit status 0 when the file is valid, 1 when it has problems, 2 for bad usage.

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
	path := *configPath
	switch fs.NArg() {
	case 0:
	case 1:
		path = fs.Arg(0)
	default:
		fs.Usage()
		return exitError{code: 2}
	}
	cfg, err := config.Load(path, config.LoadOptions{Getenv: getenv, Types: providers.Types()})
	if err != nil {
		var probs *config.Problems
		if errors.As(err, &probs) {
			fmt.Fprintln(stdout, probs.Error())
			return exitError{code: 1, msg: fmt.Sprintf("%s: %d problem(s)", path, len(*probs))}
		}
		return exitError{code: 1, msg: err.Error()}
	}
	n := 0
	for _, b := range cfg.Bots {
		n += len(b.Providers)
	}
	fmt.Fprintf(stdout, "%s: ok (%d bot(s), %d provider(s))\n", path, len(cfg.Bots), n)
	for _, b := range cfg.Bots {
		for _, p := range b.Providers {
			r, _ := providers.LookupRecord(p.Type)
			fmt.Fprintf(stdout, "  %s/%s: type %s, run by %s\n", b.Name, p.Name, p.Type, r.ImplementationName())
			fmt.Fprintf(stdout, "    register this callback URL at %s: %s\n", or(r.Title, p.Name), cfg.CallbackURL(b.Name, p.Name))
			if r.Console != "" {
				fmt.Fprintf(stdout, "    where apps are registered: %s\n", r.Console)
			}
		}
	}
	for _, b := range cfg.Bots {
		if b.Confirm == config.ConfirmNone {
			fmt.Fprintln(stdout, confirmNoneWarning(b.Name))
		}
	}
	return nil
}

// confirmNoneWarning is the one line check prints (and serve logs) for a bot with
// confirm: none: what that setting lets happen.
func confirmNoneWarning(bot string) string {
	return fmt.Sprintf("warning: bot %s has confirm: none: whoever finishes one of its links (a forwarded link, or one another site opens in a victim's browser) links their account to the chat user who asked, with no code to prove it is that user", bot)
}
