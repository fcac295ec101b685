package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// runCommand runs the real command line in-process, as main does.
func runCommand(ctx context.Context, env map[string]string, args ...string) (stdout, stderr *syncBuffer, err error) {
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return stdout, stderr, run(ctx, args, getenv, stdout, stderr)
}

func exitCode(err error) int {
	var e exitError
	if errors.As(err, &e) {
		return e.code
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, `server:
  public_url: http://localhost:8080
bots:
  supportbot:
    api_keys: ["${SUPPORT_KEY}"]
    colour: blue
    providers:
      gh: {type: githubb, key: k, secret: s}
`)
	out, _, err := runCommand(context.Background(), nil, "check", bad)
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (%v), want 1", exitCode(err), err)
	}
	for _, want := range []string{
		bad + ":5: bots.supportbot.api_keys",     // unset variable
		bad + ":6: bots.supportbot.colour",       // unknown key
		bad + ":8: bots.supportbot.providers.gh", // unknown type
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}

	t.Run("the repo's providers.yaml", func(t *testing.T) {
		env := map[string]string{}
		for _, v := range regexp.MustCompile(`\$\{([A-Z0-9_]+)`).FindAllStringSubmatch(readFile(t, "../../providers.yaml"), -1) {
			env[v[1]] = "value-of-" + strings.ToLower(v[1]) + "-0123456789"
		}
		env["OIDC_DISCOVERY_URL"] = "https://id.example.com/.well-known/openid-configuration"
		env["OAUTHBROKER_ADMIN_HASH"] = ""
		out, _, err := runCommand(context.Background(), env, "check", "-config", "../../providers.yaml")
		if err != nil {
			t.Fatalf("with every variable set: %v\n%s", err, out)
		}
		for _, want := range []string{
			"supportbot/twitter: type twitter, run by broker oauth1 (catalog)",
			"register this callback URL at Twitter: http://localhost:8080/bots/supportbot/twitter/callback",
			"where apps are registered: https://developer.x.com/en/portal/dashboard",
			"supportbot/github: type github, run by goth",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("check does not print %q:\n%s", want, out)
			}
		}
		if strings.Contains(out.String(), "warning") {
			t.Errorf("check warns about the repository's own file:\n%s", out)
		}
		out, _, err = runCommand(context.Background(), nil, "check", "../../providers.yaml")
		if exitCode(err) != 1 || !strings.Contains(out.String(), "unset environment variable TWITTER_KEY") {
			t.Errorf("with no variables set: %v\n%s", err, out)
		}
	})
}

// TestCheckWarnsAboutConfirmNone: a bot that writes confirm: none out gets one line from check
// saying what that lets happen; the file is still valid.
func TestCheckWarnsAboutConfirmNone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	writeFile(t, path, "server:\n  public_url: https://broker.example\nbots:\n  open:\n    api_keys: [key-0123456789abcdef]\n    confirm: none\n"+
		"    providers:\n      gh: {type: github, key: k, secret: s}\n  safe:\n    api_keys: [key-fedcba9876543210]\n    providers:\n      gh: {type: github, key: k, secret: s}\n")
	out, _, err := runCommand(context.Background(), nil, "check", path)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	var warnings []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "warning") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "bot open has confirm: none") || !strings.Contains(warnings[0], "forwarded link") {
		t.Errorf("warnings %q, want one line about bot open", warnings)
	}
}

func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"-help"}, []string{"demo", "serve", "check", "OAUTHBROKER_KEYS"}},
		{[]string{"serve", "-help"}, []string{"-config", "-log-format", "-log-level", "SIGTERM", "GOGC=400", "GOMEMLIMIT=64MiB"}},
		{[]string{"demo", "-help"}, []string{"-listen", "-data", "-log-level", "sandbox"}},
		{[]string{"check", "-help"}, []string{"-config", "file:line: field"}},
		{[]string{"providers", "-help"}, []string{"-json", "TYPE"}},
	} {
		out, errOut, err := runCommand(context.Background(), nil, c.args...)
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
		}
		text := out.String() + errOut.String()
		for _, f := range c.flags {
			if !strings.Contains(text, f) {
				t.Errorf("%v does not mention %q:\n%s", c.args, f, text)
			}
		}
	}
	if _, errOut, err := runCommand(context.Background(), nil, "frobnicate"); exitCode(err) != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("unknown command: %v %s", err, errOut)
	}
}

