package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CodeTTL is how long an authorization code stays redeemable. RFC 6749 §4.1.2 asks for
// a short lifetime and recommends at most ten minutes; real providers use about a minute.
const CodeTTL = 60 * time.Second

// consentTTL bounds how long a consent page's form token stays usable.
const consentTTL = 10 * time.Minute

// Token prefixes make a token's kind obvious in logs and test failures.
const (
	prefixAccess  = "sbx_at_"
	prefixRefresh = "sbx_rt_"
	prefixCode    = "sbx_code_"
	prefixForm    = "sbx_form_"
	prefixBrowser = "sbx_b_"
)

// Client is a registered application.
type Client struct {
	ID     string
	Secret string // required: the sandbox only knows confidential clients
	Name   string // shown on the consent page; defaults to ID
	// RedirectURIs are absolute URIs without a fragment (RFC 6749 §3.1.2). A request's
	// redirect_uri must equal one of them byte for byte: no prefix or pattern matching.
	RedirectURIs []string
}

// User is an account a person can pick on the consent page.
type User struct {
	// ID is a positive decimal integer, because GitHub and GitLab ids are JSON numbers
	// and goth decodes them into an int. Google-shaped answers send it as a string.
	ID        string
	Login     string // required; GitHub "login", GitLab "username"
	Name      string
	Email     string // empty: GitHub's /user says null and /user/emails is an empty list
	AvatarURL string
}

// Options configures a Server.
type Options struct {
	Clients []Client
	Users   []User // at least one
	// AutoApprove, when set to a user ID, makes GET /authorize approve at once as that
	// user and redirect with a code, without a consent page. For tests.
	AutoApprove string
	// Prefix is the path the server is mounted at, e.g. "/sandbox" ("" for the root). It is
	// used for the consent form's action and the browser cookie's path; callers still strip it.
	Prefix string
	// Issuer is the iss of the ID tokens and of the OpenID Connect discovery document.
	// Empty means the URL the client reached the sandbox at: scheme, Host header and
	// Prefix (see the package comment). Set it when tests pose as a real provider behind a
	// host rewrite: "https://accounts.google.com" for Google, or Google's legacy bare
	// "accounts.google.com".
	Issuer        string
	Now           func() time.Time // default time.Now
	AccessTTL     time.Duration    // default 1h
	RotateRefresh bool             // refresh_token grant issues a new refresh token and retires the old
	// Retain, when positive, bounds what the server remembers, for a long load test (the
	// benchmark's): of the authorization codes, access tokens and refresh tokens, and of the
	// grants Issued lists, it keeps each kind's newest Retain to 2×Retain and forgets the
	// rest, oldest first; a forgotten code or token answers as an unknown one. Zero keeps
	// everything, as tests need.
	Retain int
}

// Grant is one token set the server issued, as Issued reports it.
type Grant struct {
	UserID      string
	ClientID    string
	GrantType   string // "authorization_code" or "refresh_token"
	AccessToken string
	// RefreshToken is the refresh token the client holds after this answer: a new one on
	// exchange or rotation, else the one it presented (which the answer itself omits).
	RefreshToken string
	Scopes       []string
	ExpiresAt    time.Time // of the access token
	// IDToken is the signed OpenID Connect ID token of the answer, when the scope had openid.
	IDToken string
}

// Server is the sandbox authorization server. It is an http.Handler; all methods are
// safe for concurrent use.
type Server struct {
	prefix        string
	now           func() time.Time
	accessTTL     time.Duration
	rotateRefresh bool
	autoApprove   string
	issuer        string // Options.Issuer
	idKey         idKey
	mux           *http.ServeMux

	mu      sync.Mutex
	clients map[string]Client
	users   []User
	pending map[string]*consentRequest // by form token
	codes   map[string]*authCode
	access  map[string]*accessToken
	refresh map[string]*refreshToken
	issued  []Grant
	stats   Stats

	retain int // Options.Retain
	// The keys of codes, access and refresh in the order they were made, while retain > 0.
	codeOrder, accessOrder, refreshOrder []string
}

// family ties together every token that descends from one authorization code, so that
// code reuse (RFC 6749 §10.5), refresh token reuse (RFC 9700 §4.14.2) and revoking a
// refresh token (RFC 7009 §2.1) can invalidate all of them at once.
type family struct{ revoked bool }

