package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
	"github.com/oauthbroker/oauthbroker/internal/webhook"
)

// docs/INTEGRATION.md is tested here: every code block carries a marker, `snippet` blocks
// run with node and python3 against a real broker (a live webhook receiver included), and
// `from` blocks are verbatim parts of the files they name.

const integrationGuide = "../../docs/INTEGRATION.md"

// snippetRuntimeMissing skips t, saying what is missing, or fails it under CI=true: .ci/run
// installs node, python3, requests and Flask from Debian's packages, so CI cannot pass without
// running the snippets. OAUTHBROKER_TEST_PYTHON names the Python interpreter (default: python3
// on PATH).
func snippetRuntimeMissing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI must run the snippets of docs/INTEGRATION.md", what)
	}
	t.Skipf("%s: the snippets of docs/INTEGRATION.md are not run", what)
}

type guideBlock struct {
	kind, arg string // snippet NAME | from PATH | untested REASON
	code      string
	line      int
}

var guideMarker = regexp.MustCompile(`^<!-- (snippet|from|untested): (.+?) -->$`)

// guideBlocks returns the guide's fenced code blocks with their markers.
func guideBlocks(t *testing.T) []guideBlock {
	t.Helper()
	data, err := os.ReadFile(integrationGuide)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var out []guideBlock
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		b := guideBlock{line: i + 1}
		if i > 0 {
			if m := guideMarker.FindStringSubmatch(lines[i-1]); m != nil {
				b.kind, b.arg = m[1], m[2]
			}
		}
		j := i + 1
		for j < len(lines) && !strings.HasPrefix(lines[j], "```") {
			j++
		}
		b.code = strings.Join(lines[i+1:j], "\n") + "\n"
		out = append(out, b)
		i = j
	}
	return out
}

// TestIntegrationGuideBlocks: every code block says how it is tested, and the Go ones are
// still what the example runs.
func TestIntegrationGuideBlocks(t *testing.T) {
	snippets := map[string]bool{}
	for _, b := range guideBlocks(t) {
		switch b.kind {
		case "":
			t.Errorf("INTEGRATION.md:%d: a code block without a marker (<!-- snippet|from|untested: … -->)", b.line)
		case "snippet":
			if snippets[b.arg] {
				t.Errorf("INTEGRATION.md:%d: two snippets named %s", b.line, b.arg)
			}
			snippets[b.arg] = true
		case "from":
			src, err := os.ReadFile(filepath.Join("..", "..", b.arg))
			if err != nil || !strings.Contains(string(src), b.code) {
				t.Errorf("INTEGRATION.md:%d: the block is not (any more) part of %s (%v):\n%s", b.line, b.arg, err, b.code)
			}
		}
	}
	for _, name := range []string{"oauthbroker.js", "shareride.js", "webhook.js", "oauthbroker.py", "actions.py", "webhook_app.py"} {
		if !snippets[name] {
			t.Errorf("INTEGRATION.md has no snippet %s, which the language tests run", name)
		}
	}
}

// writeSnippets writes the guide's snippets into a new directory for a language's driver.
func writeSnippets(t *testing.T, driverName, driver string) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range guideBlocks(t) {
		if b.kind == "snippet" {
			writeFile(t, filepath.Join(dir, b.arg), b.code)
		}
	}
	writeFile(t, filepath.Join(dir, driverName), driver)
	return dir
}

// snippetBroker is a broker for the snippets: bot alpha with providers rides and social (the
// sandbox, behind the demo's two tiny APIs) and gl (refreshes under the test's control), and
// a webhook to hookAddr; bot bravo with confirm: code.
type snippetBroker struct {
	*testBroker
	fake  *tokenFake
	clock *clock
	apis  *sandbox.DemoAPIs
	env   []string // what the driver needs, for bot alpha
}

const snippetHookSecret = "snippet-hook-secret-0123456789"

