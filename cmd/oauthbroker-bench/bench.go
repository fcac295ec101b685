package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// report is everything the table shows.
type report struct {
	opts       options
	seedTook   time.Duration
	fillTook   time.Duration
	storeLabel string
	startup    time.Duration
	warmed     int64 // bytes of the store read into the page cache before the read tests
	warmTook   time.Duration
	rssRead    int64 // broker VmHWM after the read tests
	rssEnd     int64 // ... at the end
	bareRSS    int64
	results    []result
	loadavg    string
	startedAt  time.Time
}

func bench(ctx context.Context, o options, stdout, stderr io.Writer) error {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	rep := &report{opts: o, startedAt: time.Now(), loadavg: loadavg()}

	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "oauthbroker-bench-"); err != nil {
			return err
		}
		if o.keep {
			logf("keeping %s", dir)
		} else {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}

	st, err := setupStore(ctx, o, dir, logf)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	rep.seedTook, rep.storeLabel = st.seedTook, st.label
	if st.seedTook > 0 {
		logf("seeded in %s", st.seedTook.Round(time.Millisecond))
	}

	bin := o.brokerBin
	if bin == "" {
		bin = filepath.Join(dir, "oauthbroker")
		logf("building the broker")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/oauthbroker/oauthbroker/cmd/oauthbroker")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/oauthbroker: %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	brokerURL := "http://" + addr
	bareAddr, err := freeAddr() // known before it starts: the fakes accept its callback too
	if err != nil {
		return err
	}
	bareURL := "http://" + bareAddr

	// The fake providers, then the broker configured to reach them.
	fakes, out, err := start("fakes", self, filepath.Join(dir, "fakes.log"), "-role", "fakes", "-role-arg", brokerURL+","+bareURL)
	if err != nil {
		return err
	}
	defer fakes.stop()
	line, err := readLine(out, 10*time.Second)
	if err != nil {
		return fmt.Errorf("fakes: %w", err)
	}
	var fu fakeURLs
	if err := json.Unmarshal([]byte(line), &fu); err != nil {
		return fmt.Errorf("fakes said %q: %w", line, err)
	}
	cfgPath := filepath.Join(dir, "providers.yaml")
	if err := os.WriteFile(cfgPath, []byte(brokerConfig(addr, st, fu)), 0o600); err != nil {
		return err
	}

	// The real server, with its production defaults except the two rate limits, which a load
	// test from one address and one bot would hit at once: raised, not switched off, so their
	// bookkeeping stays in the measurement.
	const high = "1000000000"
	logf("starting the broker on %s", addr)
	began := time.Now()
	args := []string{"serve", "-config", cfgPath, "-flow-rate-limit", high, "-link-rate-limit", high}
	if o.cpuProfile != "" {
		args = append(args, "-cpuprofile", o.cpuProfile)
	}
	broker, _, err := start("broker", bin, filepath.Join(dir, "broker.log"), args...)
	if err != nil {
		return err
	}
	defer broker.stop()
	if rep.startup, err = waitReady(ctx, brokerURL+"/readyz", began, 30*time.Second); err != nil {
		return fmt.Errorf("%w (see %s)", err, broker.logs.Name())
	}

	client := newClient(o.concurrency)
	pop := seeded(o.n)
	if o.fill == "flows" {
		logf("filling the store with %d Twitter link flows", o.n)
		began := time.Now()
		if pop, err = fillByFlows(ctx, client, brokerURL, o.n, o.concurrency); err != nil {
			return fmt.Errorf("%w (see %s)", err, broker.logs.Name())
		}
		rep.fillTook = time.Since(began)
	}
	// The bare handler answers with the broker's own bodies, so both send the same bytes.
	bodies, err := sampleBodies(ctx, client, brokerURL, pop)
	if err != nil {
		return fmt.Errorf("sample answers: %w (see %s)", err, broker.logs.Name())
	}
	bodies.Addr, bodies.Fakes = bareAddr, fu
	if selected(o.tests, "flows") {
		bodies.Flows = map[string]flowPages{}
		for _, provider := range []string{"gitlab", "twitter"} {
			if bodies.Flows[provider], err = sampleFlow(ctx, client, brokerURL, bareURL, provider); err != nil {
				return fmt.Errorf("sample a %s flow: %w (see %s)", provider, err, broker.logs.Name())
			}
		}
	}
	bodiesPath := filepath.Join(dir, "bare-bodies.json")
	data, _ := json.Marshal(bodies)
	if err := os.WriteFile(bodiesPath, data, 0o600); err != nil {
		return err
	}
	bare, out, err := start("bare", self, filepath.Join(dir, "bare.log"), "-role", "bare", "-role-arg", bodiesPath)
	if err != nil {
		return err
	}
	defer bare.stop()
	if _, err := readLine(out, 10*time.Second); err != nil {
		return fmt.Errorf("bare handler: %w", err)
	}

	if selected(o.tests, "credentials") || selected(o.tests, "identities") {
		began := time.Now()
		n, err := warmStore(ctx, st)
		if err != nil {
			return fmt.Errorf("read the store into the page cache: %w", err)
		}
		rep.warmed, rep.warmTook = n, time.Since(began)
		logf("read the store into the OS page cache: %.0f MB in %s", mb(n), rep.warmTook.Round(time.Millisecond))
	}

	type target struct {
		name string
		url  string
		pid  int
	}
	targets := []target{{"bare", bareURL, bare.pid()}, {"broker", brokerURL, broker.pid()}}
	// measure runs one round of a test against one target and keeps its result; pids are the
	// processes whose CPU it reports (drive).
	measure := func(test, target string, round int, do op, pids ...int) *result {
		logf("%s → %s (%s, concurrency %d%s)", test, target, o.duration, o.concurrency, roundOf(round, o.rounds))
		r := drive(ctx, client, o.concurrency, o.warmup, o.duration, do, pids...)
		r.test, r.target, r.round = test, target, round
		if r.errs > 0 {
			logf("  %d errors; first: %v", r.errs, r.firstErr)
		}
		rep.results = append(rep.results, r)
		return &rep.results[len(rep.results)-1]
	}
	run := fmt.Sprint(time.Now().UnixNano())
	tests := []struct {
		key, name string
		op        func(base string, check bool) op
	}{
		{"credentials", "GET credentials", func(b string, check bool) op { return credentialsOp(b, pop, check) }},
		{"identities", "GET identities?channel&user", func(b string, check bool) op { return identitiesOp(b, pop, check) }},
		{"links", "POST links", func(b string, _ bool) op { return linksOp(b, run) }},
	}
	for _, t := range tests {
		if !selected(o.tests, t.key) {
			continue
		}
		for round := 1; round <= o.rounds; round++ {
			for _, tg := range targets {
				measure(t.name, tg.name, round, t.op(tg.url, tg.name == "broker"), tg.pid)
			}
		}
		if t.key != "links" { // a read test: the peak so far is the read tests'
			rep.rssRead, _ = peakRSS(broker.pid())
		}
	}

	if selected(o.tests, "flows") {
		callback := func(provider string) string { return brokerURL + "/bots/" + benchBot + "/" + provider + "/callback" }
		type step struct {
			target string
			op     op
			pids   []int
		}
		flows := []struct {
			name  string
			steps []step // the fake alone, the bare flow with it, then the broker with it
		}{
			{"link flow, OAuth 2", []step{
				{"fake alone", fakeOAuth2Op(fu.Sandbox, callback("gitlab")), []int{fakes.pid()}},
				{bareFlowTarget, flowOp(bareURL+bareFlowAPI, "gitlab", run), []int{bare.pid(), fakes.pid()}},
				{"broker+fake", flowOp(brokerURL, "gitlab", run), []int{broker.pid(), fakes.pid()}},
			}},
			{"link flow, OAuth 1.0a", []step{
				{"fake alone", fakeOAuth1Op(fu.Twitter, callback("twitter")), []int{fakes.pid()}},
				{bareFlowTarget, flowOp(bareURL+bareFlowAPI, "twitter", run), []int{bare.pid(), fakes.pid()}},
				{"broker+fake", flowOp(brokerURL, "twitter", run), []int{broker.pid(), fakes.pid()}},
			}},
		}
		for _, f := range flows {
			for round := 1; round <= o.rounds; round++ {
				for _, s := range f.steps {
					r := measure(f.name, s.target, round, s.op, s.pids...)
					if len(s.pids) == 1 { // the fake alone: its CPU is the "other" column
						r.otherCPU, r.serverCPU = r.serverCPU, 0
					}
				}
			}
		}
	}
	rep.rssEnd, _ = peakRSS(broker.pid())
	rep.bareRSS, _ = peakRSS(bare.pid())
	rep.print(stdout)
	for _, r := range rep.results {
		if r.errs > 0 {
			return fmt.Errorf("%s → %s: %d requests failed; first: %v", r.test, r.target, r.errs, r.firstErr)
		}
		if r.n == 0 {
			return fmt.Errorf("%s → %s: no request completed", r.test, r.target)
		}
	}
	return nil
}

