package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/sessions"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/templates"
)

// flowCookie is the name of the cookie that binds a flow to one browser. Its path is the
// provider's own (/bots/{bot}/{provider}/), so flows for two providers in one browser do not
// overwrite each other.
const flowCookie = "oauthbroker_flow"

// newFlowCookieStore makes the gorilla/sessions store for flow cookies: HMAC-signed and
// AES-encrypted (the cookie holds an OAuth 1.0a request-token secret and the PKCE verifier),
// HttpOnly, SameSite=Lax (the callback is a top-level navigation from the provider, which Lax
// allows and Strict would not), Secure when the broker is served over https.
func newFlowCookieStore(keys seal.Keys, secure bool) *sessions.CookieStore {
	cs := sessions.NewCookieStore(keys.CookieHashKey, keys.CookieBlockKey)
	cs.Options = &sessions.Options{HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	cs.MaxAge(int(broker.FlowTTL.Seconds()))
	return cs
}

func flowPath(bot, provider string) string { return "/bots/" + bot + "/" + provider + "/" }

// auth: GET /bots/{bot}/{provider}/auth?link=TOKEN
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	bot, provider := chi.URLParam(r, "bot"), chi.URLParam(r, "provider")
	authURL, fs, err := s.broker.BeginAuth(r.Context(), bot, provider, r.URL.Query().Get("link"))
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
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusFound)
}

// callback: GET or POST /bots/{bot}/{provider}/callback
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	bot, provider := chi.URLParam(r, "bot"), chi.URLParam(r, "provider")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.flowError(w, r, &broker.Error{Code: broker.CodeFlowInvalid, Message: "the sign-in answer is malformed"})
		return
	}
	fs := s.readFlow(r)
	done, err := s.broker.CompleteAuth(r.Context(), bot, provider, fs, r.Form)
	if code := broker.ErrorCode(err); err == nil || (code != broker.CodeFlowMissing && code != broker.CodeFlowInvalid &&
		code != broker.CodeUnknownBot && code != broker.CodeUnknownProvider) {
		// The flow is over (consumed or failed for good): drop its cookie. A mismatched
		// one is left alone: it may belong to a flow still running in another tab.
		s.clearFlow(w, r, bot, provider)
	}
	if err != nil {
		s.flowError(w, r, err)
		return
	}
	if done.RedirectURL != "" && done.Code == "" {
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, done.RedirectURL, http.StatusSeeOther)
		return
	}
	account := done.Identity.Name
	if done.Identity.NickName != "" {
		if account != "" {
			account += " "
		}
		account += "@" + done.Identity.NickName
	}
	s.pages.RenderFlowSuccess(w, templates.FlowSuccess{
		Provider: done.Provider, Account: account, Bot: bot, Relinked: done.Relinked,
		Code: done.Code, RedirectURL: done.RedirectURL, RequestID: requestIDFrom(r.Context()),
	})
}

// readFlow returns the browser's flow state, or nil when there is none or it does not verify
// (tampered, expired, made with other keys).
func (s *Server) readFlow(r *http.Request) *broker.FlowState {
	sess, err := s.cookies.Get(r, flowCookie)
	if err != nil || sess.IsNew {
		return nil
	}
	raw, ok := sess.Values["flow"].(string)
	if !ok {
		return nil
	}
	var fs broker.FlowState
	if json.Unmarshal([]byte(raw), &fs) != nil {
		return nil
	}
	return &fs
}

func (s *Server) clearFlow(w http.ResponseWriter, r *http.Request, bot, provider string) {
	http.SetCookie(w, sessions.NewCookie(flowCookie, "", s.cookieOptions(bot, provider, -1)))
}

func (s *Server) cookieOptions(bot, provider string, maxAge int) *sessions.Options {
	return &sessions.Options{
		Path: flowPath(bot, provider), MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	}
}

// flowError renders the error page for a failed flow with the status SPEC §3.1 gives.
func (s *Server) flowError(w http.ResponseWriter, r *http.Request, err error) {
	code := broker.ErrorCode(err)
	recordFlowError(r.Context(), code)
	status, title := flowStatus(code)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "flow failed", "request_id", requestIDFrom(r.Context()), "code", code, "err", err)
	} else {
		s.log.InfoContext(r.Context(), "flow refused", "request_id", requestIDFrom(r.Context()), "code", code)
	}
	var be *broker.Error
	msg := broker.ErrorMessage(err)
	if !errors.As(err, &be) {
		msg = "The broker hit an internal error. Nothing was linked."
	}
	s.pages.RenderFlowError(w, templates.FlowError{Status: status, Title: title, Message: sentence(msg), RequestID: requestIDFrom(r.Context())})
}

// sentence turns a broker message (written for API callers: lower case, no full stop) into a
// sentence for a page.
func sentence(msg string) string {
	r, size := utf8.DecodeRuneInString(msg)
	if size == 0 {
		return msg
	}
	msg = string(unicode.ToUpper(r)) + msg[size:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func flowStatus(code string) (int, string) {
	switch code {
	case broker.CodeUnknownBot, broker.CodeUnknownProvider, broker.CodeLinkNotFound:
		return http.StatusNotFound, "Link not found"
	case broker.CodeLinkExpired:
		return http.StatusGone, "This link has expired"
	case broker.CodeLinkUsed:
		return http.StatusGone, "This link was already used"
	case broker.CodeFlowMissing, broker.CodeFlowInvalid, broker.CodeFlowExpired:
		return http.StatusBadRequest, "Linking could not be completed"
	case broker.CodeAccessDenied:
		return http.StatusForbidden, "You cancelled"
	case broker.CodeUpstream:
		return http.StatusBadGateway, "The provider did not answer as expected"
	case broker.CodeTooManyFlows:
		return http.StatusTooManyRequests, "Too many sign-ins started"
	}
	return http.StatusInternalServerError, "Something went wrong"
}
