package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CodeUnknownBot was the code of a bot that does not exist.
//
// Deprecated: the API no longer sends it. An unknown bot answers 401 CodeUnauthorized, like
// a wrong key, so that bot names cannot be probed without a key.
const CodeUnknownBot = "unknown_bot"

// Error codes of the bot API. They never change meaning; switch on them (with errors.As or
// IsCode), not on Detail.
const (
	CodeInvalidRequest        = "invalid_request"          // 400: malformed or out-of-range input
	CodeRedirectNotAllowed    = "redirect_url_not_allowed" // 400: redirect_url outside the bot's redirect_origins
	CodeConfirmNotEnabled     = "confirm_not_enabled"      // 400: Confirm on a bot with confirm: none
	CodeUnauthorized          = "unauthorized"             // 401: no key, not a key of this bot, or no such bot
	CodeUnknownProvider       = "unknown_provider"         // 404: the bot has no such provider
	CodeNotFound              = "not_found"                // 404: no such identity for this bot
	CodeRouteNotFound         = "route_not_found"          // 404: no such API route (a client older or newer than the broker)
	CodeMethodNotAllowed      = "method_not_allowed"       // 405
	CodeRelinkRequired        = "relink_required"          // 409: the provider no longer accepts the tokens; send a new link
	CodeIdentityPending       = "identity_pending"         // 409: waits for its confirmation code
	CodeWrongCode             = "wrong_code"               // 422: not the code shown to this user
	CodeNoPendingConfirmation = "no_pending_confirmation"  // 422: nothing to confirm (any more); send a new link
	CodeTokenUnreadable       = "token_unreadable"         // 500: the broker cannot decrypt the stored token
	CodeRateLimited           = "rate_limited"             // 429: too many link-creating calls this minute; see RetryAfter
	CodeInternal              = "internal"                 // 500
	CodeRefreshUnavailable    = "refresh_unavailable"      // 503: expired and not refreshable right now; see RetryAfter
)

// Error is an error answer of the broker: its RFC 9457 problem details. An answer that is
// not problem+json (a proxy's error page, say) becomes an Error with an empty Code.
type Error struct {
	Status int    // the HTTP status
	Code   string // the stable code; "" when the answer was not problem+json
	Title  string
	Detail string // for people; may change between versions
	Type   string
	// RetryAfter is the answer's Retry-After (429 rate_limited, 503 refresh_unavailable), 0
	// when it had none.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("oauthbroker: HTTP %d: %s", e.Status, e.Detail)
	}
	return fmt.Sprintf("oauthbroker: %d %s: %s", e.Status, e.Code, e.Detail)
}

// IsCode reports whether err is, or wraps, an *Error with this code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// errorOf turns a non-success answer into an *Error.
func errorOf(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 && secs < math.MaxInt32 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") && json.Unmarshal(body, &p) == nil && p.Code != "" {
		e.Code, e.Type, e.Detail = p.Code, p.Type, p.Detail
		if p.Title != "" {
			e.Title = p.Title
		}
		return e
	}
	e.Detail = "the answer is not application/problem+json"
	return e
}
