package testenv

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
)

// Setup is the testing.TB of what a package's TestMain starts before its tests and Examples
// run (a broker the Examples share, say), where the testing package gives none: Fatal ends
// the run, Error marks it failed, and Close runs the cleanups, newest first.
type Setup struct {
	testing.TB // only to satisfy the interface: every method used here is Setup's own

	name     string
	mu       sync.Mutex
	failed   bool
	cleanups []func()
	ctx      context.Context
	cancel   context.CancelFunc
}

// NewSetup is a Setup named name (as in its messages).
func NewSetup(name string) *Setup {
	ctx, cancel := context.WithCancel(context.Background())
	return &Setup{name: name, ctx: ctx, cancel: cancel}
}

func (s *Setup) Helper()                  {}
func (s *Setup) Name() string             { return s.name }
func (s *Setup) Context() context.Context { return s.ctx }
func (s *Setup) Log(args ...any)          { fmt.Fprintln(os.Stderr, append([]any{s.name + ":"}, args...)...) }
func (s *Setup) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, s.name+": "+format+"\n", args...)
}

func (s *Setup) Error(args ...any) { s.Log(args...); s.fail() }
func (s *Setup) Errorf(format string, args ...any) {
	s.Logf(format, args...)
	s.fail()
}
func (s *Setup) Fatal(args ...any) { s.Log(args...); s.Close(); os.Exit(1) }
func (s *Setup) Fatalf(format string, args ...any) {
	s.Logf(format, args...)
	s.Close()
	os.Exit(1)
}

func (s *Setup) fail() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = true
}

// Failed reports whether Error was called.
func (s *Setup) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *Setup) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// TempDir is a new directory, removed by Close.
func (s *Setup) TempDir() string {
	dir, err := os.MkdirTemp("", "testenv-setup-")
	if err != nil {
		s.Fatal(err)
	}
	s.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Close runs the cleanups, newest first.
func (s *Setup) Close() {
	s.mu.Lock()
	fs := slices.Clone(s.cleanups)
	s.cleanups = nil
	s.mu.Unlock()
	s.cancel()
	for _, f := range slices.Backward(fs) {
		f()
	}
}
