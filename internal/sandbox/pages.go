package sandbox

import (
	"bytes"
	"html/template"
	"net/http"
)

// The pages are plain HTML with a <style> block and no script; html/template escapes
// every value, including client names and scopes that come from the request.
const pageHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{block "title" .}}Sandbox OAuth provider{{end}} — not a real service</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; background: #f4f1ea; color: #222; margin: 0; }
.banner { background: #f2c14e; color: #222; padding: .6em 1em; font-weight: 600; text-align: center; }
main { max-width: 32em; margin: 2em auto; background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 1.5em 2em; }
h1 { font-size: 1.3em; margin-top: 0; }
code { background: #f0f0f0; padding: 0 .25em; border-radius: 3px; word-break: break-all; }
ul.scopes li { font-family: monospace; }
fieldset { border: 1px solid #ddd; border-radius: 6px; margin: 1em 0; }
label { display: block; padding: .3em 0; }
.small { color: #666; font-size: .85em; }
.buttons { display: flex; gap: 1em; margin-top: 1.2em; }
button { font: inherit; padding: .5em 1.4em; border-radius: 6px; border: 1px solid #888; background: #eee; cursor: pointer; }
button.primary { background: #2d6a4f; border-color: #2d6a4f; color: #fff; }
.error { color: #9b2226; }
</style>
</head>
<body>
<div class="banner">Sandbox OAuth provider — not a real service</div>
<main>
{{block "main" .}}{{end}}
</main>
</body>
</html>
`

var consentTemplate = template.Must(template.Must(template.New("consent").Parse(pageHead)).Parse(`
{{define "title"}}Authorize {{.ClientName}}{{end}}
{{define "main"}}
<h1><strong>{{.ClientName}}</strong> wants to use a sandbox account</h1>
<p class="small">Application <code>{{.ClientID}}</code> — you will be sent back to <code>{{.RedirectURI}}</code>.</p>
{{if .Scopes}}
<p>It asks for these scopes:</p>
<ul class="scopes">{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
{{else}}
<p>It asks for no particular scope: the account's basic profile.</p>
{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="form_token" value="{{.FormToken}}">
<fieldset>
<legend>Continue as</legend>
{{range $i, $u := .Users}}
<label><input type="radio" name="user" value="{{$u.ID}}"{{if eq $i 0}} checked{{end}}>
<strong>{{$u.Login}}</strong>{{with $u.Name}} — {{.}}{{end}}{{with $u.Email}} <span class="small">&lt;{{.}}&gt;</span>{{end}}</label>
{{end}}
</fieldset>
<p class="small">These accounts are made up. Nothing leaves this machine.</p>
<div class="buttons">
<button class="primary" type="submit" name="decision" value="authorize">Authorize</button>
<button type="submit" name="decision" value="deny">Deny</button>
</div>
</form>
{{end}}
`))

var errorTemplate = template.Must(template.Must(template.New("error").Parse(pageHead)).Parse(`
{{define "title"}}Request refused{{end}}
{{define "main"}}
<h1 class="error">The sandbox refused this request</h1>
<p>{{.Message}}</p>
<p class="small">Nothing was sent back to the application.</p>
{{end}}
`))

type consentPage struct {
	Action      string
	ClientName  string
	ClientID    string
	Scopes      []string
	RedirectURI string
	Users       []User
	FormToken   string
}

type errorPage struct{ Message string }

// renderPage renders into a buffer first, so that a failing template never sends half a page.
func (s *Server) renderPage(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "sandbox: cannot render page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page holds a one-time form token: never cache it. No framing (clickjacking onto
	// the Authorize button), no scripts, no Referer carrying the request's state.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) renderError(w http.ResponseWriter, status int, message string) {
	s.renderPage(w, status, errorTemplate, errorPage{Message: message})
}
