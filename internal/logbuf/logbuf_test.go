package logbuf_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/logbuf"
)

// sink records each Write it gets.
type sink struct {
	mu     sync.Mutex
	writes []string
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) text() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, ""), len(s.writes)
}

var wholeLine = regexp.MustCompile(`^time=\S+ level=INFO msg="http request" (g=\d+ i=\d+) pad="?x*"?$`)

func TestLinesAreBatchedWholeAndAllWrittenByClose(t *testing.T) {
	var s sink
	w := logbuf.New(&s, 1024, time.Hour)
	log := slog.New(slog.NewTextHandler(w, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				log.Info("http request", "g", g, "i", i, "pad", strings.Repeat("x", i%50))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	text, writes := s.text()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		m := wholeLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("a broken line: %q", l)
		}
		seen[m[1]] = true
	}
	if len(seen) != 1600 {
		t.Fatalf("%d distinct lines, want 1600", len(seen))
	}
	if writes > len(text)/1024*2+2 || writes < len(text)/1024 {
		t.Errorf("%d writes for %d bytes through a 1 KiB buffer", writes, len(text))
	}
	for _, wr := range s.writes {
		if len(wr) > 1024 || !strings.HasSuffix(wr, "\n") {
			t.Fatalf("a write of %d bytes that does not end a line", len(wr))
		}
	}
}

func TestTheIntervalFlushes(t *testing.T) {
	var s sink
	w := logbuf.New(&s, 1<<16, 20*time.Millisecond)
	defer w.Close()
	fmt.Fprintln(w, "one line")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if text, _ := s.text(); text == "one line\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the line was not written within 5 s of a 20 ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWarningsAndErrorsFlushAtOnce(t *testing.T) {
	var s sink
	w := logbuf.New(&s, 1<<16, time.Hour)
	defer w.Close()
	log := slog.New(logbuf.NewHandler(w, logbuf.Text, slog.LevelInfo)).With("component", "test")
	log.Info("held")
	if text, _ := s.text(); text != "" {
		t.Fatalf("an info line was written at once: %q", text)
	}
	log.WithGroup("g").Warn("warned")
	text, _ := s.text()
	if !strings.Contains(text, "msg=held component=test") || !strings.Contains(text, "msg=warned component=test") {
		t.Fatalf("after a warning: %q", text)
	}
}

func TestALineLargerThanTheBufferGoesThroughInOrder(t *testing.T) {
	var s sink
	w := logbuf.New(&s, 16, time.Hour)
	fmt.Fprint(w, "short\n")
	big := strings.Repeat("b", 40) + "\n"
	fmt.Fprint(w, big)
	fmt.Fprint(w, "after\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "closed\n") // after Close: straight through
	text, _ := s.text()
	if want := "short\n" + big + "after\nclosed\n"; text != want {
		t.Fatalf("got %q, want %q", text, want)
	}
	if !bytes.Equal([]byte(s.writes[1]), []byte(big)) {
		t.Fatalf("the large line was not one write: %q", s.writes)
	}
}
