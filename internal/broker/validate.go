package broker

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Input rules (docs/openapi.yaml has them for bots). They are checked before anything is
// stored, so bad input changes nothing.
var (
	channelPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	// scopeToken is RFC 6749 §3.3's scope-token: printable ASCII except space, '"' and '\'.
	scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]{1,200}$`)
)

const (
	maxUserBytes = 256
	maxScopes    = 50
	maxUserLabel = 64 // a line on a phone's screen
)

// ValidateChatUser checks a chat user (channel and user id) by the rules every bot API route
// applies, for callers that receive one outside a request body (the MCP endpoint's headers).
func ValidateChatUser(channel, user string) error { return validateChannelUser(channel, user) }

// ValidateUserLabel checks a user label by the bot API's rule, for the same callers.
func ValidateUserLabel(label string) error { return validateUserLabel(label) }

func validateChannelUser(channel, user string) error {
	if !channelPattern.MatchString(channel) {
		return newError(CodeInvalidRequest, "channel must be 1-64 characters of A-Z a-z 0-9 . _ : -")
	}
	if user == "" || len(user) > maxUserBytes {
		return newError(CodeInvalidRequest, "user must be 1-%d bytes", maxUserBytes)
	}
	if !utf8.ValidString(user) {
		return newError(CodeInvalidRequest, "user must be valid UTF-8")
	}
	for _, r := range user {
		if unicode.IsControl(r) {
			return newError(CodeInvalidRequest, "user must not contain control characters")
		}
	}
	return nil
}

// validateUserLabel: at most maxUserLabel printable characters (no line breaks, no controls,
// no invisible format characters that could disguise what the connect page says).
func validateUserLabel(label string) error {
	if !utf8.ValidString(label) || utf8.RuneCountInString(label) > maxUserLabel ||
		strings.ContainsFunc(label, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return newError(CodeInvalidRequest, "user_label must be at most %d printable characters", maxUserLabel)
	}
	return nil
}

func validateScopes(scopes []string) error {
	if len(scopes) > maxScopes {
		return newError(CodeInvalidRequest, "at most %d scopes", maxScopes)
	}
	for _, s := range scopes {
		if !scopeToken.MatchString(s) {
			return newError(CodeInvalidRequest, "scope %q is not a valid OAuth scope token", truncate(s, 40))
		}
	}
	return nil
}

// ValidateRedirectURL checks a link's redirect_url against the bot's redirect_origins. It
// parses the URL and compares origins exactly, instead of matching prefixes of the string:
// prefix checks are what `https://bot.example.evil.com`, `https://bot.example@evil.com`,
// `//evil.com` and `https:\\evil.com` get past.
func ValidateRedirectURL(raw string, origins []string) error {
	if len(origins) == 0 {
		return newError(CodeRedirectRejected, "this bot has no redirect_origins configured, so links cannot carry a redirect_url")
	}
	reject := func(why string) error {
		return newError(CodeRedirectRejected, "redirect_url %s; allowed origins: %s", why, strings.Join(origins, ", "))
	}
	if len(raw) > 2048 {
		return reject("is longer than 2048 bytes")
	}
	for _, r := range raw {
		// Browsers strip or reinterpret these (tabs, newlines, backslashes): a URL that
		// contains them means something else to the browser than to url.Parse.
		if r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) {
			return reject("contains a backslash, space or control character")
		}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return reject("must be an absolute http(s) URL")
	}
	if u.User != nil {
		return reject("must not contain user information")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return reject("must use http or https")
	}
	origin := Origin(u)
	for _, o := range origins {
		if origin == o {
			return nil
		}
	}
	return reject("is not on an allowed origin")
}

// Origin returns scheme://host[:port] of u, lower-cased, without the scheme's default port.
func Origin(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