// TestServeCommand starts `oauthbroker serve` as an operator would, links a Twitter account
// through it, restarts it on the same store and key file, and stops it with its context
// (SIGTERM in main).
func TestServeCommand(t *testing.T) {
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
	dir := t.TempDir()
	addr := testenv.FreeAddr(t)
	cfgPath := filepath.Join(dir, "providers.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server:
  public_url: http://%s
  listen: %s
storage:
  dsn: %s
bots:
  alpha:
    api_keys: ["${ALPHA_KEY}"]
    providers:
      twitter:
        type: twitter
        key: ck-alpha
        secret: ${TWITTER_SECRET}
%s`, addr, addr, filepath.Join(dir, "broker.db"), endpointsYAML(tw.Endpoints(), "        ")))
	env := map[string]string{"ALPHA_KEY": keyA, "TWITTER_SECRET": "cs-alpha-secret"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	start := func() (stop func() (string, error)) {
		ctx, cancel := context.WithCancel(context.Background())
		stdout, stderr := &syncBuffer{}, &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve", "-config", cfgPath}, getenv, stdout, stderr) }()
		waitHealthy(t, "http://"+addr)
		return func() (string, error) {
			cancel()
			select {
			case err := <-done:
				return stderr.String(), err
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop within 20s of its context ending")
				return "", nil
			}
		}
	}

	stop := start()
	b := remote(t, "http://"+addr)
	// The bot says nothing about confirm: it confirms by code.
	st, page := connectAll(t, newBrowser(t), b.link("alpha", keyA, "twitter", "c", "u"))
	code := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)
	if st != http.StatusOK || code == nil {
		t.Fatalf("flow through serve: %d\n%s", st, page)
	}
	if st := b.api("POST", "/bots/alpha/links/confirm", keyA, map[string]string{"channel": "c", "user": "u", "code": code[1]}, nil); st != http.StatusOK {
		t.Fatalf("confirm: %d", st)
	}
	logs, err := stop()
	if err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if strings.Contains(logs, "confirm: none") {
		t.Errorf("serve warned about confirm: none for a bot that confirms by code:\n%s", logs)
	}
	if n := strings.Count(logs, "created a new key file"); n != 1 {
		t.Errorf("first start announced the new key file %d times:\n%s", n, logs)
	}
	info, err := os.Stat(filepath.Join(dir, "oauthbroker.keys.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, info.Mode())
	}

	stop = start()
	ids := b.identities("alpha", keyA, "c", "u")
	if len(ids) != 1 {
		t.Fatalf("after restart: %+v", ids)
	}
	if creds := b.credentials("alpha", keyA, ids[0].ID); creds.AccessToken != tw.Issued()[0].Token {
		t.Errorf("after restart the token does not open: %+v", creds)
	}
	logs, err = stop()
	if err != nil || strings.Contains(logs, "created a new key file") {
		t.Errorf("second start: %v\n%s", err, logs)
	}

	t.Run("a lost key file is reported, not returned as garbage", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "oauthbroker.keys.json")); err != nil {
			t.Fatal(err)
		}
		stop := start()
		defer stop()
		var p problemBody
		if st := b.api("GET", fmt.Sprintf("/bots/alpha/identities/%d/credentials", ids[0].ID), keyA, nil, &p); st != http.StatusInternalServerError || p.Code != "token_unreadable" {
			t.Errorf("credentials with another key: %d %+v", st, p)
		}
	})

	t.Run("serve refuses the sandbox", func(t *testing.T) {
		sbPath := filepath.Join(dir, "sandbox.yaml")
		writeFile(t, sbPath, "server:\n  public_url: http://localhost:1\nbots:\n  demo:\n    api_keys: [\"0123456789abcdef0\"]\n    providers:\n      sandbox: {type: sandbox}\n")
		_, _, err := runCommand(context.Background(), nil, "serve", "-config", sbPath)
		if exitCode(err) != 1 || !strings.Contains(err.Error(), sbPath+":7: bots.demo.providers.sandbox.type: the sandbox provider runs only under 'oauthbroker demo'") {
			t.Errorf("got %v", err)
		}
	})
}

// TestDemoCommand is the README's first command and its tour, tried as a new user would: run
// the demo, open the printed link, click the provider's button and Authorize, confirm the code
// the page shows with the printed curl command, then use the other printed commands.
func TestDemoCommand(t *testing.T) {
	stdout, stderr := startDemo(t)

	linkURL := waitFor(t, stdout, regexp.MustCompile(`http://127\.0\.0\.1:\d+/bots/demo/connect\?link=[A-Za-z0-9_-]+`))
	key := waitFor(t, stdout, regexp.MustCompile(`Bearer ([A-Za-z0-9_-]+)`))
	key = strings.TrimPrefix(key, "Bearer ")
	confirmURL := waitFor(t, stdout, regexp.MustCompile(`http://127\.0\.0\.1:\d+/api/v1/bots/demo/links/confirm`))
	status, page := openLink(t, newBrowser(t), linkURL, "1001", "authorize")
	code := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)
	if status != http.StatusOK || !strings.Contains(page, "Ada Lovelace") || !strings.Contains(page, "Demo Bot") || code == nil {
		t.Fatalf("after Authorize: %d\n%s", status, page)
	}
	waitFor(t, stdout, regexp.MustCompile(`Linked: identity 1 \(Ada Lovelace @ada\), pending`))
	// Step 2 of the printed instructions: the code, confirmed as the bot would.
	base := strings.SplitN(confirmURL, "/api/v1", 2)[0]
	b := remote(t, base)
	if st := b.api("POST", "/bots/demo/links/confirm", key, map[string]string{"channel": "terminal", "user": "alice", "code": code[1]}, nil); st != http.StatusOK {
		t.Fatalf("the printed confirm command: %d", st)
	}
	waitFor(t, stdout, regexp.MustCompile(`http://127\.0\.0\.1:\d+/api/v1/bots/demo/identities/1/credentials`))
	ids := b.identities("demo", key, "terminal", "alice")
	if len(ids) != 1 || ids[0].Name != "Ada Lovelace" || ids[0].Status != "active" {
		t.Fatalf("identities: %+v", ids)
	}
	if creds := b.credentials("demo", key, 1); !strings.HasPrefix(creds.AccessToken, "sbx_at_") {
		t.Errorf("credentials: %+v", creds)
	}
	if strings.Contains(stderr.String(), "sbx_at_") {
		t.Error("the demo logged a token")
	}
}

