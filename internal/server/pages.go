package server

import (
	"net/http"
	"time"

	"github.com/oauthbroker/oauthbroker/templates"
)

// The data of the browser flow's pages, rendered by the embedded templates (package
// templates).

// connectPage is the connect page: what a link opens, and where the browser comes back to after
// each provider. Its HTML markers are a contract (docs/INTEGRATION.md): each provider is an
// element with data-provider and data-state (linked or not_linked); a provider not linked yet
// has a <form method="post" data-provider> whose button starts it; a link with every provider
// linked has data-connect="complete".
type connectPage struct {
	BotName string // the bot's display_name, else its name
	// UserLabel names the chat user; without it the page says UserID on Channel.
	UserLabel       string
	UserID, Channel string
	Providers       []connectProvider
	Link            string // the link's token, sent back by the forms
	FormToken       string // binds the forms to this browser's page cookie
	CancelAction    string // where the "this is not me" form posts
	Complete        bool   // every provider is linked
	Cancelled       bool
	// Confirm: the bot confirms by code. Code is the code, in the browser that finished the
	// link; another browser is told where the code was shown.
	Confirm     bool
	Code        string
	CodeMinutes int    // how long the code works
	RedirectURL string // the link's redirect_url: a Continue button once complete
	ExpiresAt   time.Time
	RequestID   string
}

// connectProvider is one provider of the link on its page.
type connectProvider struct {
	Name    string // data-provider
	Title   string // "GitHub"
	Linked  bool
	Account string // the account linked in this browser, when it was
	Action  string // where its form posts
}

// flowErrorPage is the page shown when linking failed or a request was refused.
type flowErrorPage struct {
	Status    int
	Title     string
	Message   string
	BackURL   string // optional: back to the link's connect page
	RequestID string
}

// renderConnect writes the connect page, built by hand (connecthtml.go).
func (s *Server) renderConnect(w http.ResponseWriter, r *http.Request, data connectPage) {
	buf := pageBuffers.Get().(*[]byte)
	page := appendConnectPage((*buf)[:0], &data)
	s.rendered(r, s.pages.Write(w, http.StatusOK, templates.Connect, page))
	if cap(page) <= 64<<10 { // a page grown by outsized values is not kept
		*buf = page
		pageBuffers.Put(buf)
	}
}

// renderFlowError writes an error page with its status.
func (s *Server) renderFlowError(w http.ResponseWriter, r *http.Request, data flowErrorPage) {
	s.rendered(r, s.pages.Render(w, data.Status, templates.FlowError, data))
}

// rendered logs a page that failed to render; the visitor got a plain 500 already.
func (s *Server) rendered(r *http.Request, err error) {
	if err != nil {
		s.log.ErrorContext(r.Context(), "http: render failed", "path", r.URL.Path, "err", err)
	}
}
