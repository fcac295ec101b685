package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"slices"
	"strings"
)

// The profile endpoints of the providers whose URLs goth hard-codes (slack, discord,
// spotify, uber), at their real paths and in their JSON shapes, so that a test reaches
// them by rewriting only the host. Each gives the fields goth reads, and only as far as
// the token's scope lets the real provider give them. Every shape uses User.ID as the
// provider's user id.

// slackTeamID is the one workspace every sandbox user belongs to.
const slackTeamID = "T0SANDBOX"

// slackError is how Slack's Web API fails: HTTP 200 with "ok": false.
type slackError struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Needed   string `json:"needed,omitempty"`
	Provided string `json:"provided,omitempty"`
}

// slackAuthError is Slack's error code for a missing or unusable token.
func slackAuthError(reason Reason) string {
	switch reason {
	case ReasonMissingToken:
		return "not_authed"
	case ReasonExpiredToken:
		return "token_expired"
	case ReasonRevokedToken:
		return "token_revoked"
	}
	return "invalid_auth"
}

// slackAuthTest is GET /api/auth.test; goth's slack provider reads user_id and user.
type slackAuthTest struct {
	OK     bool   `json:"ok"`
	URL    string `json:"url"`
	Team   string `json:"team"`
	User   string `json:"user"`
	TeamID string `json:"team_id"`
	UserID string `json:"user_id"`
}

func (s *Server) handleSlackAuthTest(w http.ResponseWriter, r *http.Request) {
	u, _, ok := s.bearer(w, r, shapeSlack, false)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, slackAuthTest{OK: true, URL: htmlBase, Team: "Sandbox", User: u.Login, TeamID: slackTeamID, UserID: u.ID})
}

// slackUsersInfo is GET /api/users.info?user=; goth's slack provider calls it when it asked
// for users:read, and reads user.id, user.name and user.profile.
type slackUsersInfo struct {
	OK   bool      `json:"ok"`
	User slackUser `json:"user"`
}

type slackUser struct {
	ID       string       `json:"id"`
	TeamID   string       `json:"team_id"`
	Name     string       `json:"name"`
	Deleted  bool         `json:"deleted"`
	RealName string       `json:"real_name"`
	IsBot    bool         `json:"is_bot"`
	Profile  slackProfile `json:"profile"`
}

type slackProfile struct {
	RealName    string `json:"real_name"`
	DisplayName string `json:"display_name"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email,omitempty"` // only with users:read.email
	Image32     string `json:"image_32"`
}

func (s *Server) handleSlackUsersInfo(w http.ResponseWriter, r *http.Request) {
	_, scopes, ok := s.bearer(w, r, shapeSlack, false)
	if !ok {
		return
	}
	if !slices.Contains(scopes, "users:read") {
		s.reject(ReasonInsufficientScope)
		writeJSON(w, http.StatusOK, slackError{Error: "missing_scope", Needed: "users:read", Provided: strings.Join(scopes, ",")})
		return
	}
	u, found := s.user(r.URL.Query().Get("user"))
	if !found {
		writeJSON(w, http.StatusOK, slackError{Error: "user_not_found"})
		return
	}
	first, last := splitName(u.Name)
	p := slackProfile{RealName: u.Name, DisplayName: u.Login, FirstName: first, LastName: last, Image32: u.AvatarURL}
	// Since 2017 Slack shows addresses only to tokens with users:read.email.
	if slices.Contains(scopes, "users:read.email") {
		p.Email = u.Email
	}
	writeJSON(w, http.StatusOK, slackUsersInfo{OK: true, User: slackUser{
		ID: u.ID, TeamID: slackTeamID, Name: u.Login, RealName: u.Name, Profile: p,
	}})
}

type discordError struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// discordUser is GET /api/users/@me (scope identify); goth's discord provider reads id,
// username, email, avatar (a hash it turns into a CDN URL), verified and mfa_enabled.
type discordUser struct {
	ID            string  `json:"id"`
	Username      string  `json:"username"`
	Discriminator string  `json:"discriminator"` // "0" since Discord's unique usernames
	GlobalName    *string `json:"global_name"`
	Avatar        *string `json:"avatar"`
	MFAEnabled    bool    `json:"mfa_enabled"`
	Locale        string  `json:"locale"`
	// Only with the email scope.
	Email    *string `json:"email,omitempty"`
	Verified *bool   `json:"verified,omitempty"`
}

