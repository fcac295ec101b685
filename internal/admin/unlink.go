package admin

import (
	"net/http"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/clientlimit"
)

// maxForm bounds a posted form: the admin forms hold a token or a password.
const maxForm = 16 << 10

// unlink unlinks an identity: POST /admin/bots/{bot}/identities/{id}/unlink with the session's
// CSRF token. It goes through broker.Unlink, marked as an operator's request, so the token is
// revoked at the provider where it can be, the bot's webhook hears of it, and the history says
// who did it. A missing or wrong token changes nothing.
func (h *Handler) unlink(w http.ResponseWriter, r *http.Request, s session) {
	bot, id, ok := identityPath(r)
	if !ok {
		h.notFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if !s.checkCSRF(r) {
		h.log.WarnContext(r.Context(), "admin: unlink refused: missing or wrong CSRF token", "bot", bot, "identity", id, "client", clientlimit.Key(r))
		h.errorPage(w, r, &s, http.StatusForbidden, "Not unlinked",
			"This form did not come from this session's page (it may have been open before you logged in again). Open the identity again and retry. Nothing was changed.")
		return
	}
	if err := h.broker.Unlink(broker.ByOperator(r.Context()), bot, id); err != nil {
		switch broker.ErrorCode(err) {
		case broker.CodeNotFound, broker.CodeUnknownBot:
			h.errorPage(w, r, &s, http.StatusNotFound, "Not unlinked", broker.ErrorMessage(err))
		default:
			h.fail(w, r, err)
		}
		return
	}
	h.log.InfoContext(r.Context(), "admin: identity unlinked by an operator", "bot", bot, "identity", id, "client", clientlimit.Key(r))
	http.Redirect(w, r, identityURL(bot, id)+"?unlinked=1", http.StatusSeeOther)
}
