package admin

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/oauthbroker/oauthbroker/internal/clientlimit"
)

// login checks the password: POST /admin/login. Failed attempts are limited per client
// address (LoginBurst, then one per LoginRefill), the address the server resolved through its
// trusted proxies, so behind a load balancer one guesser does not lock every operator out. A
// limited attempt is refused before the password is looked at, so guessing on does not even
// cost the guesser a bcrypt.
//
// The form has no CSRF token, as there is no session yet to bind one to, and none is needed:
// there is a single admin credential, so a login forged from another site could only open a
// session for someone who knows the password, which that someone can do directly.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	next := safeNext(r.PostFormValue("next"))
	client := clientlimit.Key(r)
	attempt, wait, ok := h.limiter.Begin(client)
	if !ok {
		h.log.WarnContext(r.Context(), "admin: login rate-limited", "client", client)
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.rendered(r, h.renderLogin(w, http.StatusTooManyRequests, loginPage{
			pageChrome: chrome(w, nil), Next: next,
			Error: fmt.Sprintf("Too many failed logins from your address. Try again in %s.", inWords(secs)),
		}))
		return
	}
	right := h.cred.check(r.PostFormValue("password"))
	attempt.End(!right)
	if !right {
		h.log.WarnContext(r.Context(), "admin: wrong password", "client", client)
		h.rendered(r, h.renderLogin(w, http.StatusUnauthorized, loginPage{
			pageChrome: chrome(w, nil), Next: next, Error: "That is not the admin password.",
		}))
		return
	}
	if err := h.startSession(r.Context(), w); err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "admin: logged in", "client", client)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// inWords is a wait in whole seconds, as a person reads it: "40 seconds", "2 minutes".
func inWords(secs int) string {
	switch {
	case secs == 1:
		return "1 second"
	case secs < 90:
		return strconv.Itoa(secs) + " seconds"
	}
	return strconv.Itoa((secs+59)/60) + " minutes"
}
