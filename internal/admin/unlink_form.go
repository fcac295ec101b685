package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// unlinkForm asks to confirm an unlink: GET /admin/bots/{bot}/identities/{id}/unlink. The
// button on the identity page only leads here; the POST below does it.
func (h *Handler) unlinkForm(w http.ResponseWriter, r *http.Request, s session) {
	bot, id, ok := identityPath(r)
	if !ok {
		h.notFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	rec, err := h.store.Identity(ctx, bot, id)
	if errors.Is(err, store.ErrNotFound) {
		// Unlinked meanwhile (in another tab, or by the bot): its page says so.
		http.Redirect(w, r, identityURL(bot, id), http.StatusSeeOther)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.rendered(r, h.renderUnlink(w, unlinkPage{
		pageChrome: chrome(w, &s), Identity: h.row(rec, h.now()),
		ActionURL: identityURL(bot, id) + "/unlink", CancelURL: identityURL(bot, id),
	}))
}
