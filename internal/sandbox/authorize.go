package sandbox

import (
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/retain"
)

// browserCookie binds a consent form to the browser it was shown to.
const browserCookie = "sbx_browser"

// authError is a refused authorization request.
type authError struct {
	reason      Reason
	code        string // RFC 6749 §4.1.2.1 error code, sent when redirecting
	description string
	// redirect is false when the client or its redirect URI cannot be trusted: then the
	// user sees an error page and nothing is sent anywhere.
	redirect bool
}

func pageError(reason Reason, description string) *authError {
	return &authError{reason: reason, code: "invalid_request", description: description}
}

func clientError(reason Reason, code, description string) *authError {
	return &authError{reason: reason, code: code, description: description, redirect: true}
}

// parseAuthRequest validates an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3).
// The returned request carries the client, redirect URI and state even on error, for
// the error redirect.
func (s *Server) parseAuthRequest(q url.Values) (authRequest, *authError) {
	// RFC 6749 §4.1.2.1: when client_id or redirect_uri is missing, invalid or not
	// registered, inform the user and MUST NOT redirect, or the server becomes an open
	// redirector that lends its name to phishing.
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return authRequest{}, pageError(ReasonMalformed, "The parameter "+k+" is repeated.")
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return authRequest{}, pageError(ReasonMalformed, "The request has no client_id.")
	}
	client, ok := s.client(clientID)
	if !ok {
		return authRequest{}, pageError(ReasonUnknownClient, "No application is registered as "+clientID+".")
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" {
		// Optional in RFC 6749 §4.1.1 with one registered URI; the sandbox always wants it so
		// that the token request can prove it used the same one (§4.1.3).
		return authRequest{}, pageError(ReasonMalformed, "The request has no redirect_uri.")
	}
	// RFC 6749 §3.1.2.3 and RFC 9700 §4.1.3: exact string comparison, no prefix matching.
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		return authRequest{}, pageError(ReasonUnregisteredURI, "The redirect_uri "+redirectURI+" is not registered for "+clientID+".")
	}
	req := authRequest{client: client, redirectURI: redirectURI, state: q.Get("state")}

	// From here on the client is known and errors go back to it.
	for k, v := range q {
		if len(v) > 1 { // RFC 6749 §3.1: parameters MUST NOT be included more than once
			return req, clientError(ReasonMalformed, "invalid_request", "parameter "+k+" is repeated")
		}
	}
	switch q.Get("response_type") {
	case "code":
	case "":
		return req, clientError(ReasonMalformed, "invalid_request", "response_type is missing")
	default:
		return req, clientError(ReasonUnsupportedResp, "unsupported_response_type", "only response_type=code is supported")
	}
	scopes, ok := parseScope(q.Get("scope"))
	if !ok {
		return req, clientError(ReasonInvalidScope, "invalid_scope", "scope is not a space-separated list of scope tokens")
	}
	req.scopes = scopes
	req.nonce = q.Get("nonce")

	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return req, clientError(ReasonMalformed, "invalid_request", "code_challenge_method without code_challenge")
	case challenge != "" && method != "S256":
		// RFC 7636 §4.3: a missing method means "plain", which sends the verifier itself
		// through the browser. RFC 9700 §2.1.1 asks for S256; §4.4.1 names the error.
		return req, clientError(ReasonPKCEPlain, "invalid_request", "code_challenge_method must be S256")
	case challenge != "":
		// RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is always 43 characters.
		if b, err := base64.RawURLEncoding.DecodeString(challenge); err != nil || len(b) != 32 {
			return req, clientError(ReasonMalformed, "invalid_request", "code_challenge is not a base64url SHA-256 digest")
		}
		req.codeChallenge = challenge
	}
	return req, nil
}

// parseScope splits a scope parameter (RFC 6749 §3.3): scope tokens of %x21 / %x23-5B /
// %x5D-7E separated by single spaces.
func parseScope(raw string) ([]string, bool) {
	if raw == "" {
		return nil, true
	}
	scopes := strings.Split(raw, " ")
	for _, sc := range scopes {
		if sc == "" {
			return nil, false
		}
		for i := 0; i < len(sc); i++ {
			c := sc[i]
			if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return nil, false
			}
		}
	}
	return scopes, true
}

// handleAuthorize serves GET /authorize: the consent page, or with AutoApprove a redirect
// with a code. A GET never records a decision on its own: that takes the consent form.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	req, aerr := s.parseAuthRequest(r.URL.Query())
	if aerr != nil {
		s.refuseAuthorize(w, r, req, aerr)
		return
	}
	if s.autoApprove != "" {
		s.mu.Lock()
		code := s.issueCodeLocked(req, s.autoApprove)
		s.mu.Unlock()
		redirectToClient(w, r, req.redirectURI, url.Values{"code": {code}}, req.state)
		return
	}

	browser := s.browserID(w, r)
	formToken := newSecret(prefixForm)
	now := s.now()
	s.mu.Lock()
	for t, p := range s.pending { // keep the map small: drop forms nobody submitted
		if expired(now, p.expiresAt) {
			delete(s.pending, t)
		}
	}
	s.pending[formToken] = &consentRequest{req: req, browser: browser, expiresAt: now.Add(consentTTL)}
	users := slices.Clone(s.users)
	s.mu.Unlock()

	name := req.client.Name
	if name == "" {
		name = req.client.ID
	}
	s.renderPage(w, http.StatusOK, consentTemplate, consentPage{
		Action:      s.prefix + "/authorize",
		ClientName:  name,
		ClientID:    req.client.ID,
		Scopes:      req.scopes,
		RedirectURI: req.redirectURI,
		Users:       users,
		FormToken:   formToken,
	})
}

