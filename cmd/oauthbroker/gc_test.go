package main

import (
	"fmt"
	"math"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestGCSettings: serve's defaults apply where the environment sets neither GOGC nor
// GOMEMLIMIT, and leave alone what the runtime took from a variable that is set.
func TestGCSettings(t *testing.T) {
	oldPercent, oldLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(oldPercent); debug.SetMemoryLimit(oldLimit) })
	env := func(vars ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for _, kv := range vars {
				if name, v, _ := strings.Cut(kv, "="); name == k {
					return v, true
				}
			}
			return "", false
		}
	}
	for _, c := range []struct {
		env          []string
		percent      int
		limit        int64
		wantPercent  int
		wantLimit    int64
		wantLimitTxt string
	}{
		{nil, 100, math.MaxInt64, defaultGCPercent, defaultMemoryLimit, "64MiB"},
		{[]string{"GOGC=50"}, 50, math.MaxInt64, 50, defaultMemoryLimit, "64MiB"},
		{[]string{"GOMEMLIMIT=32MiB"}, 100, 32 << 20, defaultGCPercent, 32 << 20, "32MiB"},
		{[]string{"GOGC=off", "GOMEMLIMIT=off"}, -1, math.MaxInt64, -1, math.MaxInt64, "off"},
		{[]string{"GOGC=", "GOMEMLIMIT=1000000"}, 100, 1000000, 100, 1000000, "1000000B"}, // set, even empty: the runtime's call
	} {
		// As the runtime leaves them after reading the environment.
		debug.SetGCPercent(c.percent)
		debug.SetMemoryLimit(c.limit)
		percent, limit := gcSettings(env(c.env...))
		if percent != c.wantPercent || limit != c.wantLimit || memoryLimitText(limit) != c.wantLimitTxt {
			t.Errorf("env %q: GOGC %d, limit %d (%s); want %d, %d (%s)", c.env, percent, limit, memoryLimitText(limit), c.wantPercent, c.wantLimit, c.wantLimitTxt)
		}
		if p := debug.SetGCPercent(c.percent); p != percent {
			t.Errorf("env %q: the runtime has GOGC %d, gcSettings said %d", c.env, p, percent)
		}
		if l := debug.SetMemoryLimit(-1); l != limit {
			t.Errorf("env %q: the runtime has limit %d, gcSettings said %d", c.env, l, limit)
		}
	}
}

// TestServeGCDefaultsInTheBinary: `oauthbroker serve` runs with GOGC=400 and GOMEMLIMIT=64MiB
// when its environment sets neither, and with the operator's values when it does; its start-up
// line says which.
func TestServeGCDefaultsInTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, c := range []struct {
		env  []string
		want string
	}{
		{nil, "gogc=400 gomemlimit=64MiB"},
		{[]string{"GOGC=50"}, "gogc=50 gomemlimit=64MiB"},
		{[]string{"GOGC=off", "GOMEMLIMIT=1GiB"}, "gogc=-1 gomemlimit=1024MiB"},
	} {
		dir := t.TempDir()
		addr := testenv.FreeAddr(t)
		cfg := writeServeConfig(t, dir, "p.yaml", addr, fmt.Sprintf("  alpha:\n    api_keys: [%q]\n    providers:\n      gh: {type: github, key: k, secret: s}\n", keyA))
		p := startServeEnv(t, bin, cfg, addr, c.env)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(p.logs.String(), "oauthbroker serving") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		line := ""
		for l := range strings.Lines(p.logs.String()) {
			if strings.Contains(l, "oauthbroker serving") {
				line = l
			}
		}
		if !strings.Contains(line, " "+c.want+"\n") {
			t.Errorf("env %q: start-up line %q, want it to end with %q", c.env, line, c.want)
		}
	}
}
