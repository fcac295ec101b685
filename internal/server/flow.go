package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/oauthbroker/oauthbroker/internal/broker"
	"github.com/oauthbroker/oauthbroker/internal/seal"
)

// flowCookie is the name of the cookie that binds a flow to one browser. Its path is the
// provider's own (/bots/{bot}/{provider}/), so flows for two providers in one browser do not
// overwrite each other.
const flowCookie = "oauthbroker_flow"

// newFlowCookieStore makes the gorilla/sessions store for flow cookies: HMAC-signed and
// AES-encrypted (the cookie holds an OAuth 1.0a request-token secret, the PKCE verifier and
// the link's token),
// HttpOnly, SameSite=Lax (the callback is a top-level navigation from the provider, which Lax
// allows and Strict would not), Secure when the broker is served over https.
func newFlowCookieStore(keys seal.Keys, secure bool) *sessions.CookieStore {
	cs := sessions.NewCookieStore(keys.CookieHashKey, keys.CookieBlockKey)
	cs.Options = &sessions.Options{HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	cs.MaxAge(int(broker.FlowTTL.Seconds()))
	useCookieSerializer(cs.Codecs)
	return cs
}

func flowPath(bot, provider string) string { return "/bots/" + bot + "/" + provider + "/" }

// callback: GET or POST /bots/{bot}/{provider}/callback. On success the browser goes (303)
// back to the link's connect page, which shows this provider linked, so the code and state
// leave the address bar and a reload or Back is a page view, never a second callback.
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
	if broker.ErrorCode(err) == broker.CodeFlowMissing {
		if account, ok := s.readPage(r).linked(provider); ok {
			// Back to the provider's page after linking, and Authorize again: the flow is
			// over, but this browser's page cookie shows it linked this provider, so say so
			// rather than call it an error. Nothing is exchanged or stored.
			s.renderFlowError(w, r, flowErrorPage{Status: http.StatusOK, Title: "Already linked",
				Message: alreadyLinkedMessage(account), RequestID: requestIDFrom(r.Context())})
			return
		}
	}
	if broker.ErrorCode(err) == broker.CodeAccessDenied {
		// The state matched, so the cookie is this browser's own: offer the way back.
		s.flowErrorBack(w, r, err, broker.ConnectURL(s.broker.Config(), bot, fs.Link))
		return
	}
	if err != nil {
		s.flowError(w, r, err)
		return
	}
	page := s.readPage(r)
	if page == nil {
		page = newPageState()
	}
	page.record(done.LinkID, provider, accountName(done.Identity.Name, done.Identity.NickName), done.Code)
	saved := s.savePage(w, bot, page)
	if saved != nil {
		s.log.ErrorContext(r.Context(), "flow: saving the page cookie failed", "request_id", requestIDFrom(r.Context()), "err", saved)
	}
	recordFlowDone(r.Context())
	next := done.LinkURL
	if done.LinkComplete && done.RedirectURL != "" && done.Code == "" {
		next = done.RedirectURL
		w.Header().Set("Referrer-Policy", "no-referrer")
	} else if saved == nil {
		// The connect page this browser goes to next shows what this callback left.
		s.recent.put(page.Browser, fs.Link, done.Page, time.Now())
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// alreadyLinkedMessage is the page for a provider's answer that comes back after its flow
// ended in this browser.
func alreadyLinkedMessage(account string) string {
	if account == "" {
		return "This account is already linked. Nothing more to do here: go back to the chat."
	}
	return "Your account " + account + " is already linked. Nothing more to do here: go back to the chat."
}

// accountName is how pages name a linked account: "Grace Hopper @grace".
func accountName(name, nick string) string {
	if nick == "" {
		return name
	}
	if name == "" {
		return "@" + nick
	}
	return name + " @" + nick
}

// readFlow returns the browser's flow state, or nil when there is none or it does not verify
// (tampered, expired, made with other keys). It opens the cookie as the flow cookie store's
// Get does, with the store's codecs, without the session registry Get builds into the
// request (a map, a session and two copies of the request, for one value read once).
func (s *Server) readFlow(r *http.Request) *broker.FlowState {
	c, err := r.Cookie(flowCookie)
	if err != nil {
		return nil
	}
	var values map[any]any
	if securecookie.DecodeMulti(flowCookie, c.Value, &values, s.cookies.Codecs...) != nil {
		return nil
	}
	raw, ok := values["flow"].(string)
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

// flowError renders the error page for a failed or refused flow request with the status
// its code has. Every refusal of the browser's routes goes through here (and so through
// recordFlowError).
func (s *Server) flowError(w http.ResponseWriter, r *http.Request, err error) {
	s.flowErrorBack(w, r, err, "")
}

// flowErrorBack is flowError with a link back to the connect page.
func (s *Server) flowErrorBack(w http.ResponseWriter, r *http.Request, err error, back string) {
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
	s.renderFlowError(w, r, flowErrorPage{Status: status, Title: title, Message: sentence(msg), BackURL: back, RequestID: requestIDFrom(r.Context())})
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
	case codeCrossSite, codeNoPage:
		return http.StatusForbidden, "Nothing was started"
	case broker.CodeUpstream:
		return http.StatusBadGateway, "The provider did not answer as expected"
	case broker.CodeTooManyFlows:
		return http.StatusTooManyRequests, "Too many sign-ins started"
	}
	return http.StatusInternalServerError, "Something went wrong"
}
