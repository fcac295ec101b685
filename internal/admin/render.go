package admin

import (
	"net/http"
)

// chrome is what every page's layout needs: the session's CSRF token for the logout button
// (none when logged out) and the request id the server gave this request.
func chrome(w http.ResponseWriter, s *session) pageChrome {
	c := pageChrome{RequestID: w.Header().Get("X-Request-Id")}
	if s != nil {
		c.CSRF = s.csrf
	}
	return c
}

// rendered logs a page that failed to render; the visitor got a plain 500 already.
func (h *Handler) rendered(r *http.Request, err error) {
	if err != nil {
		h.log.ErrorContext(r.Context(), "admin: render failed", "path", r.URL.Path, "err", err)
	}
}

// errorPage shows an error; message is for the operator's eyes, so it must not carry a secret.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, title, message string) {
	h.rendered(r, h.renderFailure(w, failurePage{
		pageChrome: chrome(w, s), Status: status, Title: title, Message: message,
	}))
}

// fail shows "internal error" and logs the cause, which may name SQL or files.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "admin: request failed", "path", r.URL.Path, "err", err)
	h.errorPage(w, r, nil, http.StatusInternalServerError, "Something went wrong",
		"The broker hit an internal error; the log has the details. Nothing was changed.")
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, nil, http.StatusNotFound, "Not found", "There is no admin page at this address.")
}

func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, nil, http.StatusMethodNotAllowed, "Not allowed", "This page does not accept "+r.Method+" requests.")
}
