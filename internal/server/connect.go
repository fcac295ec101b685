package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/sessions"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// The connect page and its two POSTs. Opening a link — from the chat, or from any other site
// — only ever shows the page: nothing reaches a provider without a click on the page's own
// button, in a browser that loaded the page (its cookie and the form's token match) and from
// the page itself (the request is same-origin). docs/SECURITY.md maps each check to its test.

// Codes of refused browser requests, beside the broker's (they name the reason in metrics).
const (
	codeCrossSite = "cross_site_request" // a POST that did not come from the broker's own page
	codeNoPage    = "page_not_loaded"    // no page cookie, or a form token that does not match it
)

// connectPage: GET /bots/{bot}/connect?link=TOKEN, and the older GET
// /bots/{bot}/{provider}/auth?link=TOKEN.
func (s *Server) connectPage(w http.ResponseWriter, r *http.Request) {
	bot, provider, token := chi.URLParam(r, "bot"), chi.URLParam(r, "provider"), r.URL.Query().Get("link")
	page := s.readPage(r)
	var c broker.Connect
	var err error
	if recent, ok := s.recentPage(page, token); ok {
		c, err = s.broker.RecentPage(bot, provider, recent)
	} else {
		c, err = s.broker.ConnectPage(r.Context(), bot, provider, token)
	}
	if err != nil {
		// A spent link shows its outcome to a browser that took part in it, and is gone for
		// everyone else.
		if broker.ErrorCode(err) != broker.CodeLinkUsed || page == nil || page.done(c.LinkID) == nil {
			s.flowError(w, r, err)
			return
		}
	}
	if page == nil {
		page = newPageState()
	}
	// The cookie must outlast the page's forms: the link, and a flow started at its end. A
	// cookie that does is not set again (most reloads, and the page after each provider).
	if !s.lastsUntil(page, c.ExpiresAt.Add(broker.FlowTTL)) {
		if err := s.savePage(w, bot, page); err != nil {
			s.flowError(w, r, err)
			return
		}
	}
	s.renderConnect(w, r, s.connectView(c, page, token, requestIDFrom(r.Context())))
}

// recentPage is the page a callback in this browser left for token's page moments ago, if any
// (recent.go).
func (s *Server) recentPage(page *pageState, token string) (broker.Connect, bool) {
	if page == nil {
		return broker.Connect{}, false
	}
	return s.recent.take(page.Browser, token, time.Now())
}

func (s *Server) connectView(c broker.Connect, page *pageState, token, requestID string) connectPage {
	base := s.broker.Config().Server.PublicURL + "/bots/" + c.Bot + "/"
	v := connectPage{
		BotName: c.BotName, UserLabel: c.UserLabel, UserID: c.UserID, Channel: c.Channel,
		Link: token, FormToken: s.formToken(page, token), CancelAction: base + "connect",
		Complete: c.Complete, Cancelled: c.Cancelled, Confirm: c.Confirm, CodeMinutes: int(broker.ConfirmTTL.Minutes()),
		RedirectURL: c.RedirectURL, ExpiresAt: c.ExpiresAt, RequestID: requestID,
	}
	done := page.done(c.LinkID)
	if done != nil && c.Complete {
		v.Code = done.Code
	}
	for _, p := range c.Providers {
		cp := connectProvider{Name: p.Name, Title: p.Title, Linked: p.Linked, Action: base + p.Name + "/auth"}
		if done != nil && p.Linked {
			cp.Account = done.Accounts[p.Name]
		}
		v.Providers = append(v.Providers, cp)
	}
	return v
}

// sameOrigin reports whether a POST comes from the broker's own page. Sec-Fetch-Site is set
// by the browser and no page can change it; a browser without it (Safari before 16.4) sends
// Origin, which must be public_url's. A request with neither is refused — no browser on our
// page sends neither — and so is "Origin: null" (a sandboxed frame, a data: URL, a page under
// no-referrer: nothing that is our page).
func (s *Server) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	return r.Header.Get("Origin") == s.publicOrigin
}

// checkForm is what both POSTs check first: same origin, then a form token that matches this
// browser's page cookie for the link. It answers the refusal itself and returns ok = false.
func (s *Server) checkForm(w http.ResponseWriter, r *http.Request) (link string, page *pageState, ok bool) {
	if !s.sameOrigin(r) {
		s.flowError(w, r, &broker.Error{Code: codeCrossSite,
			Message: "this request did not come from the broker's own page, so nothing was started. Open the link from the chat and use the buttons on its page"})
		return "", nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.flowError(w, r, &broker.Error{Code: codeNoPage, Message: "the form is malformed; open the link from the chat again"})
		return "", nil, false
	}
	link, page = r.PostForm.Get("link"), s.readPage(r)
	if !s.formTokenOK(page, link, r.PostForm.Get("form")) {
		s.flowError(w, r, &broker.Error{Code: codeNoPage,
			Message: "this browser did not open the link's page (or its cookie expired), so nothing was started. Open the link from the chat in this browser"})
		return "", nil, false
	}
	return link, page, true
}

// start: POST /bots/{bot}/{provider}/auth, a provider's button on the connect page.
func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	bot, provider := chi.URLParam(r, "bot"), chi.URLParam(r, "provider")
	link, _, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	authURL, fs, err := s.broker.BeginAuth(r.Context(), bot, provider, link)
	if broker.ErrorCode(err) == broker.CodeLinkUsed {
		// Linked already (a second click, a page from the back-forward cache) or the link is
		// spent: the page says which.
		http.Redirect(w, r, broker.ConnectURL(s.broker.Config(), bot, link), http.StatusSeeOther)
		return
	}
	if err != nil {
		s.flowError(w, r, err)
		return
	}
	data, err := json.Marshal(fs)
	if err != nil {
		s.flowError(w, r, err)
		return
	}
	// A fresh session, never one read from the request: the flow must not inherit
	// anything a previous (or planted) cookie carried.
	sess := sessions.NewSession(s.cookies, flowCookie)
	sess.Options = s.cookieOptions(bot, provider, int(broker.FlowTTL.Seconds()))
	sess.IsNew = true
	sess.Values["flow"] = string(data)
	if err := s.cookies.Save(r, w, sess); err != nil {
		s.flowError(w, r, err)
		return
	}
	recordFlowDone(r.Context())
	// The provider learns nothing of the page (whose URL holds the link's token).
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusFound)
}

// cancel: POST /bots/{bot}/connect, the page's "this is not me" button.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	bot := chi.URLParam(r, "bot")
	link, page, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	c, err := s.broker.CancelLink(r.Context(), bot, link)
	if err != nil {
		s.flowError(w, r, err)
		return
	}
	page.record(c.LinkID, "", "", "")
	if err := s.savePage(w, bot, page); err != nil {
		s.flowError(w, r, err)
		return
	}
	recordFlowDone(r.Context())
	http.Redirect(w, r, broker.ConnectURL(s.broker.Config(), bot, link), http.StatusSeeOther)
}
