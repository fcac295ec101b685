package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// pageCookie is the connect page's cookie, scoped to the bot's pages (/bots/{bot}/). It is
// what a button on the page is bound to: a form's token is a MAC of the cookie's random
// browser id and the link, so a POST from a browser that never loaded the link's page — a
// form copied onto another site — carries no token that matches its cookie. It also keeps
// what this browser finished (see doneLink), so the outcome page survives a reload without
// anything of it stored in clear on the server.
const pageCookie = "oauthbroker_page"

// maxDoneLinks bounds the links a page cookie remembers (newest kept), and so its size.
const maxDoneLinks = 8

// pageState is the page cookie's content, sealed (HMAC-signed and AES-encrypted) like the
// flow cookie.
type pageState struct {
	Browser string     `json:"b"` // 32 random bytes, base64url
	Saved   int64      `json:"s"` // when the cookie was last set (Unix seconds): it lasts pageMaxAge from then
	Done    []doneLink `json:"d,omitempty"`
}

// doneLink is what this browser did on one link: the accounts it linked (so its page can name
// them) and, when it linked the last provider of a confirm: code bot's link, the code.
type doneLink struct {
	Link     int64             `json:"l"`
	Accounts map[string]string `json:"a,omitempty"` // provider → account name
	Code     string            `json:"c,omitempty"`
}

func newPageState() *pageState {
	buf := make([]byte, 32)
	_, _ = rand.Read(buf) // crypto/rand does not fail on supported platforms
	return &pageState{Browser: base64.RawURLEncoding.EncodeToString(buf)}
}

// done returns this browser's record of a link, or nil.
func (p *pageState) done(link int64) *doneLink {
	for i := range p.Done {
		if p.Done[i].Link == link {
			return &p.Done[i]
		}
	}
	return nil
}

// linked returns the account this browser linked at provider on the newest link it
// remembers doing so; p may be nil (no page cookie).
func (p *pageState) linked(provider string) (account string, ok bool) {
	if p == nil {
		return "", false
	}
	for i := len(p.Done) - 1; i >= 0; i-- {
		if account, ok := p.Done[i].Accounts[provider]; ok {
			return account, true
		}
	}
	return "", false
}

// record notes that this browser linked provider's account on link (and was shown code), or,
// with provider "", that it cancelled link. The newest record goes last.
func (p *pageState) record(link int64, provider, account, code string) {
	d := doneLink{Link: link}
	if old := p.done(link); old != nil {
		d = *old
		p.Done = slices.DeleteFunc(p.Done, func(x doneLink) bool { return x.Link == link })
	}
	if provider != "" {
		if d.Accounts == nil {
			d.Accounts = map[string]string{}
		}
		d.Accounts[provider] = clip(account, 80)
	}
	if code != "" {
		d.Code = code
	}
	p.Done = append(p.Done, d)
	if len(p.Done) > maxDoneLinks {
		p.Done = p.Done[len(p.Done)-maxDoneLinks:]
	}
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// readPage returns the browser's page cookie, or nil when there is none or it does not verify.
func (s *Server) readPage(r *http.Request) *pageState {
	c, err := r.Cookie(pageCookie)
	if err != nil {
		return nil
	}
	var raw string
	if err := securecookie.DecodeMulti(pageCookie, c.Value, &raw, s.pageCodecs...); err != nil {
		return nil
	}
	var p pageState
	if json.Unmarshal([]byte(raw), &p) != nil || len(p.Browser) != 43 {
		return nil
	}
	return &p
}

// lastsUntil reports whether the cookie, as last set, is still there at t.
func (s *Server) lastsUntil(p *pageState, t time.Time) bool {
	return p.Saved > 0 && time.Unix(p.Saved, 0).Add(time.Duration(s.pageMaxAge)*time.Second).After(t)
}

// savePage sets the page cookie for the bot's pages, for as long as a link can live.
func (s *Server) savePage(w http.ResponseWriter, bot string, p *pageState) error {
	p.Saved = time.Now().Unix()
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	value, err := securecookie.EncodeMulti(pageCookie, string(data), s.pageCodecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(pageCookie, value, &sessions.Options{
		Path: "/bots/" + bot + "/", MaxAge: s.pageMaxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	}))
	return nil
}

// formToken binds a form to this browser's page cookie and to one link.
func (s *Server) formToken(p *pageState, link string) string {
	m := hmac.New(sha256.New, s.formKey)
	for _, part := range []string{"connect-form/v1", p.Browser, link} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// formTokenOK compares in constant time.
func (s *Server) formTokenOK(p *pageState, link, token string) bool {
	return p != nil && hmac.Equal([]byte(s.formToken(p, link)), []byte(token))
}
