package providers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"strings"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/oauthbroker/internal/oauth1"
)

// ErrUpstream is wrapped by every failure of a provider: unreachable, too slow, a non-2xx
// answer, a malformed answer, a profile without a user id, or a panic inside goth. The
// broker shows it as "provider unreachable or misbehaving" (502).
var ErrUpstream = errors.New("provider failed")

// ErrInvalidGrant is wrapped (together with ErrUpstream) when the provider refused a
// refresh token or code with RFC 6749's `invalid_grant`: the identity must be re-linked.
var ErrInvalidGrant = errors.New("provider refused the grant (invalid_grant)")

// ErrInvalidInput is returned for a mistake of the caller, not of the provider: a malformed
// scope or code challenge, a callback without its code or verifier, an oauth_token that is
// not the flow's request token, a session of another provider type.
var ErrInvalidInput = errors.New("invalid input")

// ErrNoRevocation is returned by Revoke for a provider without a revocation endpoint.
var ErrNoRevocation = errors.New("provider has no revocation endpoint")

// UpstreamError describes one failed call to a provider. Its message is built from facts we
// chose to keep (step, status, RFC 6749 error code, a redacted URL) and never from the
// cause's own text: an oauth2.RetrieveError carries the response body, a url.Error the
// query string (goth sends Google's and GitLab's access tokens there). The cause is
// therefore not wrapped either, so no caller can print it by accident.
type UpstreamError struct {
	Provider  string // bot/provider
	Step      string // "discovery", "request token", "exchange", "profile", "refresh", "revoke", …
	Status    int    // HTTP status the provider answered, 0 when there was no answer
	OAuthCode string // RFC 6749 §5.2 error code, when the provider sent one
	Timeout   bool   // the call ran out of time
	Reason    string // redacted description
}

func (e *UpstreamError) Error() string {
	var b strings.Builder
	b.WriteString("providers: ")
	if e.Provider != "" {
		b.WriteString(e.Provider + ": ")
	}
	b.WriteString(e.Step + " failed")
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrUpstream) true for every UpstreamError, and
// errors.Is(err, ErrInvalidGrant) true when the provider said invalid_grant.
func (e *UpstreamError) Is(target error) bool {
	return target == ErrUpstream || (target == ErrInvalidGrant && e.OAuthCode == "invalid_grant")
}

// rfc6749Code matches an RFC 6749 error code; anything else a provider puts in `error` is
// not repeated, since it is free text we do not control.
var rfc6749Code = regexp.MustCompile(`^[a-z_]{1,64}$`)

// urlWithQuery matches a URL's query string or fragment inside free text.
var urlWithQuery = regexp.MustCompile(`(https?://[^\s"'?#]*)[?#][^\s"']*`)

// upstream turns any error from a provider call into an *UpstreamError for step.
// secrets are values known to the caller (client secret, code, verifier, tokens) that are
// cut out of whatever text survives.
func upstream(step string, err error, secrets ...string) *UpstreamError {
	var ue *UpstreamError
	if errors.As(err, &ue) {
		c := *ue
		if c.Step == "" {
			c.Step = step
		}
		c.Reason = scrub(c.Reason, secrets)
		return &c
	}
	e := &UpstreamError{Step: step}
	var (
		retrieve  *oauth2.RetrieveError
		urlErr    *url.Error
		status1   *oauth1.StatusError
		malformed *oauth1.MalformedError
	)
	switch {
	case errors.As(err, &retrieve):
		if retrieve.Response != nil {
			e.Status = retrieve.Response.StatusCode
		}
		if rfc6749Code.MatchString(retrieve.ErrorCode) {
			e.OAuthCode = retrieve.ErrorCode
		}
		e.Reason = fmt.Sprintf("token endpoint answered HTTP %d", e.Status)
		if e.OAuthCode != "" {
			e.Reason += " " + e.OAuthCode
		}
	case errors.As(err, &urlErr):
		e.Timeout = urlErr.Timeout() || errors.Is(urlErr.Err, context.DeadlineExceeded)
		inner := "timeout"
		if !e.Timeout {
			inner = firstLine(urlErr.Err.Error())
		}
		e.Reason = fmt.Sprintf("%s %s: %s", urlErr.Op, redactURL(urlErr.URL), inner)
	case errors.As(err, &status1):
		e.Status = status1.Status
		e.Reason = fmt.Sprintf("%s answered HTTP %d", status1.Step, status1.Status)
	case errors.As(err, &malformed):
		e.Reason = "malformed " + malformed.Step + " answer"
	case errors.Is(err, context.DeadlineExceeded):
		e.Timeout = true
		e.Reason = "timeout"
	default:
		msg := err.Error()
		if strings.Contains(msg, "Client.Timeout exceeded") || strings.Contains(msg, "deadline exceeded") {
			e.Timeout = true
		}
		e.Reason = firstLine(msg)
	}
	e.Reason = scrub(e.Reason, secrets)
	return e
}

// panicked is the error for a panic recovered from goth: the value's type and, for a
// runtime error ("interface conversion: interface {} is nil, not string"), its message,
// which names types, never data. No stack: it would only go to a log that must stay short.
func panicked(step string, v any) *UpstreamError {
	reason := fmt.Sprintf("provider code panicked (%T)", v)
	if re, ok := v.(runtime.Error); ok {
		reason = "provider code panicked: " + firstLine(re.Error())
	}
	return &UpstreamError{Step: step, Reason: reason}
}

// guard runs f and turns a panic into an *UpstreamError: goth type-asserts JSON fields
// (twitter's profile, OIDC's `exp`, Google's `id_token`) and a provider answering with an
// unexpected shape must cost one failed link, not the process.
func guard(step string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked(step, v)
		}
	}()
	return f()
}

// redactURL keeps scheme, host and path: enough to tell which endpoint failed.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	out := u.Scheme + "://" + u.Host + u.Path
	if u.RawQuery != "" {
		out += "?…"
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// scrub removes query strings and every known secret from text.
func scrub(s string, secrets []string) string {
	s = urlWithQuery.ReplaceAllString(s, "$1?…")
	for _, v := range secrets {
		// Short values ("1", "a") would shred the message without protecting anything.
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}
