package broker

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are part of the API contract: bots switch on them, so they never change
// meaning. The HTTP edge maps each to a status (see httpapi and server); nothing here knows
// about HTTP.
const (
	CodeInvalidRequest   = "invalid_request"  // malformed or out-of-range input
	CodeUnauthorized     = "unauthorized"     // missing or wrong bot API key
	CodeUnknownBot       = "unknown_bot"      // no such bot
	CodeUnknownProvider  = "unknown_provider" // the bot has no such provider
	CodeNotFound         = "not_found"        // no such identity (for this bot)
	CodeLinkNotFound     = "link_not_found"   // no such link for this bot and provider
	CodeLinkExpired      = "link_expired"     // the link is past its expiry
	CodeLinkUsed         = "link_used"        // the link already linked an account
	CodeFlowMissing      = "flow_missing"     // the callback came without this browser's flow cookie
	CodeFlowInvalid      = "flow_invalid"     // state mismatch, a replayed callback, or a flow of another link
	CodeFlowExpired      = "flow_expired"     // the browser took too long between auth and callback
	CodeAccessDenied     = "access_denied"    // the user cancelled at the provider
	CodeUpstream         = "provider_error"   // the provider was unreachable or misbehaved
	CodeRelinkRequired   = "relink_required"  // the provider no longer accepts the stored tokens
	CodeIdentityPending  = "identity_pending" // a confirm: code identity not confirmed yet
	CodeWrongCode        = "wrong_code"       // confirmation code did not match
	CodeNoConfirmation   = "no_pending_confirmation"
	CodeConfirmDisabled  = "confirm_not_enabled" // links/confirm on a bot with confirm: none
	CodeTokenUnreadable  = "token_unreadable"    // a sealed token cannot be opened: key lost or data corrupt
	CodeRedirectRejected = "redirect_url_not_allowed"
	// CodeRefreshUnavailable: the stored token has expired and the provider could not be
	// asked for a new one just now (timeout, 5xx); Error.RetryAfter says when to try again.
	CodeRefreshUnavailable = "refresh_unavailable"
	CodeInternal           = "internal"
)

// Error is the one error type the broker returns for anything a caller can act on.
// Message is safe to show to the caller; Err is the cause, for operators' logs only.
type Error struct {
	Code    string
	Message string
	Err     error
	// RetryAfter, when positive, is how long the caller should wait before trying again.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func wrapError(err error, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of err, CodeInternal for anything that is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the caller-safe message of err; internal errors get a generic one
// so no detail (SQL, file paths, upstream bodies) reaches a bot or a browser.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return e.Message
	}
	return "internal error; the operator's log has the details"
}
