package logbuf_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/logbuf"
)

// BenchmarkRequestLine is the broker's line per request (the request middleware's
// attributes) written to a file, as serve's standard error often is: through slog's text
// handler with each line written at once; through serve's handler and buffer with its
// defaults; and that handler's line built by WritePlain, as the broker writes it.
func BenchmarkRequestLine(b *testing.B) {
	for _, name := range []string{"unbuffered", "buffered", "plain"} {
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var h slog.Handler = slog.NewTextHandler(f, nil)
			if name != "unbuffered" {
				w := logbuf.New(f, logbuf.DefaultSize, logbuf.DefaultInterval)
				defer w.Close()
				h = logbuf.NewHandler(w, logbuf.Text, slog.LevelInfo)
			}
			log := slog.New(h)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					attrs := [...]slog.Attr{slog.String("request_id", "0123456789abcdef"), slog.String("method", "GET"),
						slog.String("path", "/api/v1/bots/supportbot/identities/123456/credentials"),
						slog.Int("status", 200), slog.Int64("duration_ms", time.Millisecond.Milliseconds())}
					if name == "plain" {
						if !logbuf.WritePlain(h, time.Now(), slog.LevelInfo, "http request", attrs[:]) {
							b.Fatal("the line was not written plain")
						}
						continue
					}
					log.LogAttrs(b.Context(), slog.LevelInfo, "http request", attrs[:]...)
				}
			})
		})
	}
}
