package sandbox

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// createdAt is a fixed account creation time: the users are made up, so is their age.
const createdAt = "2020-01-01T00:00:00Z"

// htmlBase is where profile links point: .invalid (RFC 2606) can never resolve, which
// suits accounts that do not exist.
const htmlBase = "https://sandbox.invalid/"

// profileShape selects whose error body a profile endpoint answers with.
type profileShape int

const (
	shapeGitHub profileShape = iota
	shapeGitLab
	shapeGoogle
	shapeSlack
	shapeDiscord
	shapeSpotify
	shapeUber
)

// bearer returns the user and scopes of a resource request's access token (RFC 6750),
// or answers 401 itself. allowQuery admits the access_token query parameter (§2.3): GitLab
// and Google still accept it and goth's gitlab and google providers send it; GitHub
// stopped accepting it in 2021, so its endpoints take the header only.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request, shape profileShape, allowQuery bool) (User, []string, bool) {
	var token string
	header := r.Header.Get("Authorization")
	if scheme, value, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "bearer") {
		token = strings.TrimSpace(value)
	}
	fromQuery := allowQuery && r.URL.Query().Has("access_token")
	switch {
	case header != "" && fromQuery:
		// §2: clients MUST NOT use more than one method to transmit the token.
		s.reject(ReasonMalformed)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "token sent both in the header and in the query"})
		return User{}, nil, false
	case fromQuery:
		token = r.URL.Query().Get("access_token")
	}
	if token == "" {
		s.reject(ReasonMissingToken)
		refuseBearer(w, shape, ReasonMissingToken)
		return User{}, nil, false
	}

	s.mu.Lock()
	at := s.access[token]
	var reason Reason
	switch {
	case at == nil:
		reason = ReasonUnknownToken
	case at.revoked || at.family.revoked:
		reason = ReasonRevokedToken
	case expired(s.now(), at.expiresAt):
		reason = ReasonExpiredToken
	}
	var user User
	var scopes []string
	if reason == "" {
		user, _ = s.userLocked(at.userID)
		scopes = slices.Clone(at.scopes)
	} else {
		s.rejectLocked(reason)
	}
	s.mu.Unlock()

	if reason != "" {
		refuseBearer(w, shape, reason)
		return User{}, nil, false
	}
	return user, scopes, true
}

// refuseBearer answers a resource request without a live access token, in the provider's
// own way.
func refuseBearer(w http.ResponseWriter, shape profileShape, reason Reason) {
	if shape == shapeSlack {
		// Slack answers every Web API call with HTTP 200 and says "ok": false.
		writeJSON(w, http.StatusOK, slackError{Error: slackAuthError(reason)})
		return
	}
	// RFC 6750 §3.1: a request without credentials gets a challenge without an error
	// code; an expired, revoked or unknown token gets invalid_token.
	challenge := `Bearer realm="sandbox"`
	if reason != ReasonMissingToken {
		challenge += `, error="invalid_token", error_description="` + string(reason) + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	switch shape {
	case shapeGitHub:
		writeJSON(w, http.StatusUnauthorized, gitHubMessage{Message: "Bad credentials", DocumentationURL: "https://docs.github.com/rest"})
	case shapeDiscord:
		writeJSON(w, http.StatusUnauthorized, discordError{Message: "401: Unauthorized", Code: 0})
	case shapeSpotify:
		writeJSON(w, http.StatusUnauthorized, spotifyError{Error: spotifyErrorBody{Status: http.StatusUnauthorized, Message: "Invalid access token"}})
	case shapeUber:
		writeJSON(w, http.StatusUnauthorized, uberError{Message: "Invalid OAuth 2.0 credentials provided.", Code: "unauthorized"})
	default:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": string(reason)})
	}
}

type gitHubMessage struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
}

// gitHubUser is GET /user. goth's github provider reads id (as an int), login, name,
// email, bio, avatar_url and location; GitHub sends null for unset strings.
type gitHubUser struct {
	Login     string  `json:"login"`
	ID        int64   `json:"id"`
	NodeID    string  `json:"node_id"`
	AvatarURL string  `json:"avatar_url"`
	HTMLURL   string  `json:"html_url"`
	Type      string  `json:"type"`
	SiteAdmin bool    `json:"site_admin"`
	Name      *string `json:"name"`
	Company   *string `json:"company"`
	Blog      string  `json:"blog"`
	Location  *string `json:"location"`
	Email     *string `json:"email"`
	Bio       *string `json:"bio"`
	CreatedAt string  `json:"created_at"`
}

type gitHubEmail struct {
	Email      string `json:"email"`
	Primary    bool   `json:"primary"`
	Verified   bool   `json:"verified"`
	Visibility string `json:"visibility"`
}

