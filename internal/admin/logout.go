package admin

import "net/http"

// logout ends the session: POST /admin/logout with the session's CSRF token (so no other site
// can log an operator out). The session is deleted from the store, not only from the browser.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s session) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if !s.checkCSRF(r) {
		h.errorPage(w, r, &s, http.StatusForbidden, "Not logged out", "This form did not come from this session's page. Reload the page and try again.")
		return
	}
	if err := h.endSession(r.Context(), w, s); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/login?out=1", http.StatusSeeOther)
}
