package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// botAPI calls the bot API in-process, as the session's bot: the same handler, key check and
// guards as a bot's HTTP request, without a network hop.
type botAPI struct{ h http.Handler }

// apiAnswer is the bot API's answer, its body held up to a limit.
type apiAnswer struct {
	status int
	header http.Header
	body   []byte // the first limit bytes
	size   int64  // every byte written
	// cut is set when the handler aborted the answer after its status went out (the proxy
	// does when a provider's answer grows past server.proxy.max_response_body or breaks off).
	cut bool
}

// do sends one request. path is relative to /api/v1 and escaped as it should be sent.
func (a botAPI) do(ctx context.Context, c *caller, method, path, rawQuery string, header http.Header, body []byte, limit int) (ans *apiAnswer, err error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	target := "http://oauthbroker.internal" + path
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, &toolError{Code: broker.CodeProxyPathRejected, Message: "the path is not a valid URL path: " + unquoteURLError(err),
			NextStep: "send a path relative to the provider's API base, percent-encoded, without ? or #"}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	w := &capture{header: http.Header{}, limit: limit}
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			w.cut = true
			ans, err = w.answer(), nil
		}
	}()
	a.h.ServeHTTP(w, req)
	return w.answer(), nil
}

// unquoteURLError is url's parse error without the URL it quotes (the path may be long).
func unquoteURLError(err error) string {
	type causer interface{ Unwrap() error }
	if u, ok := err.(causer); ok && u.Unwrap() != nil {
		return u.Unwrap().Error()
	}
	return err.Error()
}

// json sends a JSON body (or none) and decodes a 2xx JSON answer into out; any other answer is
// the API's error.
func (a botAPI) json(ctx context.Context, c *caller, method, path, rawQuery string, in, out any) error {
	var body []byte
	header := http.Header{}
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("mcpserver: encoding a bot API request: %w", err)
		}
		header.Set("Content-Type", "application/json")
	}
	ans, err := a.do(ctx, c, method, path, rawQuery, header, body, 4<<20)
	if err != nil {
		return err
	}
	if ans.status/100 != 2 {
		return ans.problem()
	}
	if ans.size > int64(len(ans.body)) {
		return fmt.Errorf("mcpserver: %s %s answered more than %d bytes", method, path, len(ans.body))
	}
	if err := json.Unmarshal(ans.body, out); err != nil {
		return fmt.Errorf("mcpserver: decoding the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// problem is the broker's own error answer (RFC 9457 problem+json with a code) as a tool
// error.
func (ans *apiAnswer) problem() *toolError {
	var p struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	mt, _, _ := mime.ParseMediaType(ans.header.Get("Content-Type"))
	if mt != "application/problem+json" || json.Unmarshal(ans.body, &p) != nil || p.Code == "" {
		return &toolError{Code: broker.CodeInternal, Message: fmt.Sprintf("the broker answered %d unexpectedly; the operator's log has the details", ans.status)}
	}
	te := &toolError{Code: p.Code, Message: p.Detail}
	if secs, err := strconv.Atoi(ans.header.Get("Retry-After")); err == nil && secs > 0 {
		te.RetryAfterSeconds = secs
	}
	return te
}

// capture is the ResponseWriter of an in-process call: it keeps the status, the headers and
// the first limit bytes of the body, and counts the rest.
type capture struct {
	status int
	header http.Header
	body   bytes.Buffer
	size   int64
	limit  int
	cut    bool
}

func (w *capture) Header() http.Header { return w.header }

func (w *capture) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *capture) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.size += int64(len(p))
	if room := w.limit - w.body.Len(); room > 0 {
		w.body.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// Flush is a no-op: the whole answer is read before the tool answers.
func (w *capture) Flush() {}

func (w *capture) answer() *apiAnswer {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &apiAnswer{status: w.status, header: w.header, body: w.body.Bytes(), size: w.size, cut: w.cut}
}