func (s *Server) handleGitHubUser(w http.ResponseWriter, r *http.Request) {
	u, scopes, ok := s.bearer(w, r, shapeGitHub, false)
	if !ok {
		return
	}
	w.Header().Set("X-OAuth-Scopes", strings.Join(scopes, ", "))
	writeJSON(w, http.StatusOK, gitHubUser{
		Login:     u.Login,
		ID:        numericID(u),
		NodeID:    "SBX_" + u.ID,
		AvatarURL: u.AvatarURL,
		HTMLURL:   htmlBase + u.Login,
		Type:      "User",
		Name:      nullable(u.Name),
		Email:     nullable(u.Email),
		CreatedAt: createdAt,
	})
}

// handleGitHubEmails serves GET /user/emails. Like GitHub it needs the user or
// user:email scope; goth's github provider asks for it when /user has no email.
func (s *Server) handleGitHubEmails(w http.ResponseWriter, r *http.Request) {
	u, scopes, ok := s.bearer(w, r, shapeGitHub, false)
	if !ok {
		return
	}
	w.Header().Set("X-OAuth-Scopes", strings.Join(scopes, ", "))
	w.Header().Set("X-Accepted-OAuth-Scopes", "user, user:email")
	if !slices.Contains(scopes, "user") && !slices.Contains(scopes, "user:email") {
		s.reject(ReasonInsufficientScope)
		// GitHub hides resources a token may not see behind a 404.
		writeJSON(w, http.StatusNotFound, gitHubMessage{Message: "Not Found", DocumentationURL: "https://docs.github.com/rest"})
		return
	}
	emails := []gitHubEmail{}
	if u.Email != "" {
		emails = append(emails, gitHubEmail{Email: u.Email, Primary: true, Verified: true, Visibility: "private"})
	}
	writeJSON(w, http.StatusOK, emails)
}

// gitLabUser is GET /api/v4/user. goth's gitlab provider reads id (as an int), username,
// name, email and avatar_url; GitLab sends "" for unset strings.
type gitLabUser struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	Name        string `json:"name"`
	State       string `json:"state"`
	AvatarURL   string `json:"avatar_url"`
	WebURL      string `json:"web_url"`
	CreatedAt   string `json:"created_at"`
	Bio         string `json:"bio"`
	Location    string `json:"location"`
	PublicEmail string `json:"public_email"`
	Email       string `json:"email"`
}

func (s *Server) handleGitLabUser(w http.ResponseWriter, r *http.Request) {
	u, _, ok := s.bearer(w, r, shapeGitLab, true)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, gitLabUser{
		ID:        numericID(u),
		Username:  u.Login,
		Name:      u.Name,
		State:     "active",
		AvatarURL: u.AvatarURL,
		WebURL:    htmlBase + u.Login,
		CreatedAt: createdAt,
		Email:     u.Email,
	})
}

// googleV2User is GET /oauth2/v2/userinfo, which goth's google provider reads: id is a
// string there.
type googleV2User struct {
	ID            string `json:"id"`
	Email         string `json:"email,omitempty"`
	VerifiedEmail bool   `json:"verified_email,omitempty"`
	Name          string `json:"name,omitempty"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
	Picture       string `json:"picture,omitempty"`
	Locale        string `json:"locale"`
}

// googleOIDCUser is GET /v1/userinfo, the OpenID Connect userinfo (OIDC Core §5.3).
type googleOIDCUser struct {
	Sub           string `json:"sub"`
	Name          string `json:"name,omitempty"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
	Picture       string `json:"picture,omitempty"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Locale        string `json:"locale"`
}

func (s *Server) handleGoogleV2(w http.ResponseWriter, r *http.Request) {
	u, _, ok := s.bearer(w, r, shapeGoogle, true)
	if !ok {
		return
	}
	given, family := splitName(u.Name)
	writeJSON(w, http.StatusOK, googleV2User{
		ID: u.ID, Email: u.Email, VerifiedEmail: u.Email != "",
		Name: u.Name, GivenName: given, FamilyName: family,
		Picture: u.AvatarURL, Locale: "en",
	})
}

func (s *Server) handleGoogleOIDCUserinfo(w http.ResponseWriter, r *http.Request) {
	u, _, ok := s.bearer(w, r, shapeGoogle, true)
	if !ok {
		return
	}
	given, family := splitName(u.Name)
	writeJSON(w, http.StatusOK, googleOIDCUser{
		Sub: u.ID, Email: u.Email, EmailVerified: u.Email != "",
		Name: u.Name, GivenName: given, FamilyName: family,
		Picture: u.AvatarURL, Locale: "en",
	})
}

// numericID returns the user's id as a number; AddUser has checked that it is one.
func numericID(u User) int64 {
	n, _ := strconv.ParseInt(u.ID, 10, 64)
	return n
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// splitName splits "Ada Lovelace" into given and family name at the first space.
func splitName(name string) (given, family string) {
	given, family, _ = strings.Cut(strings.TrimSpace(name), " ")
	return given, strings.TrimSpace(family)
}