// authRequest is a validated authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3).
type authRequest struct {
	client        Client
	redirectURI   string
	scopes        []string
	state         string
	codeChallenge string // S256 only; "" when the client sent none
	nonce         string // OpenID Connect: echoed in the ID token (OIDC Core §3.1.2.1)
}

type consentRequest struct {
	req       authRequest
	browser   string // the sbx_browser cookie the consent page was shown to
	expiresAt time.Time
}

type authCode struct {
	req       authRequest
	userID    string
	expiresAt time.Time
	used      bool
	family    *family // set once exchanged
}

type accessToken struct {
	userID, clientID string
	scopes           []string
	expiresAt        time.Time
	revoked          bool
	family           *family
}

type refreshToken struct {
	userID, clientID string
	scopes           []string
	rotated          bool // replaced by a newer refresh token: presenting it again is reuse
	revoked          bool
	family           *family
}

// New validates opts and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Prefix != "" && (!strings.HasPrefix(opts.Prefix, "/") || strings.HasSuffix(opts.Prefix, "/")) {
		return nil, fmt.Errorf("sandbox: prefix %q must start with / and not end with /", opts.Prefix)
	}
	if len(opts.Users) == 0 {
		return nil, errors.New("sandbox: at least one user is required")
	}
	if err := checkIssuer(opts.Issuer); err != nil {
		return nil, err
	}
	if opts.AccessTTL < 0 {
		return nil, fmt.Errorf("sandbox: negative access token lifetime %s", opts.AccessTTL)
	}
	if opts.Retain < 0 {
		return nil, fmt.Errorf("sandbox: negative Retain %d", opts.Retain)
	}
	s := &Server{
		prefix:        opts.Prefix,
		now:           opts.Now,
		accessTTL:     opts.AccessTTL,
		rotateRefresh: opts.RotateRefresh,
		autoApprove:   opts.AutoApprove,
		issuer:        opts.Issuer,
		clients:       map[string]Client{},
		pending:       map[string]*consentRequest{},
		codes:         map[string]*authCode{},
		access:        map[string]*accessToken{},
		refresh:       map[string]*refreshToken{},
		stats:         Stats{Rejected: map[Reason]int{}},
		retain:        opts.Retain,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.accessTTL == 0 {
		s.accessTTL = time.Hour
	}
	for _, c := range opts.Clients {
		if err := s.AddClient(c); err != nil {
			return nil, err
		}
	}
	for _, u := range opts.Users {
		if err := s.AddUser(u); err != nil {
			return nil, err
		}
	}
	if opts.AutoApprove != "" {
		if _, ok := s.user(opts.AutoApprove); !ok {
			return nil, fmt.Errorf("sandbox: auto-approve user %q is not among the users", opts.AutoApprove)
		}
	}
	s.mux = s.routes()
	return s, nil
}

// AddClient registers an application. A client ID can be registered once.
func (s *Server) AddClient(c Client) error {
	if c.ID == "" || c.Secret == "" {
		return fmt.Errorf("sandbox: client %q: id and secret are required", c.ID)
	}
	if len(c.RedirectURIs) == 0 {
		return fmt.Errorf("sandbox: client %q: at least one redirect URI is required", c.ID)
	}
	for _, raw := range c.RedirectURIs {
		// RFC 6749 §3.1.2: the redirection endpoint URI MUST be absolute and MUST NOT
		// include a fragment.
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#") {
			return fmt.Errorf("sandbox: client %q: redirect URI %q must be absolute, with a host and no fragment", c.ID, raw)
		}
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.clients[c.ID]; dup {
		return fmt.Errorf("sandbox: client %q is already registered", c.ID)
	}
	s.clients[c.ID] = c
	return nil
}

// AddUser adds an account to the consent page's choice.
func (s *Server) AddUser(u User) error {
	if n, err := strconv.ParseInt(u.ID, 10, 64); err != nil || n <= 0 || strconv.FormatInt(n, 10) != u.ID {
		return fmt.Errorf("sandbox: user id %q must be a positive decimal integer (GitHub and GitLab ids are numbers)", u.ID)
	}
	if u.Login == "" {
		return fmt.Errorf("sandbox: user %s: login is required", u.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.users {
		if have.ID == u.ID {
			return fmt.Errorf("sandbox: user %s is already registered", u.ID)
		}
	}
	s.users = append(s.users, u)
	return nil
}

// Issued returns every token set issued so far, oldest first.
func (s *Server) Issued() []Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Grant, len(s.issued))
	for i, g := range s.issued {
		g.Scopes = slices.Clone(g.Scopes)
		out[i] = g
	}
	return out
}

