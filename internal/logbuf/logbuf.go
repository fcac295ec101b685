// Package logbuf buffers log lines on their way to a file or standard error, so that a busy
// server does not pay a write system call per request line, without holding a line back for
// long: the buffer goes out when the next line would not fit, every flush interval (a crash
// or SIGKILL loses at most that much), at once after a warning or an error (NewHandler), and on
// Close. A line is never split: slog's handlers hand over each record in one Write, and the
// buffer takes it whole or, when it alone is larger than the buffer, writes it through.
//
// NewHandler is serve's handler, slog's text or JSON one on a Writer; WritePlain writes the
// same line for a record of plain strings and integers without slog's general machinery,
// for the line every request writes.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Defaults of serve's -log-buffer and -log-flush.
const (
	DefaultSize     = 64 << 10
	DefaultInterval = 200 * time.Millisecond
)

// Writer is a buffered io.Writer that flushes itself every interval. It is safe for
// concurrent use. Close flushes and stops the timer; writes after Close go straight through.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed bool

	stop chan struct{}
	done chan struct{}
}

// New buffers up to size bytes for w and flushes every interval (which must be positive).
func New(w io.Writer, size int, interval time.Duration) *Writer {
	b := &Writer{w: w, buf: make([]byte, 0, size), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(interval)
	return b
}

func (b *Writer) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Flush()
		}
	}
}

// Write buffers p, flushing the buffer first when p does not fit; a p larger than the whole
// buffer is written through at once.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(b.buf) {
			return b.w.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes out what the buffer holds.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *Writer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0] // a failed write drops the lines rather than growing without bound
	return err
}

// Close stops the timer and flushes. Closing twice is harmless.
func (b *Writer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	err := b.flushLocked()
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	return err
}

// handler is slog's handler writing to w, flushing w after every record at warn level or
// above: a warning or an error (a handler's panic, a failed close) is out before whatever
// follows it, even a crash.
type handler struct {
	slog.Handler
	w *Writer
	// plain: the format of slog's handler, for WritePlain; 0 once attributes or groups are
	// added, which WritePlain does not write.
	plain Format
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{Handler: h.Handler.WithAttrs(attrs), w: h.w}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{Handler: h.Handler.WithGroup(name), w: h.w}
}
