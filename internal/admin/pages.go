package admin

import (
	"net/http"

	"github.com/oauthbroker/oauthbroker/templates"
)

// The data of the operators' pages (docs/OPERATIONS.md#admin), one type per page, and the
// functions at the end of this file that render each through its embedded template (package
// templates). Only the fields listed here reach a page, and none can hold a token: an
// Identity's token fields have no counterpart in identityRow.

// pageChrome is what the layout of every admin page shows.
type pageChrome struct {
	// CSRF is the session's token for the logout form (and the page's own forms); empty when
	// nobody is logged in, which also hides the logout button.
	CSRF      string
	RequestID string
}

// shownTime is a moment as the admin pages show it: relative ("3 min ago", "in 2 h"), with
// the exact time on hover.
type shownTime struct {
	Relative string
	Exact    string // "2006-01-02 15:04:05 UTC"
	ISO      string // RFC 3339, for <time datetime>
	Zero     bool   // no time at all: shown as a dash
}

// shownExpiry is a token's expiry.
type shownExpiry struct {
	shownTime
	None    bool // the provider gave none
	Expired bool
}

// statusBadge is an identity's status as a badge.
type statusBadge struct {
	Label string // "active", "pending", "relink required"
	Class string // the badge's CSS class: ok, warn, err
}

// identityRow is one identity, without anything secret: the record has no token field.
type identityRow struct {
	ID             int64
	URL            string // its page
	Bot            string
	Channel        string
	User           string
	Provider       string
	ProviderUserID string
	Display        string // the name, else the nickname, else the provider's account id
	Name           string
	NickName       string
	Email          string
	Initials       string // stand in for the avatar, which the pages never load
	Status         statusBadge
	Scopes         []string
	TokenType      string
	Linked         shownTime
	Updated        shownTime
	Expiry         shownExpiry
}

// filterOption is one choice of a filter's <select>.
type filterOption struct {
	Value    string
	Label    string
	Selected bool
}

// countLink is a number of identities with the link that lists them.
type countLink struct {
	Label string
	Count int
	URL   string
	Class string // status totals: the badge class
}

// botTotal is a bot's number of identities and its providers'.
type botTotal struct {
	countLink
	Providers []countLink
}

// listTotals are the numbers at the top of the list.
type listTotals struct {
	All      int
	Statuses []countLink
	Bots     []botTotal
}

// filterForm is the list's current filter, as the form shows it.
type filterForm struct {
	Bot, Provider, Status, Search string
	Active                        bool // any of them set: offer to clear
}

// listPage is the list of identities.
type listPage struct {
	pageChrome
	Totals          listTotals
	Filter          filterForm
	BotOptions      []filterOption
	ProviderOptions []filterOption
	StatusOptions   []filterOption
	Summary         string // "1,204 identities match" and the like
	Rows            []identityRow
	NewerURL        string // the page before; empty on the first
	OlderURL        string // the page after; empty on the last
}

// historyLine is one line of an identity's history.
type historyLine struct {
	When    shownTime
	Kind    string // "linked", "refresh failed", …
	Outcome string
	OK      bool
	Detail  string
}

// identityPage is one identity's page. Linked is false once it was unlinked: the page then
// shows the history alone.
type identityPage struct {
	pageChrome
	ID           int64
	Bot          string
	Linked       bool
	JustUnlinked bool
	Identity     identityRow
	Usage        usageShown
	History      []historyLine // newest first
	UnlinkURL    string
}

// usageShown is an identity's use through the API proxy.
type usageShown struct {
	Calls      int64
	LastUsed   shownTime
	LastStatus int
}

// unlinkPage asks to confirm an unlink.
type unlinkPage struct {
	pageChrome
	Identity  identityRow
	ActionURL string
	CancelURL string
}

// loginPage is the login form.
type loginPage struct {
	pageChrome
	Next      string // where to go after logging in
	Error     string
	LoggedOut bool
	Expired   bool
}

// setupPage says how to set an admin password; it is all the admin pages serve without one.
type setupPage struct {
	pageChrome
}

// failurePage is an error page of the admin pages.
type failurePage struct {
	pageChrome
	Status  int
	Title   string
	Message string
}

// renderList writes the list of identities.
func (h *Handler) renderList(w http.ResponseWriter, data listPage) error {
	return h.pages.Render(w, http.StatusOK, templates.AdminList, data)
}

// renderIdentity writes an identity's page with its status: 200, or 410 once unlinked.
func (h *Handler) renderIdentity(w http.ResponseWriter, status int, data identityPage) error {
	return h.pages.Render(w, status, templates.AdminIdentity, data)
}

// renderUnlink writes the unlink confirmation.
func (h *Handler) renderUnlink(w http.ResponseWriter, data unlinkPage) error {
	return h.pages.Render(w, http.StatusOK, templates.AdminUnlink, data)
}

// renderLogin writes the login form with its status (200, 401 after a wrong password, 429
// when rate-limited).
func (h *Handler) renderLogin(w http.ResponseWriter, status int, data loginPage) error {
	return h.pages.Render(w, status, templates.AdminLogin, data)
}

// renderSetup writes the "no password is set" page, as 503: the pages are not available.
func (h *Handler) renderSetup(w http.ResponseWriter, data setupPage) error {
	return h.pages.Render(w, http.StatusServiceUnavailable, templates.AdminSetup, data)
}

// renderFailure writes an error page with data.Status.
func (h *Handler) renderFailure(w http.ResponseWriter, data failurePage) error {
	return h.pages.Render(w, data.Status, templates.AdminError, data)
}
