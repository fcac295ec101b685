package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// statusOf maps a broker error code to its HTTP status. This is the one place the bot API
// decides statuses.
func statusOf(code string) int {
	switch code {
	case broker.CodeInvalidRequest, broker.CodeRedirectRejected, broker.CodeConfirmDisabled, broker.CodeProxyPathRejected:
		return http.StatusBadRequest
	case broker.CodeUnauthorized:
		return http.StatusUnauthorized
	case broker.CodeUnknownBot, broker.CodeUnknownProvider, broker.CodeNotFound, broker.CodeLinkNotFound:
		return http.StatusNotFound
	case broker.CodeRelinkRequired, broker.CodeIdentityPending:
		return http.StatusConflict
	case broker.CodeLinkExpired, broker.CodeLinkUsed:
		return http.StatusGone
	case broker.CodeWrongCode, broker.CodeNoConfirmation:
		return http.StatusUnprocessableEntity
	case broker.CodeUpstream, broker.CodeResponseTooLarge:
		return http.StatusBadGateway
	case broker.CodeRefreshUnavailable:
		return http.StatusServiceUnavailable
	case broker.CodePayloadTooLarge: // the API proxy's own answers, from here on
		return http.StatusRequestEntityTooLarge
	case broker.CodeRateLimited:
		return http.StatusTooManyRequests
	case broker.CodeProxyNotConfigured:
		return http.StatusNotImplemented
	case broker.CodeProviderTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// problem is an RFC 9457 problem details body with our stable `code` member.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// writeError answers with problem+json. Internal causes go to the log, never to the bot.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := broker.ErrorCode(err)
	status := statusOf(code)
	if status >= 500 && status != http.StatusServiceUnavailable {
		a.log.ErrorContext(r.Context(), "api: request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	// RFC 9110 §10.2.3: a 503 says when to come back, in whole seconds.
	var be *broker.Error
	if errors.As(err, &be) && be.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(be.RetryAfter.Seconds()))))
	}
	WriteProblem(w, status, code, broker.ErrorMessage(err))
}

// WriteProblem answers with an RFC 9457 problem+json body carrying a stable code: the bot
// API's error shape, also for answers given on its behalf (the server's, /mcp's).
func WriteProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{
		Type:   "https://oauthbroker.dev/problems/" + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// maxBody bounds every JSON request body: the largest legitimate one (require with 20
// providers and their scopes) is a few kilobytes.
const maxBody = 64 << 10

// decode reads exactly one JSON object with no unknown fields into v. Every string in it must
// be valid UTF-8 (invalidUTF8Field): this is the one decoder of every JSON route.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &broker.Error{Code: broker.CodeInvalidRequest, Message: "send the body as application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &broker.Error{Code: broker.CodeInvalidRequest, Message: "the body is larger than 64 KiB"}
		}
		return &broker.Error{Code: broker.CodeInvalidRequest, Message: "the body could not be read", Err: err}
	}
	if field := invalidUTF8Field(body); field != "" {
		return &broker.Error{Code: broker.CodeInvalidRequest, Message: "field " + field + " is not valid UTF-8 (or holds an escaped lone surrogate)"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &broker.Error{Code: broker.CodeInvalidRequest, Message: "the body is not valid JSON for this route: " + jsonReason(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &broker.Error{Code: broker.CodeInvalidRequest, Message: "the body must hold exactly one JSON object"}
	}
	return nil
}

// jsonReason keeps decoder errors useful but short, without echoing the input.
func jsonReason(err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return "field " + typeErr.Field + " must be " + typeErr.Type.String()
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	return "malformed JSON"
}