func startSnippetBroker(t *testing.T, hookAddr string) *snippetBroker {
	t.Helper()
	clk := newClock()
	f := newTokenFake(t, false)
	apis := sandbox.NewDemoAPIs(f.Server)
	apiSrv := httptest.NewServer(apis)
	t.Cleanup(apiSrv.Close)
	b := startBrokerWith(t, fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    webhook_url: http://%s/webhook
    webhook_secret: %s
    providers:
      rides:  {type: sandbox, key: rides-client,  secret: rides-secret-0123456789,  scopes: [rides]}
      social: {type: sandbox, key: social-client, secret: social-secret-0123456789, scopes: [posts]}
%s  bravo:
    api_keys: [%q]
    confirm: code
    providers:
      rides: {type: sandbox, key: bravo-client, secret: bravo-secret-0123456789}
`, keyA, hookAddr, snippetHookSecret, gitlabYAML(f.URL), keyB), app.Options{SandboxURL: f.URL, Now: clk.Now, RefreshWait: 300 * time.Millisecond, Webhooks: fastWebhooks})
	b.runBackground()
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	for _, c := range []sandbox.Client{
		{ID: "rides-client", Secret: "rides-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/rides/callback"}},
		{ID: "social-client", Secret: "social-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/social/callback"}},
		{ID: "bravo-client", Secret: "bravo-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/bravo/rides/callback"}},
	} {
		if err := f.AddClient(c); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"OAUTHBROKER_URL=" + b.URL, "OAUTHBROKER_API_KEY=" + keyA, "OAUTHBROKER_WEBHOOK_SECRET=" + snippetHookSecret,
		"RIDES_API_BASE=" + apiSrv.URL + "/api/v4", "HOOK_ADDR=" + hookAddr, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"}
	return &snippetBroker{testBroker: b, fake: f, clock: clk, apis: apis, env: env}
}

// driver is a node or python3 process that loads the snippets and calls them on request:
// one JSON line {"fn","args"} in, one {"result"} or {"error"} line out; events its webhook
// receiver accepted come as {"event"} lines in between.
type driver struct {
	t        *testing.T
	receiver bool // it runs the guide's webhook receiver
	stdin    io.Writer
	results  chan driverAnswer
	events   chan map[string]any
	stderr   *syncBuffer
}

type driverAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Status     int    `json:"status"`
		Code       string `json:"code"`
		RetryAfter int    `json:"retryAfter"`
		Message    string `json:"message"`
	} `json:"error"`
	Event map[string]any `json:"event"`
	Ready bool           `json:"ready"`
}

func startDriver(t *testing.T, dir string, env []string, name string, args ...string) *driver {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, receiver: true, stdin: stdin, results: make(chan driverAnswer, 1), events: make(chan map[string]any, 32), stderr: &syncBuffer{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var a driverAnswer
			if json.Unmarshal(sc.Bytes(), &a) != nil {
				continue // a library's own output
			}
			if a.Event != nil {
				d.events <- a.Event
			} else {
				d.results <- a
			}
		}
	})
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		wg.Wait()
	})
	if a := d.answer(); !a.Ready {
		t.Fatalf("%s did not start: %+v\n%s", name, a, d.stderr)
	}
	return d
}

func (d *driver) answer() driverAnswer {
	d.t.Helper()
	select {
	case a := <-d.results:
		return a
	case <-time.After(15 * time.Second):
		d.t.Fatalf("the driver did not answer; its stderr:\n%s", d.stderr)
	}
	return driverAnswer{}
}

// call runs fn(args…) in the driver and decodes its result into out; it fails the test on an
// error, unless the caller asked for it with callErr.
func (d *driver) call(out any, fn string, args ...any) {
	d.t.Helper()
	a := d.send(fn, args...)
	if a.Error != nil {
		d.t.Fatalf("%s: %+v\n%s", fn, *a.Error, d.stderr)
	}
	if out != nil {
		if err := json.Unmarshal(a.Result, out); err != nil {
			d.t.Fatalf("%s: %s: %v", fn, a.Result, err)
		}
	}
}

func (d *driver) callErr(fn string, args ...any) (status int, code string, retryAfter int) {
	d.t.Helper()
	a := d.send(fn, args...)
	if a.Error == nil {
		d.t.Fatalf("%s answered %s, want an error", fn, a.Result)
	}
	return a.Error.Status, a.Error.Code, a.Error.RetryAfter
}

func (d *driver) send(fn string, args ...any) driverAnswer {
	d.t.Helper()
	line, err := json.Marshal(map[string]any{"fn": fn, "args": args})
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.stdin.Write(append(line, '\n')); err != nil {
		d.t.Fatalf("driver stdin: %v\n%s", err, d.stderr)
	}
	return d.answer()
}

// waitEvent waits for an event of typ about provider (link.completed: a link that linked it).
func (d *driver) waitEvent(typ, provider string) map[string]any {
	d.t.Helper()
	if !d.receiver {
		return nil
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-d.events:
			if id, _ := e["identity"].(map[string]any); e["type"] == typ && id["provider"] == provider {
				return e
			}
			if l, _ := e["link"].(map[string]any); e["type"] == typ && l != nil {
				for _, i := range l["identities"].([]any) {
					if i.(map[string]any)["provider"] == provider {
						return e
					}
				}
			}
		case <-deadline:
			d.t.Fatalf("no %s event for %s reached the receiver; driver stderr:\n%s", typ, provider, d.stderr)
		}
	}
}

type snippetRequirements struct {
	Ready       bool `json:"ready"`
	Credentials map[string]struct {
		AccessToken string `json:"access_token"`
	} `json:"credentials"`
	Missing []struct {
		Provider string `json:"provider"`
		Reason   string `json:"reason"`
		URL      string `json:"url"`
	} `json:"missing"`
	ConnectURL string `json:"connect_url"`
}

// language names the snippet functions in one language.
type language struct {
	require, credentials, identities, linkMessage, confirm, verify, share string
}

// exerciseSnippets is the guide's story in one language, against a real broker: require,
// the one link, the linked and link.completed events through the language's own webhook
// receiver, the combined action, missing_scopes, relink_required, refresh_unavailable, the
// confirm: code dialogue and signature checks.
func exerciseSnippets(t *testing.T, sb *snippetBroker, d, bravo *driver, l language) {
	var req snippetRequirements
	d.call(&req, l.require, "web", "u1", []string{"rides", "social"}, "Una (web)")
	if req.Ready || len(req.Missing) != 2 || req.Missing[0].Reason != "not_linked" || req.Missing[1].Provider != "social" || req.ConnectURL == "" {
		t.Fatalf("nothing linked: %+v", req)
	}
	var msg string
	d.call(&msg, l.linkMessage, req)
	if msg != "To do that I need your rides and social accounts. Open this: "+req.ConnectURL {
		t.Errorf("link message %q", msg)
	}
	if st, page := connectAll(t, newBrowser(t), req.ConnectURL); st != http.StatusOK || !isComplete(page) || !strings.Contains(page, "Una (web)") {
		t.Fatalf("the one link: %d %s", st, page)
	}
	for _, m := range req.Missing {
		d.waitEvent("identity.linked", m.Provider)
	}
	d.waitEvent("link.completed", "social")

	d.call(&req, l.require, "web", "u1", []string{"rides", "social"})
	if !req.Ready || req.Credentials["rides"].AccessToken == "" || req.Credentials["social"].AccessToken == "" {
		t.Fatalf("all linked: %+v", req)
	}
	var shared json.RawMessage
	d.call(&shared, l.share, req.Credentials, "the station")
	if posts := sb.apis.Posts(); len(posts) != 1 || !strings.Contains(posts[0].Text, "the station") || !strings.Contains(string(shared), posts[0].URL) {
		t.Errorf("share: %s; posts %+v", shared, posts)
	}
	var ids []identityBody
	d.call(&ids, l.identities, "web", "u1")
	if len(ids) != 2 || ids[0].Provider != "rides" {
		t.Errorf("identities: %+v", ids)
	}

	d.call(&req, l.require, "web", "u1", []any{map[string]any{"provider": "rides", "scopes": []string{"rides", "history"}}})
	if req.Ready || len(req.Missing) != 1 || req.Missing[0].Reason != "missing_scopes" {
		t.Fatalf("a scope not granted: %+v", req)
	}
	d.call(&msg, l.linkMessage, req)
	if !strings.HasPrefix(msg, "To do that I need your rides (more permissions) account. Open this: http") {
		t.Errorf("missing_scopes message %q", msg)
	}

	// The provider refuses the refresh token.
	sb.fake.FirstTTL.Store(30)
	gl := sb.linkOne("alpha", keyA, "gl", "web", "u1")
	sb.fake.RefreshMode.Store(refreshInvalidGrant)
	if st, code, _ := d.callErr(l.credentials, gl.ID); st != 409 || code != "relink_required" {
		t.Errorf("credentials after invalid_grant: %d %s", st, code)
	}
	d.call(&req, l.require, "web", "u1", []string{"gl"})
	if len(req.Missing) != 1 || req.Missing[0].Reason != "relink_required" {
		t.Fatalf("require after invalid_grant: %+v", req)
	}
	d.call(&msg, l.linkMessage, req)
	if !strings.HasPrefix(msg, "To do that I need your gl (connect it again) account. Open this: http") {
		t.Errorf("relink_required message %q", msg)
	}

	// The provider is down and the token expired.
	sb.fake.RefreshMode.Store(refreshOK)
	down := sb.linkOne("alpha", keyA, "gl", "web", "u2")
	sb.fake.RefreshMode.Store(refreshServerError)
	sb.clock.Advance(31 * time.Second)
	if st, code, retry := d.callErr(l.credentials, down.ID); st != 503 || code != "refresh_unavailable" || retry < 1 {
		t.Errorf("credentials with the provider down: %d %s retry %d", st, code, retry)
	}
	sb.fake.RefreshMode.Store(refreshOK)
	sb.fake.FirstTTL.Store(0)

	// confirm: code.
	_, page := connectAll(t, newBrowser(t), sb.link("bravo", keyB, "rides", "web", "u3"))
	code := regexp.MustCompile(`id="code">(\d{6})<`).FindStringSubmatch(page)
	if code == nil {
		t.Fatalf("no code on the connect page:\n%s", page)
	}
	wrong := "000000"
	if code[1] == wrong {
		wrong = "111111"
	}
	for _, c := range []struct{ code, want string }{
		{wrong, "That is not the code on the page. Try again."},
		{code[1], "Done: your rides account is connected."},
		{code[1], "That code is no longer valid; ask me for a new link."},
	} {
		bravo.call(&msg, l.confirm, "web", "u3", c.code)
		if msg != c.want {
			t.Errorf("confirm %s: %q, want %q", c.code, msg, c.want)
		}
	}

	// Signatures: the receiver accepted the broker's; these must not pass.
	body := `{"id":"evt_x","type":"identity.linked"}`
	var ok bool
	for _, c := range []struct{ secret, sig string }{
		{snippetHookSecret, "sha256=" + strings.Repeat("0", 64)},
		{"another-secret", signed(body, snippetHookSecret)},
		{snippetHookSecret, ""},
	} {
		if d.call(&ok, l.verify, c.secret, c.sig, body); ok {
			t.Errorf("verify accepted secret %q, signature %q", c.secret, c.sig)
		}
	}
	if d.call(&ok, l.verify, snippetHookSecret, signed(body, snippetHookSecret), body); !ok {
		t.Error("verify refused a good signature")
	}
}

func signed(body, secret string) string { return webhook.Sign([]byte(body), secret) }

const jsDriver = `
const ob = require('./oauthbroker.js');
const { shareRide } = require('./shareride.js');
const { listen } = require('./webhook.js');
const readline = require('node:readline');

const out = (v) => process.stdout.write(JSON.stringify(v) + '\n');
const fns = { ...ob, shareRide };
const [host, port] = process.env.HOOK_ADDR.split(':');
listen(Number(port), process.env.OAUTHBROKER_WEBHOOK_SECRET, (event) => out({ event })).on('listening', () => out({ ready: true }));
const rl = readline.createInterface({ input: process.stdin });
rl.on('close', () => process.exit(0));
rl.on('line', async (line) => {
  const { fn, args } = JSON.parse(line);
  if (fn === 'verifyWebhook') args[2] = Buffer.from(args[2]);
  try {
    out({ result: (await fns[fn](...args)) ?? null });
  } catch (e) {
    out({ error: { status: e.status, code: e.code, retryAfter: e.retryAfter, message: String(e) } });
  }
});
`

// TestIntegrationJavaScript runs the guide's JavaScript with node.
func TestIntegrationJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		snippetRuntimeMissing(t, "node is not installed (apt-get install -y nodejs)")
	}
	dir := writeSnippets(t, "driver.js", jsDriver)
	hook := testenv.FreeAddr(t)
	sb := startSnippetBroker(t, hook)
	d := startDriver(t, dir, append(sb.env, "OAUTHBROKER_BOT=alpha"), node, "driver.js")
	bravoEnv := append(sb.env, "OAUTHBROKER_BOT=bravo", "OAUTHBROKER_API_KEY="+keyB, "HOOK_ADDR="+testenv.FreeAddr(t))
	bravo := startDriver(t, dir, bravoEnv, node, "driver.js")
	exerciseSnippets(t, sb, d, bravo, language{require: "requireAccounts", credentials: "credentials", identities: "identities",
		linkMessage: "linkMessage", confirm: "confirmCode", verify: "verifyWebhook", share: "shareRide"})
}

const pyDriver = `
import json, os, sys, threading, types

import oauthbroker

out_lock = threading.Lock()
def out(v):
    with out_lock:
        sys.stdout.write(json.dumps(v) + "\n")
        sys.stdout.flush()

# A stand-in for rasa_sdk with the members actions.py uses.
rasa_sdk = types.ModuleType("rasa_sdk")
rasa_sdk.Action = type("Action", (), {})
sys.modules["rasa_sdk"] = rasa_sdk
import actions

class Tracker:
    def __init__(self, sender_id, channel, destination):
        self.sender_id, self.channel, self.destination = sender_id, channel, destination
    def get_latest_input_channel(self):
        return self.channel
    def get_latest_entity_values(self, entity_type, entity_role=None, entity_group=None):
        return iter([self.destination] if entity_type == "destination" and self.destination else [])

class Dispatcher:
    def __init__(self):
        self.messages = []
    def utter_message(self, text=None, **kwargs):
        self.messages.append(text)

def rasa(sender_id, channel, destination):
    d = Dispatcher()
    events = actions.ActionShareRide().run(d, Tracker(sender_id, channel, destination), {})
    return {"name": actions.ActionShareRide().name(), "messages": d.messages, "events": events}

fns = {name: getattr(oauthbroker, name) for name in dir(oauthbroker)}
fns["rasa"] = rasa

if os.environ.get("WITH_FLASK") == "1":
    import logging
    from werkzeug.serving import make_server
    import webhook_app
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    webhook_app.handlers.append(lambda event: out({"event": event}))
    host, port = os.environ["HOOK_ADDR"].split(":")
    server = make_server(host, int(port), webhook_app.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
out({"ready": True})

for line in sys.stdin:
    call = json.loads(line)
    args = call["args"]
    if call["fn"] == "verify_webhook":
        args[2] = args[2].encode()
    try:
        out({"result": fns[call["fn"]](*args)})
    except oauthbroker.BrokerError as e:
        out({"error": {"status": e.status, "code": e.code, "retryAfter": e.retry_after, "message": str(e)}})
    except Exception as e:
        out({"error": {"message": repr(e)}})
`

// TestIntegrationPython runs the guide's Python with python3 and requests; the Flask webhook
// receiver too when Flask is installed, and the Rasa action with a stand-in for rasa_sdk.
func TestIntegrationPython(t *testing.T) {
	py := os.Getenv("OAUTHBROKER_TEST_PYTHON")
	if py == "" {
		var err error
		if py, err = exec.LookPath("python3"); err != nil {
			snippetRuntimeMissing(t, "python3 is not installed (apt-get install -y python3 python3-requests python3-flask)")
		}
	}
	if out, err := exec.Command(py, "-c", "import requests").CombinedOutput(); err != nil {
		snippetRuntimeMissing(t, fmt.Sprintf("%s cannot import requests (apt-get install -y python3-requests): %v %s", py, err, strings.TrimSpace(string(out))))
	}
	withFlask := "1"
	if out, err := exec.Command(py, "-c", "import flask").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import flask (apt-get install -y python3-flask), and CI must run the Flask webhook receiver (webhook_app.py): %v %s", py, err, strings.TrimSpace(string(out)))
		}
		t.Log("Flask is not installed: the Flask webhook receiver (webhook_app.py) is not run")
		withFlask = "0"
	}
	dir := writeSnippets(t, "driver.py", pyDriver)
	hook := testenv.FreeAddr(t)
	sb := startSnippetBroker(t, hook)
	d := startDriver(t, dir, append(sb.env, "OAUTHBROKER_BOT=alpha", "WITH_FLASK="+withFlask), py, "driver.py")
	d.receiver = withFlask == "1"
	bravo := startDriver(t, dir, append(sb.env, "OAUTHBROKER_BOT=bravo", "OAUTHBROKER_API_KEY="+keyB), py, "driver.py")
	exerciseSnippets(t, sb, d, bravo, language{require: "require_accounts", credentials: "credentials", identities: "identities",
		linkMessage: "link_message", confirm: "confirm_code", verify: "verify_webhook", share: "share_ride"})

	t.Run("the Rasa action", func(t *testing.T) {
		type rasaRun struct {
			Name     string   `json:"name"`
			Messages []string `json:"messages"`
		}
		var run rasaRun
		d.call(&run, "rasa", "rasa-user", "rasa", "the harbour")
		if run.Name != "action_share_ride" || len(run.Messages) != 1 || !strings.Contains(run.Messages[0], "rides and social accounts") {
			t.Fatalf("first run: %+v, want one message with one link", run)
		}
		for _, m := range run.Messages {
			u := regexp.MustCompile(`http://\S+`).FindString(m)
			if st, page := connectAll(t, newBrowser(t), u); st != http.StatusOK {
				t.Fatalf("%s: %d %s", m, st, page)
			}
		}
		d.call(&run, "rasa", "rasa-user", "rasa", "the harbour")
		posts := sb.apis.Posts()
		if len(run.Messages) != 1 || !strings.HasPrefix(run.Messages[0], "Booked: ") || !strings.Contains(run.Messages[0], posts[len(posts)-1].URL) ||
			!strings.Contains(posts[len(posts)-1].Text, "the harbour") {
			t.Errorf("second run: %+v; posts %+v", run, posts)
		}
	})
}
