package logbuf_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/logbuf"
)

// BenchmarkRequestLine is the broker's line per request (slog's text handler, the request
// middleware's attributes) written to a file, as serve's standard error often is: each line
// written at once, and through the buffer with serve's defaults.
func BenchmarkRequestLine(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		name := "unbuffered"
		if buffered {
			name = "buffered"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var h slog.Handler = slog.NewTextHandler(f, nil)
			if buffered {
				w := logbuf.New(f, logbuf.DefaultSize, logbuf.DefaultInterval)
				defer w.Close()
				h = logbuf.Handler(slog.NewTextHandler(w, nil), w)
			}
			log := slog.New(h)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					log.LogAttrs(b.Context(), slog.LevelInfo, "http request",
						slog.String("request_id", "0123456789abcdef"), slog.String("method", "GET"),
						slog.String("path", "/api/v1/bots/supportbot/identities/123456/credentials"),
						slog.Int("status", 200), slog.Int64("duration_ms", time.Millisecond.Milliseconds()))
				}
			})
		})
	}
}