// browserID returns the browser's sbx_browser cookie, setting a new one if it has none.
// SameSite=Lax: the cookie comes along on the top-level navigation from the client to
// the consent page, but never on a cross-site POST.
func (s *Server) browserID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(browserCookie); err == nil && strings.HasPrefix(c.Value, prefixBrowser) && len(c.Value) > 40 {
		return c.Value
	}
	id := newSecret(prefixBrowser)
	http.SetCookie(w, &http.Cookie{
		Name:     browserCookie,
		Value:    id,
		Path:     s.prefix + "/",
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	return id
}

// handleConsent serves POST /authorize: the user's decision on the consent page.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	// Fetch Metadata: a browser marks a POST from another site's page. The form token and
	// cookie checks below stop such a POST anyway; this makes the refusal explicit.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		s.reject(ReasonBadFormToken)
		s.renderError(w, http.StatusForbidden, "This decision was sent from another site and is ignored.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		s.reject(ReasonMalformed)
		s.renderError(w, http.StatusBadRequest, "The consent form must be sent as a form.")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.reject(ReasonMalformed)
		s.renderError(w, http.StatusBadRequest, "The consent form could not be read.")
		return
	}
	// Only the body counts: a URL (which anyone can make a browser GET or POST) never
	// carries the form token or the decision.
	form := r.PostForm
	formToken := form.Get("form_token")
	var browser string
	if c, err := r.Cookie(browserCookie); err == nil {
		browser = c.Value
	}

	target, params, state, msg := s.decide(form, formToken, browser)
	if msg != "" {
		s.renderError(w, http.StatusBadRequest, msg+" Go back to the application and start again.")
		return
	}
	redirectToClient(w, r, target, params, state)
}

// decide records the consent decision and returns where to send the browser, or an
// error message for the user.
func (s *Server) decide(form url.Values, formToken, browser string) (redirectURI string, params url.Values, state, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pend := s.pending[formToken]
	delete(s.pending, formToken) // one decision per page, whatever happens next
	if pend == nil || expired(s.now(), pend.expiresAt) || browser == "" ||
		subtle.ConstantTimeCompare([]byte(browser), []byte(pend.browser)) != 1 {
		s.rejectLocked(ReasonBadFormToken)
		return "", nil, "", "This consent form is not valid (any more)."
	}
	req := pend.req
	switch form.Get("decision") {
	case "deny":
		s.stats.Denials++
		// RFC 6749 §4.1.2.1: the resource owner denied the request.
		return req.redirectURI, url.Values{
			"error":             {"access_denied"},
			"error_description": {"The user denied the request."},
		}, req.state, ""
	case "authorize":
		userID := form.Get("user")
		if _, ok := s.userLocked(userID); !ok {
			s.rejectLocked(ReasonUnknownUser)
			return "", nil, "", "Choose one of the sandbox accounts."
		}
		return req.redirectURI, url.Values{"code": {s.issueCodeLocked(req, userID)}}, req.state, ""
	default:
		s.rejectLocked(ReasonMalformed)
		return "", nil, "", "The consent form carries no decision."
	}
}

// issueCodeLocked creates an authorization code for req approved by userID.
func (s *Server) issueCodeLocked(req authRequest, userID string) string {
	code := newSecret(prefixCode)
	s.codes[code] = &authCode{req: req, userID: userID, expiresAt: s.now().Add(CodeTTL)}
	s.codeOrder = retain.Remember(s.codes, s.codeOrder, code, s.retain)
	s.stats.Authorizations++
	return code
}

func (s *Server) refuseAuthorize(w http.ResponseWriter, r *http.Request, req authRequest, aerr *authError) {
	s.reject(aerr.reason)
	if !aerr.redirect {
		s.renderError(w, http.StatusBadRequest, aerr.description)
		return
	}
	redirectToClient(w, r, req.redirectURI, url.Values{
		"error":             {aerr.code},
		"error_description": {aerr.description},
	}, req.state)
}

// redirectToClient sends the browser to a registered redirect URI with params added to
// its query. RFC 6749 §3.1.2 keeps the URI's own query; §4.1.2 returns state unchanged.
func redirectToClient(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values, state string) {
	if state != "" {
		params.Set("state", state)
	}
	target := redirectURI
	if strings.Contains(target, "?") {
		target += "&" + params.Encode()
	} else {
		target += "?" + params.Encode()
	}
	// The Location carries a code: keep it out of caches and Referer headers.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusFound)
}

// expired reports whether t is at or past deadline.
func expired(now, deadline time.Time) bool {
	return !now.Before(deadline)
}
