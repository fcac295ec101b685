package admin

import (
	"net/http"
)

// setup is every admin address while no password is set: how to set one, as 503. There is no
// default password to fall back on, and no other page is served.
func (h *Handler) setup(w http.ResponseWriter, r *http.Request) {
	h.rendered(r, h.renderSetup(w, setupPage{pageChrome: chrome(w, nil)}))
}
