package admin

import (
	"net/http"

	"github.com/oauthbroker/oauthbroker/templates"
)

// setup is every admin address while no password is set: how to set one, as 503. There is no
// default password to fall back on, and no other page is served.
func (h *Handler) setup(w http.ResponseWriter, r *http.Request) {
	h.rendered(r, h.pages.RenderAdminSetup(w, templates.AdminSetup{AdminChrome: chrome(w, nil)}))
}
