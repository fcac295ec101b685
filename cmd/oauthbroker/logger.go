package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/oauthbroker/oauthbroker/internal/logbuf"
)

// newLogger writes to w in format at level. When w is serve's buffer, the handler is logbuf's,
// which flushes after warnings and lets the request lines skip slog's general machinery.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: use debug, info, warn or error", level)
	}
	var f logbuf.Format
	switch format {
	case "text":
		f = logbuf.Text
	case "json":
		f = logbuf.JSON
	default:
		return nil, fmt.Errorf("-log-format %q: use text or json", format)
	}
	if lw, ok := w.(*logbuf.Writer); ok {
		return slog.New(logbuf.NewHandler(lw, f, lv)), nil
	}
	o := &slog.HandlerOptions{Level: lv}
	if f == logbuf.JSON {
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return slog.New(slog.NewTextHandler(w, o)), nil
}
