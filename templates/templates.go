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

// Static returns the embedded static files (CSS, the self-closing script), rooted at static/.
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
	{"layout.html", []string{"flow_success.html", "flow_error.html"}},
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

// FlowSuccess is the page shown when an account was linked.
type FlowSuccess struct {
	Provider    string // display title, e.g. "GitHub"
	Account     string // the account's name or nickname
	Bot         string
	Relinked    bool
	Code        string // confirm: code bots: the code to type in the chat
	RedirectURL string // a "continue" link back to the bot, when it gave one
	RequestID   string
}

// FlowError is the page shown when linking failed.
type FlowError struct {
	Status    int
	Title     string
	Message   string
	RequestID string
}

// RenderFlowSuccess writes the success page.
func (p *Pages) RenderFlowSuccess(w http.ResponseWriter, data FlowSuccess) {
	p.render(w, http.StatusOK, "flow_success.html", data)
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
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}
