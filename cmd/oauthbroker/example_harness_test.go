package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The examples' tests (examples/chatbot, examples/agent) run an example as a user would: built
// with the go command, against `oauthbroker demo`, typed into through its standard input.

// buildExample builds ./examples/NAME, or skips the test when the go command is not there.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH, so examples/%s cannot be built", name)
	}
	bin := filepath.Join(t.TempDir(), name)
	build := exec.Command(goCmd, "build", "-o", bin, "./examples/"+name)
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/%s: %v\n%s", name, err, out)
	}
	return bin
}

// startDemo runs `oauthbroker demo` on free ports until the test ends, and returns what it
// prints and logs.
func startDemo(t *testing.T) (out, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, logs = &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-listen", "127.0.0.1:0", "-chatbot-listen", testenv.FreeAddr(t)}, func(string) (string, bool) { return "", false }, out, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo returned %v", err)
		}
	})
	return out, logs
}

// exampleProcess is an example program running, with a pipe to its standard input.
type exampleProcess struct {
	t           *testing.T
	stdin       io.Writer
	out, errOut *syncBuffer
	exited      chan error
	stopped     bool
}

// startExample starts bin with env added to the test's environment; it is killed when the test
// ends, unless it exited.
func startExample(t *testing.T, bin string, env []string, args ...string) *exampleProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &exampleProcess{t: t, stdin: stdin, out: &syncBuffer{}, errOut: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if !p.stopped {
			cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// say types a line and returns where the output stood before it.
func (p *exampleProcess) say(line string) int {
	p.t.Helper()
	at := len(p.out.String())
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("typing %q: %v\n%s", line, err, p.out)
	}
	return at
}

// exit waits for the program to end by itself, and fails the test if it does not, or if it
// ends with an error or said anything on standard error.
func (p *exampleProcess) exit() {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.stopped = true
		if err != nil {
			p.t.Errorf("the example exited with %v\n%s", err, p.errOut)
		}
	case <-time.After(10 * time.Second):
		p.t.Fatal("the example did not finish")
	}
	if s := p.errOut.String(); s != "" {
		p.t.Errorf("the example complained:\n%s", s)
	}
}
