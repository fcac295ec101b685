package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

const keysUsage = `Usage: oauthbroker keys list   [-config FILE]
       oauthbroker keys rotate [-config FILE] [-batch N]
       oauthbroker keys retire [-config FILE] KEYID

Manages the key ring that encrypts stored tokens, in the key file (storage.keys_file), while
brokers keep serving from the same database and key file:

  list     every key, which one is primary, and how many stored values each one seals
  rotate   add a new primary key, then re-encrypt every stored value under it, in batches;
           running brokers pick the new key up from the key file within a second
  retire   remove an old key from the key file; refused while any value still uses it

Back the key file up after rotate and before retire: a value sealed under a key that is
gone cannot be read by anyone.

Flags:
`

// keysSettle is how long rotate waits after writing the new primary key before it
// re-encrypts: every running broker checks its key file once per app.KeyRingCheck, and must
// seal under the new key before the pass starts, or its writes would be left behind.
const keysSettle = 2 * app.KeyRingCheck

func runKeys(ctx context.Context, args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]) {
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	if len(args) == 0 || !slices.Contains([]string{"list", "rotate", "retire"}, args[0]) {
		fmt.Fprint(stderr, keysUsage)
		return exitError{code: 2}
	}
	verb := args[0]
	fs := flag.NewFlagSet("keys "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "providers.yaml", "the providers.yaml whose storage the keys protect")
	batch := fs.Int("batch", 200, "identities re-encrypted per batch (rotate)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), keysUsage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if (verb == "retire") != (fs.NArg() == 1) || fs.NArg() > 1 || *batch < 1 {
		fs.Usage()
		return exitError{code: 2}
	}
	if raw, ok := getenv("OAUTHBROKER_KEYS"); ok && strings.TrimSpace(raw) != "" {
		return exitError{code: 1, msg: "oauthbroker keys: OAUTHBROKER_KEYS is set; rotation edits the key file, which running brokers follow. " +
			"Move the keys into storage.keys_file (and unset OAUTHBROKER_KEYS) to rotate while serving; see \"Keys and rotation\" in docs/OPERATIONS.md"}
	}
	cfg, err := config.Load(*configPath, config.LoadOptions{Getenv: getenv, Types: providers.Types()})
	if err != nil {
		return exitError{code: 1, msg: err.Error() + "\n(run 'oauthbroker check' to list every problem)"}
	}
	path := cfg.Storage.KeysFile
	if _, err := os.Stat(path); err != nil {
		return exitError{code: 1, msg: fmt.Sprintf("oauthbroker keys: no key file at %s (storage.keys_file): %v", path, err)}
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "list":
		return keysList(ctx, st, path, stdout)
	case "rotate":
		return keysRotate(ctx, st, path, *batch, stdout)
	}
	return keysRetire(ctx, st, path, fs.Arg(0), stdout)
}

func readRing(path string) (*seal.KeyRing, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	keys, err := seal.ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys.Ring, nil
}

func keysList(ctx context.Context, st store.Store, path string, stdout io.Writer) error {
	ring, err := readRing(path)
	if err != nil {
		return err
	}
	counts, err := broker.CountByKey(ctx, st, 500)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tPRIMARY\tSEALED VALUES")
	for _, id := range ring.IDs() {
		primary := ""
		if id == ring.Primary() {
			primary = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", id, primary, counts[id])
		delete(counts, id)
	}
	for _, id := range sortedKeys(counts) {
		fmt.Fprintf(tw, "%s\tMISSING FROM THE KEY FILE\t%d\n", or(id, "(unreadable)"), counts[id])
	}
	return tw.Flush()
}

func keysRotate(ctx context.Context, st store.Store, path string, batch int, stdout io.Writer) error {
	id, err := seal.AddPrimaryKey(path, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Added key %s to %s as the primary key: new tokens are sealed under it.\n", id, path)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(keysSettle):
	}
	// Passes until one finds nothing left: a value a refresh rewrote during a pass (a CAS
	// conflict) is picked up by the next one.
	var last broker.ResealStats
	for pass := 1; ; pass++ {
		ring, err := readRing(path)
		if err != nil {
			return err
		}
		if ring.Primary() != id {
			return fmt.Errorf("the key file's primary key changed to %s while rotating to %s; run rotate again", ring.Primary(), id)
		}
		last, err = broker.Reseal(ctx, st, ring, batch)
		if err != nil {
			return fmt.Errorf("re-encrypting (pass %d): %w", pass, err)
		}
		fmt.Fprintf(stdout, "Pass %d: %d identities read, %d values re-encrypted, %d changed meanwhile (retried next pass).\n",
			pass, last.Scanned, last.Resealed, last.Conflicts)
		if last.Done() {
			break
		}
		if pass == 20 {
			return errors.New("values keep changing under the re-encryption; run rotate again later")
		}
	}
	if n := sum(last.Unreadable); n > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d stored values cannot be opened with any key in %s (sealed under %s): they were left as they are; "+
			"restore the key they name, or the users must link again", n, path, strings.Join(sortedKeys(last.Unreadable), ", "))}
	}
	ring, err := readRing(path)
	if err != nil {
		return err
	}
	var old []string
	for _, k := range ring.IDs() {
		if k != id {
			old = append(old, k)
		}
	}
	fmt.Fprintf(stdout, "Every stored value is sealed under %s.\n", id)
	if len(old) > 0 {
		fmt.Fprintf(stdout, "Back up %s, then retire the old keys:\n", path)
		for _, k := range old {
			fmt.Fprintf(stdout, "  oauthbroker keys retire %s\n", k)
		}
	}
	return nil
}

func keysRetire(ctx context.Context, st store.Store, path, id string, stdout io.Writer) error {
	ring, err := readRing(path)
	if err != nil {
		return err
	}
	switch {
	case !slices.Contains(ring.IDs(), id):
		return exitError{code: 1, msg: fmt.Sprintf("oauthbroker keys retire: %s has no key %q (keys: %s)", path, id, strings.Join(ring.IDs(), ", "))}
	case id == ring.Primary():
		return exitError{code: 1, msg: fmt.Sprintf("oauthbroker keys retire: %s is the primary key; run 'oauthbroker keys rotate' first", id)}
	}
	counts, err := broker.CountByKey(ctx, st, 500)
	if err != nil {
		return err
	}
	if n := counts[id]; n > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("oauthbroker keys retire: %d stored values are still sealed under %s; "+
			"run 'oauthbroker keys rotate' (it re-encrypts them) and retire it afterwards", n, id)}
	}
	if err := seal.RemoveKey(path, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Retired key %s: removed from %s; no stored value used it.\n", id, path)
	return nil
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
