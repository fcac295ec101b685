// Package templates holds oauthbroker's HTML pages and static files, embedded in the binary.
// Pages are parsed once at start; a missing template fails start-up, and a page is rendered
// into a buffer first, so a failed render never sends half a page.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"
)

//go:embed *.html
var pageFS embed.FS

//go:embed static
var staticFS embed.FS

// Static returns the embedded static files (the style sheets), rooted at static/.
func Static() fs.FS {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time; this cannot fail at run time
	}
	return sub
}

// The templates that must exist: Parse fails without any of them. The browser-flow pages share
// layout.html, the operators' pages admin_layout.html (admin.go).
var layouts = []struct {
	file  string
	pages []string
}{
	{"layout.html", []string{"connect.html", "flow_error.html"}},
	{"admin_layout.html", adminPageNames},
}

// Pages renders oauthbroker's HTML pages.
type Pages struct {
	byName map[string]*template.Template
}

// Parse parses every page with its layout.
func Parse() (*Pages, error) {
	funcs := template.FuncMap{
		"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"hhmm":    func(t time.Time) string { return t.UTC().Format("15:04") },
		"num":     Thousands,
	}
	p := &Pages{byName: map[string]*template.Template{}}
	for _, l := range layouts {
		for _, name := range l.pages {
			t, err := template.New(name).Funcs(funcs).ParseFS(pageFS, l.file, name)
			if err != nil {
				return nil, fmt.Errorf("templates: parse %s: %w", name, err)
			}
			p.byName[name] = t
		}
	}
	return p, nil
}

// Connect is the connect page: what a link opens, and where the browser comes back to after
// each provider. Its HTML markers are a contract (docs/INTEGRATION.md): each provider is an
// element with data-provider and data-state (linked or not_linked); a provider not linked yet
// has a <form method="post" data-provider> whose button starts it; a link with every provider
// linked has data-connect="complete".
type Connect struct {
	BotName string // the bot's display_name, else its name
	// UserLabel names the chat user; without it the page says UserID on Channel.
	UserLabel       string
	UserID, Channel string
	Providers       []ConnectProvider
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

// ConnectProvider is one provider of the link on its page.
type ConnectProvider struct {
	Name    string // data-provider
	Title   string // "GitHub"
	Linked  bool
	Account string // the account linked in this browser, when it was
	Action  string // where its form posts
}

// FlowError is the page shown when linking failed or a request was refused.
type FlowError struct {
	Status    int
	Title     string
	Message   string
	BackURL   string // optional: back to the link's connect page
	RequestID string
}

// RenderConnect writes the connect page.
func (p *Pages) RenderConnect(w http.ResponseWriter, data Connect) {
	_ = p.execute(w, http.StatusOK, "connect.html", "layout", setConnectHeaders, data)
}

// RenderFlowError writes an error page with its status.
func (p *Pages) RenderFlowError(w http.ResponseWriter, data FlowError) {
	p.render(w, data.Status, "flow_error.html", data)
}

func (p *Pages) render(w http.ResponseWriter, status int, name string, data any) {
	_ = p.execute(w, status, name, "layout", SetHTMLHeaders, data)
}

// execute renders page name through its layout into a buffer, and only then sends headers and
// page: a failed render sends a plain 500, never half a page. It returns the render error for
// the caller's log.
func (p *Pages) execute(w http.ResponseWriter, status int, name, layout string, headers func(http.Header), data any) error {
	headers(w.Header())
	var buf bytes.Buffer
	t, ok := p.byName[name]
	err := fmt.Errorf("templates: no page %s", name)
	if ok {
		err = t.ExecuteTemplate(&buf, layout, data)
	}
	if err != nil {
		http.Error(w, "internal error: the page could not be rendered", http.StatusInternalServerError)
		return fmt.Errorf("templates: render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}

// SetHTMLHeaders sets the headers every HTML page carries: no inline script, no framing, no
// referrer (a page URL may carry a link token), and no caching of anything personal.
func SetHTMLHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP+"form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

const pageCSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'; "

// setConnectHeaders are SetHTMLHeaders with two changes for the connect page.
//
// Referrer-Policy: same-origin. Under no-referrer a browser sends "Origin: null" even on a
// same-origin POST (Fetch standard, "append a request Origin header"), and a browser without
// Sec-Fetch-Site (Safari before 16.4) would then have its own clicks refused by the origin
// check. same-origin keeps the Origin on our own POSTs and still sends no Referer to any other
// site; the redirect to the provider carries no-referrer itself.
//
// form-action: a provider's button posts to the broker, which answers with a redirect to the
// provider's authorization page, and browsers hold that redirect to form-action too (Chrome
// does). So it allows what providers.yaml allows a provider URL to be: https, or http on a
// loopback host.
func setConnectHeaders(h http.Header) {
	SetHTMLHeaders(h)
	h.Set("Content-Security-Policy", pageCSP+"form-action 'self' https: http://127.0.0.1:* http://localhost:* http://[::1]:*")
	h.Set("Referrer-Policy", "same-origin")
}
