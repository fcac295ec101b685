// Package proxy is the bot API's signing proxy (docs/API.md, acting as the user):
// ANY /api/v1/bots/{bot}/identities/{id}/proxy/{path…} sends the bot's request to the
// identity's provider, at the provider's API base URL plus path, signed as the identity
// (OAuth 1.0a HMAC-SHA1 for twitter, a bearer token for OAuth 2 types), and streams the
// answer back.
//
// It owns what is HTTP about acting as a user: which paths may be called (path.go), which
// headers cross in each direction (headers.go), body and answer size caps, the timeout, the
// per-bot rate limit, redirects (never followed), and retrying once after a 401 with a
// refreshed token. The broker owns the rest: the identity, its tokens (ProxyAuth signs, the
// tokens never come out), the refresh, usage counting. Every error it answers itself is a
// *broker.Error written by the bot API's error writer, so statuses are decided in one place.
//
// It imports broker and nothing of the store, the providers' internals or the HTTP server.
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// Methods are the methods the proxy answers: those of REST APIs. CONNECT and TRACE are not
// an API's, and OPTIONS is a browser's preflight, which a bot on a server does not send.
func Methods() []string {
	return []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
}

// Options are the proxy's dependencies besides the broker.
type Options struct {
	Logger *slog.Logger
	// WriteError answers a request the proxy refuses or fails, from a *broker.Error (the bot
	// API passes its problem+json writer).
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// Transport carries the calls to providers; nil: http.DefaultTransport at the time of
	// each call (tests replace it to reach local fakes at the providers' real hosts).
	Transport http.RoundTripper
}

// Handler is the proxy route's handler. It is safe for concurrent use.
type Handler struct {
	broker  *broker.Broker
	log     *slog.Logger
	fail    func(w http.ResponseWriter, r *http.Request, err error)
	client  *http.Client
	limiter *httprate.RateLimiter // nil: no rate limit

	timeout           time.Duration
	maxBody, maxReply int64
}

