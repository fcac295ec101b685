package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/retain"
)

// tokenError is an RFC 6749 §5.2 error answer.
type tokenError struct {
	status      int
	code        string
	description string
	reason      Reason
	basic       bool // the client tried HTTP Basic: answer with a Basic challenge
}

func badRequest(reason Reason, code, description string) *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: code, description: description, reason: reason}
}

// tokenResponse is the RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	IDToken      string `json:"id_token,omitempty"` // OIDC Core §3.1.3.3, with scope openid
}

// handleToken serves POST /token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, client, terr := s.clientRequest(w, r)
	if terr == nil {
		var resp tokenResponse
		switch form.Get("grant_type") {
		case "authorization_code":
			resp, terr = s.exchangeCode(client, form, s.issuerFor(r))
		case "refresh_token":
			resp, terr = s.refreshGrant(client, form, s.issuerFor(r))
		case "":
			terr = badRequest(ReasonMalformed, "invalid_request", "grant_type is missing")
		default:
			terr = badRequest(ReasonUnsupportedGrant, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		}
		if terr == nil {
			writeJSON(w, http.StatusOK, resp)
			return
		}
	}
	s.reject(terr.reason)
	writeTokenError(w, terr)
}

// clientRequest reads a form POST to the token or revocation endpoint and authenticates
// the client.
func (s *Server) clientRequest(w http.ResponseWriter, r *http.Request) (url.Values, Client, *tokenError) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	// RFC 6749 §3.2 and RFC 7009 §2.1: parameters come form-encoded in the body.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, Client{}, badRequest(ReasonMalformed, "invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return nil, Client{}, badRequest(ReasonMalformed, "invalid_request", "the body is not a valid form")
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 { // RFC 6749 §3.2: parameters MUST NOT be included more than once
			return nil, Client{}, badRequest(ReasonMalformed, "invalid_request", "parameter "+k+" is repeated")
		}
	}
	client, terr := s.authenticateClient(r, form)
	return form, client, terr
}

// authenticateClient accepts either client authentication method of RFC 6749 §2.3.1, as
// real providers do: HTTP Basic with form-urlencoded id and secret, or client_id and
// client_secret in the body. golang.org/x/oauth2's AuthStyleAutoDetect tries Basic first
// and falls back to the body on any error, so both must work.
func (s *Server) authenticateClient(r *http.Request, form url.Values) (Client, *tokenError) {
	invalid := func(reason Reason, basic bool) *tokenError {
		// RFC 6749 §5.2: 401 for a failed authentication; with Basic, a Basic challenge.
		return &tokenError{status: http.StatusUnauthorized, code: "invalid_client",
			description: "client authentication failed", reason: reason, basic: basic}
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// §2.3.1: the client MUST NOT use more than one authentication method per request.
		if form.Has("client_secret") {
			return Client{}, badRequest(ReasonMalformed, "invalid_request", "client authenticated both by Basic and by client_secret")
		}
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return Client{}, invalid(ReasonMalformed, true)
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return Client{}, badRequest(ReasonMalformed, "invalid_request", "client_id differs from the Basic user name")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return Client{}, invalid(ReasonUnknownClient, basic)
	}
	client, ok := s.client(id)
	if !ok {
		return Client{}, invalid(ReasonUnknownClient, basic)
	}
	// Compare digests in constant time, so neither the secret's bytes nor its length
	// show in the response time.
	want, got := sha256.Sum256([]byte(client.Secret)), sha256.Sum256([]byte(secret))
	if secret == "" || subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		return Client{}, invalid(ReasonBadClientSecret, basic)
	}
	return client, nil
}

