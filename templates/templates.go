// Package templates holds oauthbroker's HTML pages and static files, embedded in the binary,
// and renders them: pages are parsed once at start (a missing template fails start-up), and
// a page is rendered into a buffer first, so a failed render never sends half a page. It
// holds no page data: each page's data type belongs to the package that fills it in
// (internal/server for the browser flow, internal/admin for the operators' pages).
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
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

// The pages, by the name Render takes. Each package that renders one (internal/server the
// browser flow's, internal/admin the operators') has its data type.
const (
	Connect   = "connect.html"    // what a link opens (docs/INTEGRATION.md has its HTML markers)
	FlowError = "flow_error.html" // linking failed or a request was refused

	AdminSetup    = "admin_setup.html"
	AdminLogin    = "admin_login.html"
	AdminList     = "admin_list.html"
	AdminIdentity = "admin_identity.html"
	AdminUnlink   = "admin_unlink.html"
	AdminError    = "admin_error.html"
)

// layouts are the templates that must exist, each page with its layout and the headers it
// is sent with: Parse fails without any of them. The browser-flow pages share layout.html,
// the operators' pages admin_layout.html.
var layouts = []struct {
	file, name string // the layout's file and the template it defines
	headers    func(http.Header)
	pages      map[string]func(http.Header) // page → headers other than the layout's, or nil
}{
	{"layout.html", "layout", SetHTMLHeaders, map[string]func(http.Header){Connect: setConnectHeaders, FlowError: nil}},
	{"admin_layout.html", "admin", SetAdminHeaders, map[string]func(http.Header){
		AdminSetup: nil, AdminLogin: nil, AdminList: nil, AdminIdentity: nil, AdminUnlink: nil, AdminError: nil,
	}},
}

// Pages renders oauthbroker's HTML pages.
type Pages struct {
	byName map[string]page
}

type page struct {
	t       *template.Template
	layout  string
	headers func(http.Header)
}

// Parse parses every page with its layout.
func Parse() (*Pages, error) {
	funcs := template.FuncMap{
		"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"hhmm":    func(t time.Time) string { return t.UTC().Format("15:04") },
		"num":     Thousands,
	}
	p := &Pages{byName: map[string]page{}}
	for _, l := range layouts {
		for name, headers := range l.pages {
			t, err := template.New(name).Funcs(funcs).ParseFS(pageFS, l.file, name)
			if err != nil {
				return nil, fmt.Errorf("templates: parse %s: %w", name, err)
			}
			if headers == nil {
				headers = l.headers
			}
			p.byName[name] = page{t: t, layout: l.name, headers: headers}
		}
	}
	return p, nil
}

// Render writes page name (one of the constants above) with data and status, and the page's
// headers. The page is rendered into a buffer first: a failed render sends a plain 500, never
// half a page, and Render returns the error for the caller's log.
func (p *Pages) Render(w http.ResponseWriter, status int, name string, data any) error {
	pg, err := p.start(w, name)
	if err != nil {
		return err
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	if err := pg.t.ExecuteTemplate(buf, pg.layout, data); err != nil {
		http.Error(w, "internal error: the page could not be rendered", http.StatusInternalServerError)
		return fmt.Errorf("templates: render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}

// Write sends a page built outside its template (internal/server builds the connect page
// by hand, the same bytes as its template) with status and the headers Render sends it with.
func (p *Pages) Write(w http.ResponseWriter, status int, name string, page []byte) error {
	if _, err := p.start(w, name); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(page)
	return nil
}

// start finds page name and sets its headers; for a name it does not know it answers a plain
// 500 and returns the error for the caller's log.
func (p *Pages) start(w http.ResponseWriter, name string) (page, error) {
	pg, ok := p.byName[name]
	if !ok {
		SetHTMLHeaders(w.Header())
		http.Error(w, "internal error: the page could not be rendered", http.StatusInternalServerError)
		return page{}, fmt.Errorf("templates: no page %s", name)
	}
	pg.headers(w.Header())
	return pg, nil
}

// buffers are Render's page buffers, used again: a page is a few KB, which a fresh buffer
// reaches by growing (and copying) several times.
var buffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 16<<10)) }}

// putBuffer returns buf to the pool, unless a page grew it past what pages usually need.
func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 64<<10 {
		return
	}
	buf.Reset()
	buffers.Put(buf)
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
