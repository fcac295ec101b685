package admin

import (
	"net/http"
	"net/url"
	"strings"
)

// loginForm shows the login form: GET /admin/login[?next=][&expired=1][&out=1]. A logged-in
// operator goes straight on.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := h.session(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.rendered(r, h.renderLogin(w, http.StatusOK, loginPage{
		pageChrome: chrome(w, nil), Next: next,
		LoggedOut: r.URL.Query().Get("out") == "1", Expired: r.URL.Query().Get("expired") == "1",
	}))
}

// safeNext is where to go after logging in: an admin page of this broker, never another site
// (an open redirect would lend the login page to phishing).
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, Prefix+"/") ||
		strings.HasPrefix(next, "//") || strings.Contains(next, "\\") || strings.Contains(u.Path, "..") || u.Path == Prefix+"/login" {
		return Prefix + "/"
	}
	return u.RequestURI()
}