// roundOf names a round in the progress lines when there is more than one.
func roundOf(round, rounds int) string {
	if rounds == 1 {
		return ""
	}
	return fmt.Sprintf(", round %d of %d", round, rounds)
}

// brokerConfig is the providers.yaml of the broker under test: one bot with an OAuth 2
// provider (GitLab's type, pointed at the sandbox) and an OAuth 1.0a one (Twitter's type,
// pointed at the fake). confirm: none, so that a flow ends in the browser, as it did before
// confirmation codes were the default and as the fake-alone runs do.
func brokerConfig(addr string, st storeSetup, fu fakeURLs) string {
	return fmt.Sprintf(`server:
  public_url: http://%[1]s
  listen: %[1]s
  outbound_timeout: 10s
storage:
  driver: %[12]s
  dsn: %[2]q
  keys_file: %[3]s
bots:
  %[4]s:
    api_keys: [%[5]q]
    confirm: none
    providers:
      gitlab:
        type: gitlab
        key: %[6]q
        secret: %[7]q
        scopes: [read_user]
        endpoints: { auth_url: %[8]s/oauth/authorize, token_url: %[8]s/oauth/token, profile_url: %[8]s/api/v4/user }
      twitter:
        type: twitter
        key: %[9]q
        secret: %[10]q
        endpoints: { request_token_url: %[11]s/oauth/request_token, auth_url: %[11]s/oauth/authorize, token_url: %[11]s/oauth/access_token, profile_url: %[11]s/1.1/account/verify_credentials.json }
`, addr, st.dsn, st.keysPath, benchBot, benchAPIKey, oauth2ClientID, oauth2ClientSecret, fu.Sandbox,
		oauth1ConsumerKey, oauth1ConsumerSecret, fu.Twitter, st.driver)
}

// sampleBodies takes one answer of each route from the broker: the bare handler's bodies.
func sampleBodies(ctx context.Context, client *http.Client, base string, pop *population) (bareBodies, error) {
	w := &worker{client: client}
	var b bareBodies
	var err error
	if b.Credentials, err = api(ctx, w, http.MethodGet, base+"/api/v1/bots/"+benchBot+"/identities/"+strconv.FormatInt(pop.id(0), 10)+"/credentials", nil, http.StatusOK); err != nil {
		return b, err
	}
	if b.Identities, err = api(ctx, w, http.MethodGet, base+"/api/v1/bots/"+benchBot+"/identities?channel="+benchChannel+"&user="+pop.user(0), nil, http.StatusOK); err != nil {
		return b, err
	}
	req := []byte(`{"provider":"gitlab","channel":"slack","user":"sample"}`)
	if b.Links, err = api(ctx, w, http.MethodPost, base+"/api/v1/bots/"+benchBot+"/links", req, http.StatusCreated); err != nil {
		return b, err
	}
	return b, nil
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:3], " ")
}

func selected(list, test string) bool {
	for t := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(t) == test {
			return true
		}
	}
	return false
}
