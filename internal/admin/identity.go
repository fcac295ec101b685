package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// identity shows one identity and its history: GET /admin/bots/{bot}/identities/{id}. Once
// unlinked, the history is all there is, answered as 410 Gone.
func (h *Handler) identity(w http.ResponseWriter, r *http.Request, s session) {
	bot, id, ok := identityPath(r)
	if !ok {
		h.notFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	rec, err := h.store.Identity(ctx, bot, id)
	linked := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, err)
		return
	}
	events, err := h.store.Events(ctx, bot, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !linked && len(events) == 0 {
		h.errorPage(w, r, &s, http.StatusNotFound, "No such identity", "Bot "+bot+" has no identity "+strconv.FormatInt(id, 10)+", and never had.")
		return
	}
	now := h.now()
	data := identityPage{
		pageChrome: chrome(w, &s), ID: id, Bot: bot, Linked: linked,
		JustUnlinked: !linked && r.URL.Query().Get("unlinked") == "1",
		UnlinkURL:    identityURL(bot, id) + "/unlink",
	}
	if linked {
		data.Identity = h.row(rec, now)
		u, err := h.store.ProxyUsage(ctx, bot, id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		data.Usage = usageShown{Calls: u.Calls, LastUsed: when(now, u.LastUsedAt), LastStatus: u.LastStatus}
	}
	for _, e := range slices.Backward(events) {
		data.History = append(data.History, event(e, now))
	}
	status := http.StatusOK
	if !linked {
		status = http.StatusGone
	}
	h.rendered(r, h.renderIdentity(w, status, data))
}

// identityPath is the bot and identity id of /bots/{bot}/identities/{id}[/…].
func identityPath(r *http.Request) (string, int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	bot := chi.URLParam(r, "bot")
	return bot, id, err == nil && id > 0 && bot != ""
}
