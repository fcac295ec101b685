package templates

import "net/http"

// The headers each page is sent with (layouts in templates.go says which).

// SetAdminHeaders sets the headers of every admin response, pages and redirects alike: those of
// SetHTMLHeaders, with no script at all (the admin pages have none) and images only from the
// broker itself, so no page can make an operator's browser call a third party.
func SetAdminHeaders(h http.Header) {
	SetHTMLHeaders(h)
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
}

// SetHTMLHeaders sets the headers every HTML page carries: no inline script, no framing, no
// referrer (a page URL may carry a link token), and no caching of anything personal.
func SetHTMLHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP+"form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

const pageCSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'; "

// setConnectHeaders are SetHTMLHeaders with two changes for the connect page.
//
// Referrer-Policy: same-origin. Under no-referrer a browser sends "Origin: null" even on a
// same-origin POST (Fetch standard, "append a request Origin header"), and a browser without
// Sec-Fetch-Site (Safari before 16.4) would then have its own clicks refused by the origin
// check. same-origin keeps the Origin on our own POSTs and still sends no Referer to any other
// site; the redirect to the provider carries no-referrer itself.
//
// form-action: a provider's button posts to the broker, which answers with a redirect to the
// provider's authorization page, and browsers hold that redirect to form-action too (Chrome
// does). So it allows what providers.yaml allows a provider URL to be: https, or http on a
// loopback host.
func setConnectHeaders(h http.Header) {
	SetHTMLHeaders(h)
	h.Set("Content-Security-Policy", pageCSP+"form-action 'self' https: http://127.0.0.1:* http://localhost:* http://[::1]:*")
	h.Set("Referrer-Policy", "same-origin")
}
