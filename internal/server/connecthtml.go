package server

import (
	"strconv"
	"strings"
	"sync"
)

// appendConnectPage appends the connect page for v: exactly the bytes templates/connect.html
// (in layout.html) renders for it, escaping included. Every page view renders it (twice per
// flow), and html/template's engine cost more than the rest of the page's request outside the
// store: a reflective call per field and per escaper. connect.html stays the page's reference;
// TestConnectPageMatchesTemplate renders both for every state of the page and awkward values in
// each field, so a change to one without the other fails.
//
// Escaping is html/template's for each place a value goes: text and quoted attribute values
// through its HTML replacement table (htmlText), the two URL attributes (a form's action, the
// Continue button's href) through its URL filter and normalizer first (htmlURL).
func appendConnectPage(b []byte, v *connectPage) []byte {
	b = append(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"+
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"...)
	switch {
	case v.Complete:
		b = append(b, "All set"...)
	case v.Cancelled:
		b = append(b, "Cancelled"...)
	default:
		b = append(b, "Connect your accounts"...)
	}
	b = append(b, " · "...)
	b = htmlText(b, v.BotName)
	b = append(b, " · oauthbroker</title>\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n\n</head>\n<body>\n<main class=\"card\">\n"+
		"\n<section class=\"connect\" data-connect=\""...)
	switch {
	case v.Complete:
		b = append(b, "complete"...)
	case v.Cancelled:
		b = append(b, "cancelled"...)
	default:
		b = append(b, "open"...)
	}
	b = append(b, "\">\n<p class=\"who\"><strong>"...)
	b = htmlText(b, v.BotName)
	b = append(b, "</strong> asks to connect "...)
	if len(v.Providers) > 1 {
		b = append(b, "these accounts"...)
	} else {
		b = append(b, "an account"...)
	}
	b = append(b, " for\n"...)
	if v.UserLabel != "" {
		b = append(b, "<strong class=\"user\">"...)
		b = htmlText(b, v.UserLabel)
		b = append(b, "</strong>"...)
	} else {
		b = append(b, "<strong class=\"user\">"...)
		b = htmlText(b, v.UserID)
		b = append(b, "</strong> on "...)
		b = htmlText(b, v.Channel)
	}
	b = append(b, ".</p>\n"...)
	switch {
	case v.Complete:
		b = append(b, "\n<p class=\"badge ok\">Linked</p>\n<h1>"...)
		switch {
		case v.Code != "":
			b = append(b, "One more step: type the code in the chat"...)
		case v.Confirm:
			b = append(b, "One more step: the code in the chat"...)
		default:
			b = append(b, "All set: go back to the chat"...)
		}
		b = append(b, "</h1>\n"...)
	case v.Cancelled:
		b = append(b, "\n<p class=\"badge err\">Cancelled</p>\n<h1>Nothing more will be linked with this link</h1>\n"...)
	default:
		b = append(b, "\n<h1>Connect your accounts</h1>\n"...)
	}
	b = append(b, "\n<ul class=\"providers\">\n"...)
	for i := range v.Providers {
		p := &v.Providers[i]
		b = append(b, "<li data-provider=\""...)
		b = htmlText(b, p.Name)
		if p.Linked {
			b = append(b, "\" data-state=\"linked\">\n<span class=\"provider\">"...)
		} else {
			b = append(b, "\" data-state=\"not_linked\">\n<span class=\"provider\">"...)
		}
		b = htmlText(b, p.Title)
		b = append(b, "</span>\n"...)
		switch {
		case p.Linked:
			b = append(b, "<span class=\"state ok\">Linked"...)
			if p.Account != "" {
				b = append(b, " as <span class=\"account\">"...)
				b = htmlText(b, p.Account)
				b = append(b, "</span>"...)
			}
			b = append(b, "</span>\n"...)
		case v.Complete || v.Cancelled:
			b = append(b, "<span class=\"state\">Not linked</span>\n"...)
		default:
			b = append(b, "<form method=\"post\" action=\""...)
			b = htmlURL(b, p.Action)
			b = append(b, "\" data-provider=\""...)
			b = htmlText(b, p.Name)
			b = append(b, '"')
			b = appendFormFields(b, v)
			b = append(b, "<button type=\"submit\">Connect "...)
			b = htmlText(b, p.Title)
			b = append(b, "</button>\n</form>\n"...)
		}
		b = append(b, "</li>\n"...)
	}
	b = append(b, "</ul>\n"...)
	switch {
	case v.Complete:
		switch {
		case v.Code != "":
			b = append(b, "\n\n<p>To finish, type this code in the chat with <strong>"...)
			b = htmlText(b, v.BotName)
			b = append(b, "</strong>:</p>\n<p class=\"code\" id=\"code\">"...)
			b = htmlText(b, v.Code)
			b = append(b, "</p>\n<p class=\"hint\">The code works once, for the next "...)
			b = strconv.AppendInt(b, int64(v.CodeMinutes), 10)
			b = append(b, " minutes, and only from the chat that sent you this link.</p>\n"...)
		case v.Confirm:
			b = append(b, "\n\n<p>To finish, type the code shown in the browser that linked the last account into the chat with <strong>"...)
			b = htmlText(b, v.BotName)
			b = append(b, "</strong>.</p>\n"...)
		default:
			b = append(b, "\n\n<p>You can close this page and go back to the chat with <strong>"...)
			b = htmlText(b, v.BotName)
			b = append(b, "</strong>.</p>\n"...)
		}
		b = append(b, '\n')
		if v.RedirectURL != "" {
			b = append(b, "<p><a class=\"button\" href=\""...)
			b = htmlURL(b, v.RedirectURL)
			b = append(b, "\" id=\"continue\">Continue</a></p>"...)
		}
		b = append(b, '\n')
	case v.Cancelled:
		b = append(b, "\n<p>The accounts linked with it before stay linked; "...)
		b = htmlText(b, v.BotName)
		b = append(b, " can unlink them.</p>\n"...)
	default:
		b = append(b, "\n<p class=\"hint\">Only continue if you asked "...)
		b = htmlText(b, v.BotName)
		b = append(b, " for this. This link works until <time datetime=\""...)
		t := v.ExpiresAt.UTC()
		b = t.AppendFormat(b, "2006-01-02T15:04:05Z07:00")
		b = append(b, "\">"...)
		b = t.AppendFormat(b, "15:04")
		b = append(b, " UTC</time>.</p>\n<form method=\"post\" action=\""...)
		b = htmlURL(b, v.CancelAction)
		b = append(b, "\" class=\"cancel\" data-cancel"...)
		b = appendFormFields(b, v)
		b = append(b, "<button type=\"submit\" class=\"plain\">This is not me: cancel</button>\n</form>\n"...)
	}
	b = append(b, "\n</section>\n"...)
	if v.RequestID != "" {
		b = append(b, "<p class=\"reqid\">Request "...)
		b = htmlText(b, v.RequestID)
		b = append(b, "</p>"...)
	}
	return append(b, "\n\n</main>\n<footer>oauthbroker</footer>\n</body>\n</html>\n"...)
}

// appendFormFields closes a form's opening tag and appends the two hidden fields every form of
// the page sends: the link and the form token.
func appendFormFields(b []byte, v *connectPage) []byte {
	b = append(b, ">\n<input type=\"hidden\" name=\"link\" value=\""...)
	b = htmlText(b, v.Link)
	b = append(b, "\">\n<input type=\"hidden\" name=\"form\" value=\""...)
	b = htmlText(b, v.FormToken)
	return append(b, "\">\n"...)
}

// htmlText appends s escaped as html/template escapes a string in HTML text, in RCDATA (the
// title) and in a quoted attribute value: NUL becomes U+FFFD, and " & ' + < > character
// references; every other byte, invalid UTF-8 included, is kept.
func htmlText(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, repl...)
		start = i + 1
	}
	return append(b, s[start:]...)
}

// htmlURL appends s as html/template writes a string at the start of a URL attribute's
// value: a URL with a scheme other than http, https or mailto becomes "#ZgotmplZ"; then every
// byte that is not unreserved or reserved in RFC 3986 (and a % that starts no escape) is
// percent-encoded, and the result escaped as an attribute value.
func htmlURL(b []byte, s string) []byte {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		s = "#ZgotmplZ"
	}
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b = append(b, c)
		case strings.IndexByte("!#$*,/:;=?@[]-._~", c) >= 0:
			b = append(b, c)
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '+':
			b = append(b, "&#43;"...)
		case c == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		}
	}
	return b
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// pageBuffers are the connect page's buffers, used again: a page is about 2.5 KB.
var pageBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}
