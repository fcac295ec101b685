package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/templates"
)

// TestConnectPage: the connect page as the server builds it (connecthtml.go): its markers
// (docs/INTEGRATION.md), what a person reads on it, escaping of what bots and providers
// supply, and its two header changes.
func TestConnectPage(t *testing.T) {
	p, err := templates.Parse()
	if err != nil {
		t.Fatal(err)
	}
	open := connectPage{
		BotName: "Ride <Bot>", UserLabel: `Ada "<img src=x>"`, UserID: "U1", Channel: "slack",
		Providers: []connectProvider{
			{Name: "rides", Title: "Rides", Linked: true, Account: "<b>ada</b>", Action: "https://broker.test/bots/b/rides/auth"},
			{Name: "social", Title: "Social", Action: "https://broker.test/bots/b/social/auth"},
		},
		Link: "tok\"en", FormToken: "ft", CancelAction: "https://broker.test/bots/b/connect", Confirm: true, CodeMinutes: 10,
	}
	rec := httptest.NewRecorder()
	p.Write(rec, http.StatusOK, templates.Connect, appendConnectPage(nil, &open))
	page := rec.Body.String()
	for _, want := range []string{
		`data-connect="open"`, `<li data-provider="rides" data-state="linked">`, `<li data-provider="social" data-state="not_linked">`,
		`<form method="post" action="https://broker.test/bots/b/social/auth" data-provider="social">`,
		`value="tok&#34;en"`, `Ride &lt;Bot&gt;`, `Ada &#34;&lt;img src=x&gt;&#34;`, `&lt;b&gt;ada&lt;/b&gt;`, "This is not me",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the open page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, `data-provider="rides">`) {
		t.Error("a linked provider still has a button")
	}
	h := rec.Header()
	if csp := h.Get("Content-Security-Policy"); h.Get("Referrer-Policy") != "same-origin" || !strings.Contains(csp, "form-action 'self' https:") ||
		strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}

	done := open
	done.Complete, done.Code, done.RedirectURL = true, "042137", "https://bot.example/done"
	done.Providers = []connectProvider{{Name: "rides", Title: "Rides", Linked: true}, {Name: "social", Title: "Social", Linked: true}}
	rec = httptest.NewRecorder()
	p.Write(rec, http.StatusOK, templates.Connect, appendConnectPage(nil, &done))
	page = rec.Body.String()
	for _, want := range []string{`data-connect="complete"`, `<p class="code" id="code">042137</p>`, `href="https://bot.example/done"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the complete page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<form") {
		t.Errorf("the complete page has a form:\n%s", page)
	}
}
