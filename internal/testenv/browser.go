package testenv

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// NewBrowser is a browser: a cookie jar, following redirects.
func NewBrowser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// Visit GETs a URL in the browser and returns the final status and body.
func Visit(t testing.TB, browser *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func MustContain(t testing.TB, body, want string) {
	t.Helper()
	if !strings.Contains(body, want) {
		t.Errorf("page does not contain %q:\n%s", want, body)
	}
}

// StopAtCallback is the browser up to the provider's redirect back to the broker: it opens
// the link's page, clicks its first provider's button and returns the callback URL without
// visiting it, so a test can tamper with it or replay it.
func StopAtCallback(t testing.TB, browser *http.Client, linkURL string) string {
	t.Helper()
	return StopAtCallbackFor(t, browser, linkURL, "")
}

// StopAtCallbackFor is StopAtCallback for one provider of the link ("" for the first).
func StopAtCallbackFor(t testing.TB, browser *http.Client, linkURL, provider string) string {
	t.Helper()
	c := *browser
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	status, page := Visit(t, &c, linkURL)
	if status != http.StatusOK {
		t.Fatalf("the link's page: status %d\n%s", status, page)
	}
	if provider == "" {
		forms := ConnectForms(page)
		if len(forms) == 0 || forms[0].Provider == "" {
			t.Fatalf("no provider to click on the page:\n%s", page)
		}
		provider = forms[0].Provider
	}
	resp := Submit(t, &c, FormFor(t, page, provider))
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || !strings.Contains(loc, "/callback") {
		t.Fatalf("flow did not reach the callback: status %d, Location %q", resp.StatusCode, loc)
	}
	return loc
}

// ConnectForm is one form of the connect page: a provider's button, or "this is not me".
type ConnectForm struct {
	Provider string // "" for the cancel form
	Action   string
	Fields   url.Values
}

var (
	formPattern   = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)"(?: data-provider="([^"]+)")?[^>]*>(.*?)</form>`)
	hiddenPattern = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// ConnectForms reads the forms of a connect page.
func ConnectForms(page string) []ConnectForm {
	var out []ConnectForm
	for _, m := range formPattern.FindAllStringSubmatch(page, -1) {
		f := ConnectForm{Provider: m[2], Action: html.UnescapeString(m[1]), Fields: url.Values{}}
		for _, h := range hiddenPattern.FindAllStringSubmatch(m[3], -1) {
			f.Fields.Set(h[1], html.UnescapeString(h[2]))
		}
		out = append(out, f)
	}
	return out
}

// FormFor returns the page's form for provider ("" for the cancel form), failing the test
// when there is none.
func FormFor(t testing.TB, page, provider string) ConnectForm {
	t.Helper()
	for _, f := range ConnectForms(page) {
		if f.Provider == provider {
			return f
		}
	}
	t.Fatalf("the page has no form for %q:\n%s", provider, page)
	return ConnectForm{}
}

// Submit posts a form as a browser does from the broker's own page: same origin.
func Submit(t testing.TB, browser *http.Client, f ConnectForm) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.Action, strings.NewReader(f.Fields.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", f.Action, err)
	}
	return resp
}

// Click submits the form for provider on page and returns where the browser ended up.
func Click(t testing.TB, browser *http.Client, page, provider string) (int, string) {
	t.Helper()
	resp := Submit(t, browser, FormFor(t, page, provider))
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// ConnectAll is a person opening a link and clicking the button of each provider not linked
// yet, in the page's order, through providers that approve without a page of their own. It
// returns the last page: with every provider linked, the connect page showing "All set".
func ConnectAll(t testing.TB, browser *http.Client, linkURL string) (int, string) {
	t.Helper()
	status, page := Visit(t, browser, linkURL)
	for status == http.StatusOK {
		forms := ConnectForms(page)
		if len(forms) == 0 || forms[0].Provider == "" {
			break // nothing left to click but "this is not me"
		}
		status, page = Click(t, browser, page, forms[0].Provider)
	}
	return status, page
}

// ProviderState is a provider's data-state on a connect page ("" when it is not listed).
func ProviderState(page, provider string) string {
	m := regexp.MustCompile(`data-provider="` + regexp.QuoteMeta(provider) + `" data-state="([a-z_]+)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// PageCode is the six-digit code a connect page shows once every provider of a confirm: code
// Link is linked ("" when it shows none).
func PageCode(page string) string {
	if m := regexp.MustCompile(`<p class="code" id="code">(\d{6})</p>`).FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// IsComplete reports whether a connect page says every provider is linked.
func IsComplete(page string) bool { return strings.Contains(page, `data-connect="complete"`) }

// Consent clicks a button on the sandbox's consent page, as a person would, and returns the
// final status and page.
func Consent(t testing.TB, browser *http.Client, pageURL, page, user, decision string) (int, string) {
	t.Helper()
	m := regexp.MustCompile(`name="form_token" value="([^"]+)"`).FindStringSubmatch(page)
	a := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(page)
	if m == nil || a == nil {
		t.Fatalf("no consent form on the page:\n%s", page)
	}
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := browser.PostForm(u.Scheme+"://"+u.Host+a[1], url.Values{"form_token": {m[1]}, "user": {user}, "decision": {decision}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// OpenLink is a person opening a link and, for each provider not linked yet, clicking its
// button and, on the sandbox's consent page, choosing an account and a button. It returns
// the final status and page: the connect page once every provider is linked, or the first
// page that is not the connect page.
func OpenLink(t testing.TB, browser *http.Client, linkURL, user, decision string) (int, string) {
	t.Helper()
	status, page := Visit(t, browser, linkURL)
	for status == http.StatusOK {
		forms := ConnectForms(page)
		if len(forms) == 0 || forms[0].Provider == "" {
			break
		}
		resp := Submit(t, browser, forms[0])
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, page = resp.StatusCode, string(body)
		if strings.Contains(page, `name="form_token"`) {
			status, page = Consent(t, browser, resp.Request.URL.String(), page, user, decision)
		}
		if !strings.Contains(page, `data-connect="open"`) {
			break
		}
	}
	return status, page
}
