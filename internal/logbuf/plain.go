package logbuf

import (
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Format is the layout of a NewHandler's records: those of slog's own handlers.
type Format int

const (
	Text Format = iota + 1 // slog.TextHandler's key=value
	JSON                   // slog.JSONHandler's one object per line
)

// NewHandler is slog's text or JSON handler, with no option but the level, writing to w and
// flushing it after every record at warn level or above. What it writes can also be written
// by WritePlain, which builds the same line without slog's general machinery.
func NewHandler(w *Writer, f Format, level slog.Leveler) slog.Handler {
	o := &slog.HandlerOptions{Level: level}
	if f == JSON {
		return &handler{Handler: slog.NewJSONHandler(w, o), w: w, plain: JSON}
	}
	return &handler{Handler: slog.NewTextHandler(w, o), w: w, plain: Text}
}

// WritePlain writes the record (t, level, msg, attrs) to h's writer byte for byte as h would
// write it, and reports whether it did. It does when h came from NewHandler (no attributes or
// groups added since) and the record is plain: every attribute a string or an integer, and
// every key, value and the message printable ASCII. Otherwise it writes nothing and the
// caller logs through slog. It is for a line written on every request: slog's handlers go
// through their general state, each attribute's kind and its quoting for every record. The
// caller checks h.Enabled first, as slog.Logger does.
func WritePlain(h slog.Handler, t time.Time, level slog.Level, msg string, attrs []slog.Attr) bool {
	lh, ok := h.(*handler)
	if !ok || lh.plain == 0 {
		return false
	}
	bp := lines.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledLine {
			lines.Put(bp)
		}
	}()
	b, ok := appendPlain((*bp)[:0], lh.plain, t, level, msg, attrs)
	*bp = b
	if !ok {
		return false
	}
	_, _ = lh.w.Write(b)
	if level >= slog.LevelWarn {
		_ = lh.w.Flush()
	}
	return true
}

// maxPooledLine keeps one long line from pinning its buffer in the pool.
const maxPooledLine = 4 << 10

var lines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendPlain appends the line as slog's handler of format f writes it: time (RFC 3339 with
// milliseconds in text, with nanoseconds in JSON, the monotonic reading dropped), level,
// message, then the attributes in order, and a newline.
func appendPlain(b []byte, f Format, t time.Time, level slog.Level, msg string, attrs []slog.Attr) ([]byte, bool) {
	sep := ""
	key := func(k string) bool {
		if !printable(k) {
			return false
		}
		b = append(b, sep...)
		b = appendPlainString(b, f, k)
		if f == JSON {
			b = append(b, ':')
			sep = ","
		} else {
			b = append(b, '=')
			sep = " "
		}
		return true
	}
	if f == JSON {
		b = append(b, '{')
	}
	if !t.IsZero() {
		t = t.Round(0)
		key(slog.TimeKey)
		if f == JSON {
			if y := t.Year(); y < 0 || y > 9999 {
				return b, false // slog writes an error in its place
			}
			b = append(b, '"')
			b = t.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		} else {
			b = appendRFC3339Millis(b, t)
		}
	}
	key(slog.LevelKey)
	b = appendPlainString(b, f, level.String())
	key(slog.MessageKey)
	if !printable(msg) {
		return b, false
	}
	b = appendPlainString(b, f, msg)
	for _, a := range attrs {
		if a.Key == "" || !key(a.Key) {
			return b, false
		}
		switch a.Value.Kind() {
		case slog.KindString:
			s := a.Value.String()
			if !printable(s) {
				return b, false
			}
			b = appendPlainString(b, f, s)
		case slog.KindInt64:
			b = strconv.AppendInt(b, a.Value.Int64(), 10)
		default:
			return b, false
		}
	}
	if f == JSON {
		b = append(b, '}')
	}
	return append(b, '\n'), true
}

// printable: s has only printable ASCII (space to tilde), the strings appendPlainString
// quotes as slog does.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// appendPlainString appends a printable string as slog does. JSON: in quotes, with a
// backslash before a quote or a backslash. Text: bare, unless it is empty or holds a space,
// an equals sign or a quote; then Go-quoted, which for printable ASCII also means a
// backslash before a quote or a backslash.
func appendPlainString(b []byte, f Format, s string) []byte {
	if f == Text {
		quote := s == ""
		for i := 0; i < len(s) && !quote; i++ {
			quote = s[i] == ' ' || s[i] == '=' || s[i] == '"'
		}
		if !quote {
			return append(b, s...)
		}
		return strconv.AppendQuote(b, s)
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', s[i])
			start = i + 1
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendRFC3339Millis is the text handler's time: RFC 3339 with exactly three digits of
// milliseconds, truncated. RFC3339Nano drops trailing zeros, so a tenth of a millisecond is
// added first and its digit cut.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}
