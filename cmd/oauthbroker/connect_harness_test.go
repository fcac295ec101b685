package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The browser's side of the connect page, as the tests drive it without Chromium: read the
// page's forms, click a provider's button (a same-origin POST with the page's fields, as a
// browser sends it), follow the redirects. connect_browser_test.go drives the same page in
// Chromium.

// connectForm is one form of the connect page: a provider's button, or "this is not me".
type connectForm struct {
	provider string // "" for the cancel form
	action   string
	fields   url.Values
}

var (
	formPattern   = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)"(?: data-provider="([^"]+)")?[^>]*>(.*?)</form>`)
	hiddenPattern = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// connectForms reads the forms of a connect page.
func connectForms(page string) []connectForm {
	var out []connectForm
	for _, m := range formPattern.FindAllStringSubmatch(page, -1) {
		f := connectForm{provider: m[2], action: html.UnescapeString(m[1]), fields: url.Values{}}
		for _, h := range hiddenPattern.FindAllStringSubmatch(m[3], -1) {
			f.fields.Set(h[1], html.UnescapeString(h[2]))
		}
		out = append(out, f)
	}
	return out
}

// formFor returns the page's form for provider ("" for the cancel form), failing the test
// when there is none.
func formFor(t testing.TB, page, provider string) connectForm {
	t.Helper()
	for _, f := range connectForms(page) {
		if f.provider == provider {
			return f
		}
	}
	t.Fatalf("the page has no form for %q:\n%s", provider, page)
	return connectForm{}
}

// submit posts a form as a browser does from the broker's own page: same origin.
func submit(t testing.TB, browser *http.Client, f connectForm) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.action, strings.NewReader(f.fields.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", f.action, err)
	}
	return resp
}

// click submits the form for provider on page and returns where the browser ended up.
func click(t testing.TB, browser *http.Client, page, provider string) (int, string) {
	t.Helper()
	resp := submit(t, browser, formFor(t, page, provider))
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// connectAll is a person opening a link and clicking the button of each provider not linked
// yet, in the page's order, through providers that approve without a page of their own. It
// returns the last page: with every provider linked, the connect page showing "All set".
func connectAll(t *testing.T, browser *http.Client, linkURL string) (int, string) {
	t.Helper()
	status, page := visit(t, browser, linkURL)
	for status == http.StatusOK {
		forms := connectForms(page)
		if len(forms) == 0 || forms[0].provider == "" {
			break // nothing left to click but "this is not me"
		}
		status, page = click(t, browser, page, forms[0].provider)
	}
	return status, page
}

// providerState is a provider's data-state on a connect page ("" when it is not listed).
func providerState(page, provider string) string {
	m := regexp.MustCompile(`data-provider="` + regexp.QuoteMeta(provider) + `" data-state="([a-z_]+)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// pageCode is the six-digit code a connect page shows once every provider of a confirm: code
// link is linked ("" when it shows none).
func pageCode(page string) string {
	if m := regexp.MustCompile(`<p class="code" id="code">(\d{6})</p>`).FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// isComplete reports whether a connect page says every provider is linked.
func isComplete(page string) bool { return strings.Contains(page, `data-connect="complete"`) }
