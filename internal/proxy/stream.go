package proxy

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// bufferLimit is how much of a request body the proxy holds in memory. A body up to it can be
// sent twice (the retry after a 401); a longer one streams through and a 401 to it is passed
// back (after the refresh, so the bot's own retry gets the new token). It is also the most of
// an OAuth 1.0a form body providers.SignRequest will sign: form parameters are part of the
// signature, so such a body must be read whole.
const bufferLimit = 1 << 20

// body is the bot's request body, held in memory (data) or streaming (stream).
type body struct {
	data   []byte
	stream io.Reader
	length int64 // of a streaming body: the bot's Content-Length, -1 when it sent none
}

// readBody reads up to bufferLimit of the body, enforcing maxBody on all of it as it goes. It
// runs before the identity is opened, so a body the proxy refuses costs no token refresh.
func readBody(w http.ResponseWriter, r *http.Request, maxBody int64) (*body, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return &body{}, nil
	}
	limited := http.MaxBytesReader(w, r.Body, maxBody)
	head, err := io.ReadAll(io.LimitReader(limited, bufferLimit+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, tooLarge(maxBody)
	case err != nil:
		return nil, &broker.Error{Code: broker.CodeInvalidRequest, Message: "the request body could not be read", Err: err}
	case len(head) <= bufferLimit:
		return &body{data: head}, nil
	}
	return &body{stream: io.MultiReader(bytes.NewReader(head), limited), length: r.ContentLength}, nil
}

// signable refuses, before anything is sent, a form body that OAuth 1.0a cannot sign: one too
// long to hold whole, or one that is not a form (the signature covers its parameters).
func (b *body) signable(oauth1 bool, h http.Header) error {
	if !oauth1 || !isForm(h) {
		return nil
	}
	if b.stream != nil {
		return &broker.Error{Code: broker.CodePayloadTooLarge,
			Message: "an OAuth 1.0a form body is signed whole, so it may be at most " + strconv.Itoa(bufferLimit) + " bytes"}
	}
	if _, err := url.ParseQuery(string(b.data)); err != nil {
		return &broker.Error{Code: broker.CodeInvalidRequest, Message: "the form body is not valid application/x-www-form-urlencoded, so it cannot be signed"}
	}
	return nil
}

func isForm(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

// replayable reports whether the body can be sent again.
func (b *body) replayable() bool { return b.stream == nil }

// attach makes b the body of out. A streaming body can be attached once.
func (b *body) attach(out *http.Request) {
	switch {
	case b.stream != nil:
		out.Body, out.ContentLength = io.NopCloser(b.stream), b.length
	case len(b.data) > 0:
		data := b.data
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	default:
		out.Body, out.ContentLength = http.NoBody, 0
	}
}

// piece is one read of the provider's answer.
type piece struct {
	buf []byte
	n   int
	err error
}

// errCut is why an answer was cut off after its status went out.
var errCut = errors.New("the answer was cut off")

// stream copies the provider's answer to the bot as it arrives, flushing each piece so that
// a slow or long answer reaches the bot while it is being read. An answer that grows past
// maxReply, or fails while it is read, returns errCut: the caller then aborts the
// connection, because the status is out already and a cleanly ended body would pass a
// truncated answer off as a whole one; a cut connection is an error in any client.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, resp *http.Response, first piece, auth *broker.ProxyAuth, t *target) error {
	rc := http.NewResponseController(w)
	buf := first.buf
	var total int64
	for n, err := first.n, first.err; ; n, err = resp.Body.Read(buf) {
		if n > 0 {
			if total += int64(n); total > h.maxReply {
				h.log.WarnContext(r.Context(), "proxy: the provider's answer grew past server.proxy.max_response_body; cut off",
					"bot", auth.Bot, "identity", auth.IdentityID, "url", where(t.url), "limit", h.maxReply)
				return errCut
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the bot hung up: nobody is left to tell
			}
			_ = rc.Flush()
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			h.log.WarnContext(r.Context(), "proxy: reading the provider's answer failed; cut off",
				"bot", auth.Bot, "identity", auth.IdentityID, "url", where(t.url), "err", unwrapURLError(err))
			return errCut
		}
	}
}

// where is a URL for the log: without its query, which is the bot's data.
func where(u *url.URL) string { return u.Scheme + "://" + u.Host + u.EscapedPath() }

// unwrapURLError drops the *url.Error wrapper, whose message quotes the whole URL, query
// included.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