func (s *Server) handleDiscordMe(w http.ResponseWriter, r *http.Request) {
	u, scopes, ok := s.bearer(w, r, shapeDiscord, false)
	if !ok {
		return
	}
	if !slices.Contains(scopes, "identify") {
		s.reject(ReasonInsufficientScope)
		writeJSON(w, http.StatusUnauthorized, discordError{Message: "401: Unauthorized", Code: 0})
		return
	}
	d := discordUser{ID: u.ID, Username: u.Login, Discriminator: "0", GlobalName: nullable(u.Name), Locale: "en-US"}
	if u.AvatarURL != "" {
		// Discord sends an image hash; any stable 32 hex digits will do.
		sum := sha256.Sum256([]byte(u.AvatarURL))
		d.Avatar = nullable(hex.EncodeToString(sum[:16]))
	}
	if slices.Contains(scopes, "email") {
		verified := u.Email != ""
		d.Email, d.Verified = nullable(u.Email), &verified
	}
	writeJSON(w, http.StatusOK, d)
}

// handleV1Me serves GET /v1/me, the path of both Spotify's (api.spotify.com) and Uber's
// (api.uber.com) profile. The host the client addressed tells them apart: X-Forwarded-Host
// when a test's host rewrite (providertest.RewriteTransport) or a proxy passed the request
// on, else the Host header. Any other host is refused rather than guessed.
func (s *Server) handleV1Me(w http.ResponseWriter, r *http.Request) {
	switch addressedHost(r) {
	case "api.spotify.com":
		s.handleSpotifyMe(w, r)
	case "api.uber.com":
		s.handleUberMe(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found",
			"error_description": "/v1/me is Spotify's (api.spotify.com) and Uber's (api.uber.com): name one in Host or X-Forwarded-Host"})
	}
}

// addressedHost is the host name, without port and in lower case, that the client sent
// the request to.
func addressedHost(r *http.Request) string {
	host := r.Host
	if fwd := r.Header.Get("X-Forwarded-Host"); fwd != "" {
		host, _, _ = strings.Cut(fwd, ",") // the first hop is the client's
	}
	host = strings.TrimSpace(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(host)
}

type spotifyError struct {
	Error spotifyErrorBody `json:"error"`
}

type spotifyErrorBody struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// spotifyUser is GET api.spotify.com/v1/me; goth's spotify provider reads id,
// display_name, email and images[0].url (and always asks for user-read-email).
type spotifyUser struct {
	DisplayName  *string           `json:"display_name"`
	Email        string            `json:"email,omitempty"` // only with user-read-email
	ExternalURLs map[string]string `json:"external_urls"`
	Href         string            `json:"href"`
	ID           string            `json:"id"`
	Images       []spotifyImage    `json:"images"`
	Type         string            `json:"type"`
	URI          string            `json:"uri"`
}

type spotifyImage struct {
	URL    string `json:"url"`
	Height *int   `json:"height"`
	Width  *int   `json:"width"`
}

func (s *Server) handleSpotifyMe(w http.ResponseWriter, r *http.Request) {
	u, scopes, ok := s.bearer(w, r, shapeSpotify, false)
	if !ok {
		return
	}
	me := spotifyUser{
		DisplayName:  nullable(u.Name),
		ExternalURLs: map[string]string{"spotify": htmlBase + "user/" + u.ID},
		Href:         "https://api.spotify.com/v1/users/" + u.ID,
		ID:           u.ID,
		Images:       []spotifyImage{},
		Type:         "user",
		URI:          "spotify:user:" + u.ID,
	}
	if u.AvatarURL != "" {
		me.Images = append(me.Images, spotifyImage{URL: u.AvatarURL})
	}
	if slices.Contains(scopes, "user-read-email") {
		me.Email = u.Email
	}
	writeJSON(w, http.StatusOK, me)
}

type uberError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

// uberUser is GET api.uber.com/v1/me (scope profile); goth's uber provider reads uuid,
// first_name, email and picture. Uber's uuid is a UUID; the sandbox sends User.ID.
type uberUser struct {
	Picture        string `json:"picture"`
	FirstName      string `json:"first_name"`
	LastName       string `json:"last_name"`
	UUID           string `json:"uuid"`
	RiderID        string `json:"rider_id"`
	Email          string `json:"email"`
	MobileVerified bool   `json:"mobile_verified"`
}

func (s *Server) handleUberMe(w http.ResponseWriter, r *http.Request) {
	u, scopes, ok := s.bearer(w, r, shapeUber, false)
	if !ok {
		return
	}
	if !slices.Contains(scopes, "profile") {
		s.reject(ReasonInsufficientScope)
		writeJSON(w, http.StatusUnauthorized, uberError{Message: "This endpoint requires at least one of the following scopes: profile", Code: "unauthorized"})
		return
	}
	first, last := splitName(u.Name)
	writeJSON(w, http.StatusOK, uberUser{
		Picture: u.AvatarURL, FirstName: first, LastName: last, UUID: u.ID, RiderID: "rider-" + u.ID, Email: u.Email,
	})
}
