package templates

import (
	"net/http"
	"strconv"
)

// The operators' pages (docs/OPERATIONS.md#admin): their data, one type per page, and their
// renderers. The admin package fills them in; nothing here reads a store or a token, so a page
// cannot show what its data does not carry.

var adminPageNames = []string{
	"admin_setup.html", "admin_login.html", "admin_list.html",
	"admin_identity.html", "admin_unlink.html", "admin_error.html",
}

// AdminChrome is what the layout of every admin page shows.
type AdminChrome struct {
	// CSRF is the session's token for the logout form (and the page's own forms); empty when
	// nobody is logged in, which also hides the logout button.
	CSRF      string
	RequestID string
}

// AdminTime is a moment as the admin pages show it: relative ("3 min ago", "in 2 h"), with
// the exact time on hover.
type AdminTime struct {
	Relative string
	Exact    string // "2006-01-02 15:04:05 UTC"
	ISO      string // RFC 3339, for <time datetime>
	Zero     bool   // no time at all: shown as a dash
}

// AdminExpiry is a token's expiry.
type AdminExpiry struct {
	AdminTime
	None    bool // the provider gave none
	Expired bool
}

// AdminStatus is an identity's status as a badge.
type AdminStatus struct {
	Label string // "active", "pending", "relink required"
	Class string // the badge's CSS class: ok, warn, err
}

// AdminIdentityRow is one identity, without anything secret: the record has no token field.
type AdminIdentityRow struct {
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
	Status         AdminStatus
	Scopes         []string
	TokenType      string
	Linked         AdminTime
	Updated        AdminTime
	Expiry         AdminExpiry
}

// AdminOption is one choice of a filter's <select>.
type AdminOption struct {
	Value    string
	Label    string
	Selected bool
}

// AdminCount is a number of identities with the link that lists them.
type AdminCount struct {
	Label string
	Count int
	URL   string
	Class string // status totals: the badge class
}

// AdminBotTotal is a bot's number of identities and its providers'.
type AdminBotTotal struct {
	AdminCount
	Providers []AdminCount
}

// AdminTotals are the numbers at the top of the list.
type AdminTotals struct {
	All      int
	Statuses []AdminCount
	Bots     []AdminBotTotal
}

// AdminFilter is the list's current filter, as the form shows it.
type AdminFilter struct {
	Bot, Provider, Status, Search string
	Active                        bool // any of them set: offer to clear
}

// AdminList is the list of identities.
type AdminList struct {
	AdminChrome
	Totals          AdminTotals
	Filter          AdminFilter
	BotOptions      []AdminOption
	ProviderOptions []AdminOption
	StatusOptions   []AdminOption
	Summary         string // "1,204 identities match" and the like
	Rows            []AdminIdentityRow
	NewerURL        string // the page before; empty on the first
	OlderURL        string // the page after; empty on the last
}

// AdminEvent is one line of an identity's history.
type AdminEvent struct {
	When    AdminTime
	Kind    string // "linked", "refresh failed", …
	Outcome string
	OK      bool
	Detail  string
}

// AdminIdentity is one identity's page. Linked is false once it was unlinked: the page then
// shows the history alone.
type AdminIdentity struct {
	AdminChrome
	ID           int64
	Bot          string
	Linked       bool
	JustUnlinked bool
	Identity     AdminIdentityRow
	Usage        AdminUsage
	History      []AdminEvent // newest first
	UnlinkURL    string
}

// AdminUsage is an identity's use through the API proxy.
type AdminUsage struct {
	Calls      int64
	LastUsed   AdminTime
	LastStatus int
}

// AdminUnlink asks to confirm an unlink.
type AdminUnlink struct {
	AdminChrome
	Identity  AdminIdentityRow
	ActionURL string
	CancelURL string
}

// AdminLogin is the login form.
type AdminLogin struct {
	AdminChrome
	Next      string // where to go after logging in
	Error     string
	LoggedOut bool
	Expired   bool
}

// AdminSetup says how to set an admin password; it is all the admin pages serve without one.
type AdminSetup struct {
	AdminChrome
}

// AdminError is an error page of the admin pages.
type AdminError struct {
	AdminChrome
	Status  int
	Title   string
	Message string
}

// RenderAdminList writes the list of identities.
func (p *Pages) RenderAdminList(w http.ResponseWriter, data AdminList) error {
	return p.admin(w, http.StatusOK, "admin_list.html", data)
}

// RenderAdminIdentity writes an identity's page with its status: 200, or 410 once unlinked.
func (p *Pages) RenderAdminIdentity(w http.ResponseWriter, status int, data AdminIdentity) error {
	return p.admin(w, status, "admin_identity.html", data)
}

// RenderAdminUnlink writes the unlink confirmation.
func (p *Pages) RenderAdminUnlink(w http.ResponseWriter, data AdminUnlink) error {
	return p.admin(w, http.StatusOK, "admin_unlink.html", data)
}

// RenderAdminLogin writes the login form with its status (200, 401 after a wrong password,
// 429 when rate-limited).
func (p *Pages) RenderAdminLogin(w http.ResponseWriter, status int, data AdminLogin) error {
	return p.admin(w, status, "admin_login.html", data)
}

// RenderAdminSetup writes the "no password is set" page, as 503: the pages are not available.
func (p *Pages) RenderAdminSetup(w http.ResponseWriter, data AdminSetup) error {
	return p.admin(w, http.StatusServiceUnavailable, "admin_setup.html", data)
}

// RenderAdminError writes an error page with data.Status.
func (p *Pages) RenderAdminError(w http.ResponseWriter, data AdminError) error {
	return p.admin(w, data.Status, "admin_error.html", data)
}

func (p *Pages) admin(w http.ResponseWriter, status int, name string, data any) error {
	return p.execute(w, status, name, "admin", SetAdminHeaders, data)
}

// SetAdminHeaders sets the headers of every admin response, pages and redirects alike: those of
// SetHTMLHeaders, with no script at all (the admin pages have none) and images only from the
// broker itself, so no page can make an operator's browser call a third party.
func SetAdminHeaders(h http.Header) {
	SetHTMLHeaders(h)
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
}

// Thousands writes n with thousands separators: 1,000,000.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