// waitFor waits until the output matches re and returns the match.
func waitFor(t *testing.T, out *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindString(out.String()); m != "" {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("output never matched %s:\n%s", re, out.String())
	return ""
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz never answered 200", base)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestKeysFromTheEnvironment: with OAUTHBROKER_KEYS set, no key file is written, and a
// malformed value stops start-up with a message naming the variable.
func TestKeysFromTheEnvironment(t *testing.T) {
	_, keysJSON, err := seal.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OAUTHBROKER_KEYS": string(keysJSON)}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	b, _ := startSandboxBrokerWith(t, "none", app.Options{Getenv: getenv})
	if st, page := openLink(t, newBrowser(t), b.link("alpha", keyA, "sandbox", "c", "u"), "1001", "authorize"); st != http.StatusOK {
		t.Fatalf("%d %s", st, page)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(b.dbPath), "oauthbroker.keys.json")); !os.IsNotExist(err) {
		t.Errorf("a key file was written although OAUTHBROKER_KEYS is set: %v", err)
	}

	env["OAUTHBROKER_KEYS"] = `{"primary":"k1"}`
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "p.yaml")
	writeFile(t, cfgPath, fmt.Sprintf("server:\n  public_url: http://%s\n  listen: %s\nstorage:\n  dsn: %s\nbots:\n  alpha:\n    api_keys: [%q]\n    providers:\n      gh: {type: github, key: k, secret: s}\n",
		testenv.FreeAddr(t), testenv.FreeAddr(t), filepath.Join(dir, "b.db"), keyA))
	_, _, err = runCommand(context.Background(), env, "serve", "-config", cfgPath)
	if err == nil || !strings.Contains(err.Error(), "OAUTHBROKER_KEYS") {
		t.Errorf("malformed OAUTHBROKER_KEYS: %v", err)
	}
}
