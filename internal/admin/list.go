package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/templates"
)

// maxSearch bounds the search box: no user id, name or email is longer.
const maxSearch = 256

// listFilter is the list's query string: the filters and at most one cursor.
type listFilter struct {
	bot, provider, status, search string
	older, newer                  int64
}

// list shows a page of identities across bots: GET /admin/?bot=&provider=&status=&q=&older=|newer=.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, s session) {
	f, err := parseListFilter(r.URL.Query())
	if err != nil {
		h.errorPage(w, r, &s, http.StatusBadRequest, "Bad address", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	q := store.IdentityListQuery{Bot: f.bot, Provider: f.provider, Status: f.status, Search: f.search,
		OlderThan: f.older, NewerThan: f.newer, Limit: PageSize}
	page, err := h.store.ListIdentities(ctx, q)
	if err == nil && f.newer > 0 && !page.More {
		// Back at the top: show the first page whole, rather than the few rows above the cursor.
		f.newer, q.NewerThan = 0, 0
		page, err = h.store.ListIdentities(ctx, q)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	totals, err := h.store.IdentityTotals(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}

	now := h.now()
	data := listPage{
		pageChrome: chrome(w, &s),
		Totals:     h.totalsView(totals),
		Filter: filterForm{Bot: f.bot, Provider: f.provider, Status: f.status, Search: f.search,
			Active: f.bot != "" || f.provider != "" || f.status != "" || f.search != ""},
		Rows: make([]identityRow, 0, len(page.Identities)),
	}
	data.BotOptions, data.ProviderOptions = h.filterOptions(totals, f)
	for _, st := range statuses {
		data.StatusOptions = append(data.StatusOptions, filterOption{Value: st.value, Label: st.label, Selected: st.value == f.status})
	}
	data.Summary = summary(f, totals)
	for _, i := range page.Identities {
		data.Rows = append(data.Rows, h.row(i, now))
	}
	// Keyset links: the ids at the page's edges. Whether a side has more is known exactly for
	// the direction read (page.More) and, for the other, from having come from there.
	if n := len(page.Identities); n > 0 {
		hasNewer, hasOlder := f.older > 0, page.More
		if f.newer > 0 {
			hasNewer, hasOlder = page.More, true
		}
		if hasNewer {
			data.NewerURL = f.url("newer", page.Identities[0].ID)
		}
		if hasOlder {
			data.OlderURL = f.url("older", page.Identities[n-1].ID)
		}
	}
	h.rendered(r, h.renderList(w, data))
}

func parseListFilter(v url.Values) (listFilter, error) {
	f := listFilter{
		bot: strings.TrimSpace(v.Get("bot")), provider: strings.TrimSpace(v.Get("provider")),
		status: strings.TrimSpace(v.Get("status")), search: strings.TrimSpace(v.Get("q")),
	}
	if strings.TrimLeft(f.search, "@") == "" {
		f.search = "" // the store drops a leading @, so "@" alone is no search: show it as none
	}
	if len(f.search) > maxSearch {
		return listFilter{}, fmt.Errorf("the search is longer than %d characters", maxSearch)
	}
	for _, c := range []struct {
		name string
		to   *int64
	}{{"older", &f.older}, {"newer", &f.newer}} {
		if raw := v.Get(c.name); raw != "" {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || n <= 0 {
				return listFilter{}, fmt.Errorf("%s=%q is not a page of this list; start again from the first page", c.name, raw)
			}
			*c.to = n
		}
	}
	if f.older > 0 && f.newer > 0 {
		return listFilter{}, fmt.Errorf("a page is either older or newer, not both")
	}
	return f, nil
}

// url is the list with this filter and a cursor.
func (f listFilter) url(cursor string, id int64) string {
	v := url.Values{}
	for _, p := range [][2]string{{"bot", f.bot}, {"provider", f.provider}, {"status", f.status}, {"q", f.search}} {
		if p[1] != "" {
			v.Set(p[0], p[1])
		}
	}
	if cursor != "" {
		v.Set(cursor, strconv.FormatInt(id, 10))
	}
	if len(v) == 0 {
		return Prefix + "/"
	}
	return Prefix + "/?" + v.Encode()
}

// summary is the sentence above the table. Filters alone are counted exactly from the totals;
// a search is not counted, since that would read every match.
func summary(f listFilter, totals []store.IdentityTotal) string {
	if f.search != "" {
		return fmt.Sprintf("Identities whose user id, name, nickname or email starts with “%s”, newest first.", f.search)
	}
	n := 0
	for _, t := range totals {
		if (f.bot == "" || t.Bot == f.bot) && (f.provider == "" || t.Provider == f.provider) && (f.status == "" || t.Status == f.status) {
			n += t.Count
		}
	}
	noun := "identities"
	if n == 1 {
		noun = "identity"
	}
	if f.bot == "" && f.provider == "" && f.status == "" {
		return fmt.Sprintf("%s linked %s, newest first.", templates.Thousands(n), noun)
	}
	return fmt.Sprintf("%s %s match, newest first.", templates.Thousands(n), noun)
}