// New returns the proxy handler for the route /bots/{bot}/identities/{id}/proxy/*, which
// must sit behind the bot API's key check. Limits come from the broker's configuration.
func New(b *broker.Broker, opts Options) *Handler {
	cfg := b.Config().Server
	h := &Handler{
		broker: b, log: opts.Logger, fail: opts.WriteError,
		// A redirect is never followed: the answer goes back to the bot (headers.go says how),
		// so the broker signs and sends nothing to a URL the provider names.
		client: &http.Client{Transport: opts.Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		timeout: cfg.OutboundTimeout, maxBody: cfg.Proxy.MaxRequestBody, maxReply: cfg.Proxy.MaxResponseBody,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.timeout <= 0 {
		h.timeout = 10 * time.Second
	}
	if cfg.Proxy.RateLimit > 0 {
		// No response headers of its own: X-RateLimit-* on a proxied answer are the provider's.
		h.limiter = httprate.NewRateLimiter(cfg.Proxy.RateLimit, time.Minute, httprate.WithResponseHeaders(httprate.ResponseHeaders{}))
	}
	return h
}

// ServeHTTP checks the path before anything else, so a refused path costs no refresh and no
// outbound request; then the rate limit, the identity, and the call.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bot, idParam := chi.URLParam(r, "bot"), chi.URLParam(r, "id")
	identityID, err := strconv.ParseInt(idParam, 10, 64)
	if err != nil || identityID <= 0 {
		h.fail(w, r, &broker.Error{Code: broker.CodeNotFound, Message: "identity ids are positive integers"})
		return
	}
	prefix, rest, ok := splitPath(r.URL.EscapedPath(), idParam)
	if !ok {
		h.fail(w, r, &broker.Error{Code: broker.CodeProxyPathRejected, Message: "the path is not under …/proxy/"})
		return
	}
	decoded, err := checkPath(rest)
	if err != nil {
		h.fail(w, r, &broker.Error{Code: broker.CodeProxyPathRejected, Message: err.Error() + "; send a path relative to the provider's API, like /proxy/user/repos"})
		return
	}
	if h.limiter != nil && h.limiter.OnLimit(w, r, bot) {
		h.fail(w, r, &broker.Error{Code: broker.CodeRateLimited, RetryAfter: time.Minute,
			Message: "this bot made more proxied calls in the last minute than server.proxy.rate_limit allows; retry later"})
		return
	}
	if r.ContentLength > h.maxBody {
		h.fail(w, r, tooLarge(h.maxBody))
		return
	}
	body, err := readBody(w, r, h.maxBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	auth, err := h.broker.ProxyAuth(r.Context(), bot, identityID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := body.signable(auth.OAuth1, r.Header); err != nil {
		h.fail(w, r, err)
		return
	}
	t, err := newTarget(auth.BaseURL, prefix, rest, decoded, r.URL.RawQuery)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// From here on the call goes to the provider, and counts as a use of the identity
	// whatever comes of it; what was refused above never reached anyone.
	status, err := h.call(w, r, auth, t, body)
	h.broker.RecordProxyCall(r.Context(), auth, status)
	if errors.Is(err, errCut) {
		panic(http.ErrAbortHandler) // net/http's way to cut the connection; see stream
	}
}

// call makes the proxied call and answers the bot. It returns the status the bot got, and
// errCut when the answer must be cut off.
func (h *Handler) call(w http.ResponseWriter, r *http.Request, auth *broker.ProxyAuth, t *target, body *body) (int, error) {
	// One deadline for the whole exchange, the answer's body included: a provider that
	// trickles bytes holds the bot's request no longer than one that does not answer.
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	resp, err := h.send(ctx, r, auth, t, body)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		// A body that streamed through cannot be sent again: its 401 goes back to the bot,
		// but the refresh still happens, so the bot's own retry carries the new token.
		again, rerr := auth.RefreshAfterRejection(r.Context())
		switch {
		case rerr != nil:
			resp.Body.Close()
			return h.refuse(w, r, rerr), nil
		case again && body.replayable():
			resp.Body.Close()
			resp, err = h.send(ctx, r, auth, t, body)
		}
	}
	if err != nil {
		return h.refuse(w, r, h.upstreamError(ctx, r, auth, t, err)), nil
	}
	defer resp.Body.Close()
	if resp.ContentLength > h.maxReply && r.Method != http.MethodHead {
		// Refused before a byte of it is read or any header is sent: the bot gets a problem,
		// not a cut-off answer.
		return h.refuse(w, r, &broker.Error{Code: broker.CodeResponseTooLarge,
			Message: "the provider's answer is " + strconv.FormatInt(resp.ContentLength, 10) + " bytes, over server.proxy.max_response_body (" + strconv.FormatInt(h.maxReply, 10) + ")"}), nil
	}
	// The first piece of the answer is read before the status goes out, so that an answer
	// over the cap that arrives in one piece (the usual case for an API) is refused cleanly
	// rather than cut off.
	first := piece{buf: make([]byte, 32<<10)}
	if r.Method != http.MethodHead {
		first.n, first.err = resp.Body.Read(first.buf)
	}
	if int64(first.n) > h.maxReply {
		return h.refuse(w, r, &broker.Error{Code: broker.CodeResponseTooLarge,
			Message: "the provider's answer is over server.proxy.max_response_body (" + strconv.FormatInt(h.maxReply, 10) + " bytes)"}), nil
	}
	copyResponseHeaders(w.Header(), resp.Header, t, auth.IdentityID)
	if resp.ContentLength >= 0 && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, h.stream(w, r, resp, first, auth, t)
}

// send builds, signs and sends one outbound request. Each attempt is a new request with a new
// signature (OAuth 1.0a nonces are single-use).
func (h *Handler) send(ctx context.Context, r *http.Request, auth *broker.ProxyAuth, t *target, body *body) (*http.Response, error) {
	out, err := http.NewRequestWithContext(ctx, r.Method, t.url.String(), nil)
	if err != nil {
		return nil, &broker.Error{Code: broker.CodeInternal, Message: "building the request failed", Err: err}
	}
	out.URL = t.url // as built, with the bot's path encoding (String and back could change it)
	copyRequestHeaders(out.Header, r.Header)
	body.attach(out)
	if err := auth.Sign(out); err != nil {
		return nil, err
	}
	return h.client.Do(out)
}

// upstreamError turns a failed call into what the bot is told, and logs it for operators
// without the query (which is the bot's data) or anything of the request's headers.
func (h *Handler) upstreamError(ctx context.Context, r *http.Request, auth *broker.ProxyAuth, t *target, err error) error {
	var be *broker.Error
	if errors.As(err, &be) {
		return err // signing or refreshing failed: already a broker error
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return tooLarge(h.maxBody)
	}
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		h.log.WarnContext(ctx, "proxy: the provider did not answer in time", "bot", auth.Bot, "identity", auth.IdentityID,
			"method", r.Method, "url", where(t.url), "timeout", h.timeout.String())
		return &broker.Error{Code: broker.CodeProviderTimeout, Message: "the provider did not answer within " + h.timeout.String()}
	}
	h.log.WarnContext(ctx, "proxy: the call to the provider failed", "bot", auth.Bot, "identity", auth.IdentityID,
		"method", r.Method, "url", where(t.url), "err", unwrapURLError(err))
	return &broker.Error{Code: broker.CodeUpstream, Message: "the provider could not be reached", Err: unwrapURLError(err)}
}

// refuse answers with the broker's problem for err and returns its status, for the usage count.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) int {
	rec := &statusWriter{ResponseWriter: w}
	h.fail(rec, r, err)
	return rec.status
}

func tooLarge(limit int64) error {
	return &broker.Error{Code: broker.CodePayloadTooLarge,
		Message: "the request body is over server.proxy.max_request_body (" + strconv.FormatInt(limit, 10) + " bytes)"}
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}