// exchangeCode runs the authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6). issuer
// goes into the ID token when the scope has openid.
func (s *Server) exchangeCode(client Client, form url.Values, issuer string) (tokenResponse, *tokenError) {
	codeValue := form.Get("code")
	if codeValue == "" {
		return tokenResponse{}, badRequest(ReasonMalformed, "invalid_request", "code is missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	code := s.codes[codeValue]
	switch {
	case code == nil:
		return tokenResponse{}, badRequest(ReasonUnknownCode, "invalid_grant", "unknown authorization code")
	case code.req.client.ID != client.ID:
		// §4.1.3: ensure the code was issued to the authenticated client.
		return tokenResponse{}, badRequest(ReasonWrongClient, "invalid_grant", "authorization code was issued to another client")
	case code.used:
		// §4.1.2 and §10.5: a code is single-use; on reuse, revoke what it produced, since
		// either the client or an attacker holding a stolen code is replaying it.
		code.family.revoked = true
		return tokenResponse{}, badRequest(ReasonCodeReused, "invalid_grant", "authorization code was already used; its tokens are revoked")
	case expired(s.now(), code.expiresAt):
		return tokenResponse{}, badRequest(ReasonCodeExpired, "invalid_grant", "authorization code expired")
	}
	// §4.1.3: redirect_uri must be present and identical to the authorization request's,
	// so a code stolen through a different redirect cannot be redeemed.
	if redirectURI := form.Get("redirect_uri"); redirectURI == "" {
		return tokenResponse{}, badRequest(ReasonRedirectMismatch, "invalid_request", "redirect_uri is missing")
	} else if redirectURI != code.req.redirectURI {
		return tokenResponse{}, badRequest(ReasonRedirectMismatch, "invalid_grant", "redirect_uri differs from the authorization request")
	}
	verifier := form.Get("code_verifier")
	switch {
	case code.req.codeChallenge == "" && verifier != "":
		// RFC 9700 §2.1.1 / §4.8.2: a verifier without a challenge is a PKCE downgrade.
		return tokenResponse{}, badRequest(ReasonPKCEUnexpectedVerifier, "invalid_request", "code_verifier sent but the authorization request had no code_challenge")
	case code.req.codeChallenge != "" && verifier == "":
		return tokenResponse{}, badRequest(ReasonPKCEMissingVerifier, "invalid_request", "code_verifier is missing")
	case code.req.codeChallenge != "" && !verifierMatches(verifier, code.req.codeChallenge):
		return tokenResponse{}, badRequest(ReasonPKCEWrongVerifier, "invalid_grant", "code_verifier does not match the code_challenge")
	}

	// The code is consumed only by a successful exchange: a client that fixes its request
	// (x/oauth2 retries with the other client authentication style) may try again.
	fam := &family{}
	refresh := newSecret(prefixRefresh)
	resp, terr := s.issueLocked(issue{
		userID: code.userID, clientID: client.ID, grantType: "authorization_code", scopes: code.req.scopes,
		family: fam, refresh: refresh, sendRefresh: true, issuer: issuer, nonce: code.req.nonce,
	})
	if terr != nil {
		return tokenResponse{}, terr
	}
	code.used = true
	code.family = fam
	s.stats.CodeExchanges++
	s.refresh[refresh] = &refreshToken{userID: code.userID, clientID: client.ID, scopes: code.req.scopes, family: fam}
	s.refreshOrder = retain.Remember(s.refresh, s.refreshOrder, refresh, s.retain)
	return resp, nil
}

// verifierMatches checks RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge,
// with the verifier 43–128 unreserved characters (§4.1).
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		c := verifier[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// refreshGrant runs the refresh_token grant (RFC 6749 §6). With openid in the scope the
// answer carries a new ID token, as Google's does (OIDC Core §12.2).
func (s *Server) refreshGrant(client Client, form url.Values, issuer string) (tokenResponse, *tokenError) {
	value := form.Get("refresh_token")
	if value == "" {
		return tokenResponse{}, badRequest(ReasonMalformed, "invalid_request", "refresh_token is missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.refresh[value]
	switch {
	case rt == nil:
		return tokenResponse{}, badRequest(ReasonUnknownRefreshToken, "invalid_grant", "unknown refresh token")
	case rt.clientID != client.ID:
		// §6: the refresh token must have been issued to the authenticated client.
		return tokenResponse{}, badRequest(ReasonWrongClient, "invalid_grant", "refresh token was issued to another client")
	case rt.revoked || rt.family.revoked:
		return tokenResponse{}, badRequest(ReasonRevokedRefreshToken, "invalid_grant", "refresh token was revoked")
	case rt.rotated:
		// RFC 9700 §4.14.2: a rotated-out refresh token presented again means two parties
		// hold it; revoke the whole grant so the thief's copy dies too.
		rt.family.revoked = true
		return tokenResponse{}, badRequest(ReasonRefreshTokenReused, "invalid_grant", "refresh token was already used; the grant is revoked")
	}
	scopes := rt.scopes
	if raw := form.Get("scope"); raw != "" {
		// §6: a refresh may narrow the scope, never widen it.
		asked, ok := parseScope(raw)
		if !ok || slices.ContainsFunc(asked, func(sc string) bool { return !slices.Contains(rt.scopes, sc) }) {
			return tokenResponse{}, badRequest(ReasonInvalidScope, "invalid_scope", "scope exceeds the scope originally granted")
		}
		scopes = asked
	}
	// Without rotation the answer has no refresh_token and the client keeps the one it
	// has, like Google's; with rotation it gets a new one.
	in := issue{
		userID: rt.userID, clientID: client.ID, grantType: "refresh_token", scopes: scopes,
		family: rt.family, refresh: value, issuer: issuer,
	}
	if s.rotateRefresh {
		in.refresh, in.sendRefresh = newSecret(prefixRefresh), true
	}
	resp, terr := s.issueLocked(in)
	if terr != nil {
		return tokenResponse{}, terr
	}
	s.stats.Refreshes++
	if s.rotateRefresh {
		rt.rotated = true
		s.refresh[in.refresh] = &refreshToken{userID: rt.userID, clientID: client.ID, scopes: rt.scopes, family: rt.family}
		s.refreshOrder = retain.Remember(s.refresh, s.refreshOrder, in.refresh, s.retain)
	}
	return resp, nil
}

// issue is one token set to hand out.
type issue struct {
	userID, clientID, grantType string
	scopes                      []string
	family                      *family
	// refresh is the refresh token the client holds afterwards; sendRefresh says whether it
	// is new and goes into the answer.
	refresh     string
	sendRefresh bool
	issuer      string // the ID token's iss
	nonce       string // the authorization request's nonce, "" on refresh
}

// issueLocked creates an access token and, with openid in the scope, an ID token; records
// the token set for Issued; and builds the answer. It changes nothing when it fails.
func (s *Server) issueLocked(in issue) (tokenResponse, *tokenError) {
	token := newSecret(prefixAccess)
	now := s.now()
	expiresAt := now.Add(s.accessTTL)
	var idToken string
	if slices.Contains(in.scopes, "openid") {
		var err error
		if idToken, err = s.idToken(in, token, now, expiresAt); err != nil {
			return tokenResponse{}, &tokenError{status: http.StatusInternalServerError, code: "server_error",
				description: "cannot sign the ID token", reason: ReasonServerError}
		}
	}
	s.access[token] = &accessToken{userID: in.userID, clientID: in.clientID, scopes: in.scopes, expiresAt: expiresAt, family: in.family}
	s.accessOrder = retain.Remember(s.access, s.accessOrder, token, s.retain)
	s.issued = append(retain.Newest(s.issued, s.retain), Grant{
		UserID: in.userID, ClientID: in.clientID, GrantType: in.grantType,
		AccessToken: token, RefreshToken: in.refresh,
		Scopes: slices.Clone(in.scopes), ExpiresAt: expiresAt, IDToken: idToken,
	})
	resp := tokenResponse{
		AccessToken: token,
		TokenType:   "bearer",
		ExpiresIn:   int64(s.accessTTL.Seconds()),
		Scope:       strings.Join(in.scopes, " "),
		IDToken:     idToken,
	}
	if in.sendRefresh {
		resp.RefreshToken = in.refresh
	}
	return resp, nil
}

// handleRevoke serves POST /revoke (RFC 7009).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, client, terr := s.clientRequest(w, r)
	if terr == nil {
		terr = s.revoke(client, form.Get("token"))
	}
	if terr != nil {
		s.reject(terr.reason)
		writeTokenError(w, terr)
		return
	}
	// RFC 7009 §2.2: 200 whether or not the token was known; the body is ignored.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) revoke(client Client, token string) *tokenError {
	if token == "" {
		return badRequest(ReasonMalformed, "invalid_request", "token is missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// §2.1: the token_type_hint is only a hint; look in both places.
	if at, ok := s.access[token]; ok {
		if at.clientID != client.ID {
			// §2.1: the server verifies the token was issued to the requesting client and
			// otherwise refuses the request.
			return badRequest(ReasonWrongClient, "unauthorized_client", "token was issued to another client")
		}
		at.revoked = true
		s.stats.Revocations++
	} else if rt, ok := s.refresh[token]; ok {
		if rt.clientID != client.ID {
			return badRequest(ReasonWrongClient, "unauthorized_client", "token was issued to another client")
		}
		// §2.1: revoking a refresh token SHOULD also invalidate the access tokens of the
		// same grant.
		rt.revoked = true
		rt.family.revoked = true
		s.stats.Revocations++
	}
	return nil
}

func writeTokenError(w http.ResponseWriter, e *tokenError) {
	if e.basic && e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="sandbox"`)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

// writeJSON writes v with the headers RFC 6749 §5.1 requires of token answers (no-store),
// which are harmless on every other answer too.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "sandbox: cannot encode answer", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(body)
}
