package logbuf_test

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/logbuf"
)

// TestWritePlainWritesWhatSlogWrites puts every line through WritePlain and through slog's
// own handler with the same options, and wants the same bytes, or false and nothing written.
func TestWritePlainWritesWhatSlogWrites(t *testing.T) {
	var strs []string
	for c := byte(0); c < 0x80; c++ {
		strs = append(strs, string(c), "a"+string(c)+"b")
	}
	strs = append(strs, "", "http request", "/api/v1/bots/b/identities/7/credentials", `a "quoted" \ path`,
		`back\slash`, "k=v", "tab\there", "é", "\u2028", "\xff", strings.Repeat("x", 5000))
	times := []time.Time{
		time.Now(), {}, time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 7, 6, 0, 0, 120_000_000, time.FixedZone("x", -(3*3600+1800))),
		time.Date(2026, 12, 7, 6, 0, 0, 999_999_999, time.Local), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	levels := []slog.Level{slog.LevelInfo, slog.LevelDebug - 4, slog.LevelWarn, slog.LevelError + 2}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return strs[rng.IntN(len(strs))] }
	plainLines := 0
	for _, f := range []logbuf.Format{logbuf.Text, logbuf.JSON} {
		for i := range 4000 {
			attrs := []slog.Attr{slog.String("request_id", "0123456789abcdef"), slog.String(pick(), pick()),
				slog.Int("status", 200), slog.Int64("n", rng.Int64N(math.MaxInt64)-math.MaxInt64/2)}
			switch i % 5 {
			case 1:
				attrs = append(attrs, slog.Bool("b", true)) // not plain
			case 2:
				attrs = attrs[:0]
			}
			tm, level, msg := times[i%len(times)], levels[i%len(levels)], pick()

			var fast, slow sink
			w := logbuf.New(&fast, 1<<16, time.Hour)
			wrote := logbuf.WritePlain(logbuf.NewHandler(w, f, slog.LevelDebug-8), tm, level, msg, attrs)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, _ := fast.text()
			sw := logbuf.New(&slow, 1<<16, time.Hour)
			r := slog.NewRecord(tm, level, msg, 0)
			r.AddAttrs(attrs...)
			if err := logbuf.NewHandler(sw, f, slog.LevelDebug-8).Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if err := sw.Close(); err != nil {
				t.Fatal(err)
			}
			want, _ := slow.text()
			switch {
			case !wrote && got != "":
				t.Fatalf("format %d: WritePlain said no but wrote %q", f, got)
			case wrote && got != want:
				t.Fatalf("format %d, record %v %v %q %v:\nWritePlain %q\nslog       %q", f, tm, level, msg, attrs, got, want)
			case wrote:
				plainLines++
			}
		}
	}
	if plainLines < 2000 {
		t.Fatalf("only %d of 8000 records were written plain: the test no longer covers the fast path", plainLines)
	}
}

// TestWritePlainDeclinesOtherHandlers: only a NewHandler handler as it came is known to write
// what WritePlain writes.
func TestWritePlainDeclinesOtherHandlers(t *testing.T) {
	var s sink
	w := logbuf.New(&s, 1<<16, time.Hour)
	attrs := []slog.Attr{slog.String("method", "GET")}
	for name, h := range map[string]slog.Handler{
		"WithAttrs": logbuf.NewHandler(w, logbuf.Text, slog.LevelInfo).WithAttrs([]slog.Attr{slog.String("c", "x")}),
		"WithGroup": logbuf.NewHandler(w, logbuf.JSON, slog.LevelInfo).WithGroup("g"),
		"slog's":    slog.NewTextHandler(w, nil),
	} {
		if logbuf.WritePlain(h, time.Now(), slog.LevelInfo, "m", attrs) {
			t.Errorf("%s: WritePlain wrote", name)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if text, _ := s.text(); text != "" {
		t.Fatalf("written: %q", text)
	}
}

// TestWritePlainFlushesWarnings as the handler does: a warning is out at once.
func TestWritePlainFlushesWarnings(t *testing.T) {
	var s sink
	w := logbuf.New(&s, 1<<16, time.Hour)
	defer w.Close()
	h := logbuf.NewHandler(w, logbuf.Text, slog.LevelInfo)
	if !logbuf.WritePlain(h, time.Now(), slog.LevelInfo, "held", nil) {
		t.Fatal("a plain record was not written")
	}
	if text, _ := s.text(); text != "" {
		t.Fatalf("an info line was written at once: %q", text)
	}
	if !logbuf.WritePlain(h, time.Now(), slog.LevelWarn, "warned", nil) {
		t.Fatal("a plain record was not written")
	}
	text, _ := s.text()
	if !strings.Contains(text, "level=INFO msg=held\n") || !bytes.HasSuffix([]byte(text), []byte("level=WARN msg=warned\n")) {
		t.Fatalf("after a warning: %q", text)
	}
}