// Live reports whether token is an access token that the profile endpoints would accept
// now, or a refresh token that the token endpoint would accept now.
func (s *Server) Live(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.access[token]; ok {
		return at.live(s.now())
	}
	if rt, ok := s.refresh[token]; ok {
		return !rt.revoked && !rt.rotated && !rt.family.revoked
	}
	return false
}

func (at *accessToken) live(now time.Time) bool {
	return !at.revoked && !at.family.revoked && now.Before(at.expiresAt)
}

// ServeHTTP serves the routes listed in routes, relative to the mount point.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// routes lists every endpoint in one place. The paths under "real provider paths" repeat
// the endpoints at the paths the real providers use, so that a test which rewrites only
// the host of a provider's hard-coded URLs (goth's google, slack, discord, spotify and
// uber providers have no URL options) still lands on the right handler.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.handleAuthorize)
	mux.HandleFunc("POST /authorize", s.handleConsent)
	mux.HandleFunc("POST /token", s.handleToken)
	mux.HandleFunc("POST /revoke", s.handleRevoke)

	// OpenID Connect (Discovery 1.0 §4, RFC 7517).
	mux.HandleFunc("GET /.well-known/openid-configuration", s.handleDiscovery)
	mux.HandleFunc("GET /jwks", s.handleJWKS)

	mux.HandleFunc("GET /user", s.handleGitHubUser)                // GitHub
	mux.HandleFunc("GET /user/emails", s.handleGitHubEmails)       // GitHub
	mux.HandleFunc("GET /api/v4/user", s.handleGitLabUser)         // GitLab
	mux.HandleFunc("GET /oauth2/v2/userinfo", s.handleGoogleV2)    // Google v2 userinfo
	mux.HandleFunc("GET /v1/userinfo", s.handleGoogleOIDCUserinfo) // Google, and the OIDC userinfo
	mux.HandleFunc("GET /api/auth.test", s.handleSlackAuthTest)    // Slack
	mux.HandleFunc("GET /api/users.info", s.handleSlackUsersInfo)  // Slack
	mux.HandleFunc("GET /api/users/@me", s.handleDiscordMe)        // Discord
	mux.HandleFunc("GET /v1/me", s.handleV1Me)                     // Spotify and Uber, told apart by host

	// Real provider paths.
	for _, p := range []string{
		"/login/oauth/authorize", // GitHub
		"/oauth/authorize",       // GitLab, Slack, Uber
		"/o/oauth2/auth",         // Google
		"/o/oauth2/v2/auth",      // Google
		"/api/oauth2/authorize",  // Discord
	} {
		mux.HandleFunc("GET "+p, s.handleAuthorize)
		mux.HandleFunc("POST "+p, s.handleConsent)
	}
	for _, p := range []string{
		"/login/oauth/access_token", // GitHub
		"/oauth/token",              // GitLab, Uber
		"/api/oauth.access",         // Slack
		"/api/oauth2/token",         // Discord
		"/api/token",                // Spotify
	} {
		mux.HandleFunc("POST "+p, s.handleToken)
	}
	mux.HandleFunc("POST /oauth/revoke", s.handleRevoke)            // GitLab
	mux.HandleFunc("POST /api/oauth2/token/revoke", s.handleRevoke) // Discord
	mux.HandleFunc("POST /oauth/v2/revoke", s.handleRevoke)         // Uber

	// Revocation APIs of providers without RFC 7009.
	mux.HandleFunc("DELETE /applications/{client_id}/grant", s.handleGitHubDeleteGrant) // GitHub
	mux.HandleFunc("POST /api/auth.revoke", s.handleSlackRevoke)                        // Slack
	return mux
}

// newSecret returns prefix + 32 random bytes, base64url without padding.
func newSecret(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b) // never fails since Go 1.24
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) client(id string) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	return c, ok
}

// user must be called without s.mu held.
func (s *Server) user(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked(id)
}

func (s *Server) userLocked(id string) (User, bool) {
	for _, u := range s.users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}
