package providertest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// OAuth2Client is an application registered at the OAuth2 fake.
type OAuth2Client struct {
	ID, Secret  string
	RedirectURI string // compared byte for byte, as RFC 6749 §3.1.2.3 asks of a registered URI
}

// OAuth2User is the account the fake approves as. ID is numeric-looking so that every
// provider shape can use it.
type OAuth2User struct{ ID, Login, Name, Email, AvatarURL string }

// DefaultOAuth2User is the account a new fake approves as.
var DefaultOAuth2User = OAuth2User{ID: "31337", Login: "pat", Name: "Pat Example", Email: "pat@example.com", AvatarURL: "https://avatars.test/pat.png"}

// OAuth2Grant is a token set the fake issued.
type OAuth2Grant struct {
	ClientID, AccessToken, RefreshToken string
	Scopes                              []string
	User                                OAuth2User
}

// OAuth2 is a strict OAuth 2 authorization server for the goth types whose URLs are
// hard-coded (google, slack, discord, spotify, uber): put Rewrites(type) into a
// RewriteTransport. It checks the client secret (Basic or form, not both), the exact
// redirect_uri at both ends, single-use codes that expire after a minute, PKCE S256 when a
// challenge was sent, and bearer tokens on the profile endpoints, which answer in each
// provider's JSON shape. With `openid` in the scope the token answer has an (unsigned)
// ID token whose iss is Google's. Safe for concurrent use.
type OAuth2 struct {
	srv *httptest.Server

	mu      sync.Mutex
	clients map[string]OAuth2Client
	user    OAuth2User
	deny    bool
	codes   map[string]*oauth2Code
	access  map[string]OAuth2Grant
	refresh map[string]OAuth2Grant
	issued  []OAuth2Grant
}

type oauth2Code struct {
	client, redirectURI, challenge string
	scopes                         []string
	user                           OAuth2User
	expires                        time.Time
	used                           bool
}

// NewOAuth2 starts the fake; it stops when the test ends.
func NewOAuth2(t testing.TB, clients ...OAuth2Client) *OAuth2 {
	t.Helper()
	f := &OAuth2{clients: map[string]OAuth2Client{}, user: DefaultOAuth2User, codes: map[string]*oauth2Code{},
		access: map[string]OAuth2Grant{}, refresh: map[string]OAuth2Grant{}}
	for _, c := range clients {
		f.clients[c.ID] = c
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", f.authorize)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("GET /google/userinfo", f.profile(func(u OAuth2User, _ *http.Request) any {
		return map[string]any{"sub": u.ID, "name": u.Name, "email": u.Email, "email_verified": true, "picture": u.AvatarURL}
	}))
	mux.HandleFunc("GET /slack/auth.test", f.profile(func(u OAuth2User, _ *http.Request) any {
		return map[string]any{"ok": true, "user_id": u.ID, "user": u.Login}
	}))
	mux.HandleFunc("GET /slack/users.info", f.profile(func(u OAuth2User, r *http.Request) any {
		if r.URL.Query().Get("user") != u.ID {
			return map[string]any{"ok": false, "error": "user_not_found"} // Slack's way: 200 with ok:false
		}
		return map[string]any{"ok": true, "user": map[string]any{"id": u.ID, "name": u.Login,
			"profile": map[string]any{"email": u.Email, "real_name": u.Name, "image_32": u.AvatarURL}}}
	}))
	mux.HandleFunc("GET /discord/users/@me", f.profile(func(u OAuth2User, _ *http.Request) any {
		return map[string]any{"id": u.ID, "username": u.Login, "email": u.Email, "avatar": "abc", "verified": true}
	}))
	mux.HandleFunc("GET /spotify/me", f.profile(func(u OAuth2User, _ *http.Request) any {
		return map[string]any{"id": u.ID, "display_name": u.Name, "email": u.Email, "images": []any{map[string]any{"url": u.AvatarURL}}}
	}))
	mux.HandleFunc("GET /uber/me", f.profile(func(u OAuth2User, _ *http.Request) any {
		return map[string]any{"uuid": u.ID, "first_name": u.Name, "email": u.Email, "picture": u.AvatarURL}
	}))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the fake's base URL.
func (f *OAuth2) URL() string { return f.srv.URL }

// Rewrites maps the real URLs goth uses for typ (google, slack, discord, spotify, uber)
// to the fake. nil for another type.
func (f *OAuth2) Rewrites(typ string) []Rewrite {
	u := f.srv.URL
	r := func(host, prefix, to string) Rewrite { return Rewrite{Host: host, PathPrefix: prefix, To: u + to} }
	switch typ {
	case "google":
		return []Rewrite{r("accounts.google.com", "/o/oauth2/v2/auth", "/authorize"), r("oauth2.googleapis.com", "/token", "/token"),
			r("openidconnect.googleapis.com", "/v1/userinfo", "/google/userinfo")}
	case "slack":
		return []Rewrite{r("slack.com", "/oauth/authorize", "/authorize"), r("slack.com", "/api/oauth.access", "/token"),
			r("slack.com", "/api/auth.test", "/slack/auth.test"), r("slack.com", "/api/users.info", "/slack/users.info")}
	case "discord":
		return []Rewrite{r("discord.com", "/api/oauth2/authorize", "/authorize"), r("discord.com", "/api/oauth2/token", "/token"),
			r("discord.com", "/api/users/@me", "/discord/users/@me")}
	case "spotify":
		return []Rewrite{r("accounts.spotify.com", "/authorize", "/authorize"), r("accounts.spotify.com", "/api/token", "/token"),
			r("api.spotify.com", "/v1/me", "/spotify/me")}
	case "uber":
		return []Rewrite{r("login.uber.com", "/oauth/authorize", "/authorize"), r("login.uber.com", "/oauth/token", "/token"),
			r("api.uber.com", "/v1/me", "/uber/me")}
	}
	return nil
}

// SetUser changes the account later approvals are made as.
func (f *OAuth2) SetUser(u OAuth2User) { f.mu.Lock(); f.user = u; f.mu.Unlock() }

// SetDeny makes the authorize endpoint answer error=access_denied, as after "Cancel".
func (f *OAuth2) SetDeny(deny bool) { f.mu.Lock(); f.deny = deny; f.mu.Unlock() }

// Issued returns every token set issued so far, oldest first.
func (f *OAuth2) Issued() []OAuth2Grant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.issued)
}

func (f *OAuth2) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[q.Get("client_id")]
	// RFC 6749 §4.1.2.1: with an unknown client or a wrong redirect URI the server must
	// not redirect (that would be an open redirector).
	if !ok || q.Get("redirect_uri") != c.RedirectURI {
		http.Error(w, "unknown client or unregistered redirect_uri", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(c.RedirectURI)
	v := back.Query()
	v.Set("state", q.Get("state"))
	switch {
	case q.Get("response_type") != "code":
		v.Set("error", "unsupported_response_type")
	case q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256":
		v.Set("error", "invalid_request")
	case f.deny:
		v.Set("error", "access_denied")
	default:
		code := "code_" + random()
		f.codes[code] = &oauth2Code{client: c.ID, redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), user: f.user,
			scopes: strings.FieldsFunc(q.Get("scope"), func(r rune) bool { return r == ' ' || r == ',' }), expires: time.Now().Add(time.Minute)}
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (f *OAuth2) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if basic == r.PostForm.Has("client_secret") { // RFC 6749 §2.3: exactly one method
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	var g OAuth2Grant
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := f.codes[r.PostForm.Get("code")]
		if code == nil || code.used || code.client != c.ID || time.Now().After(code.expires) ||
			r.PostForm.Get("redirect_uri") != code.redirectURI || !pkceOK(code.challenge, r.PostForm.Get("code_verifier")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		code.used = true
		g = OAuth2Grant{ClientID: c.ID, Scopes: code.scopes, RefreshToken: "rt_" + random(), User: code.user}
	case "refresh_token":
		old, ok := f.refresh[r.PostForm.Get("refresh_token")]
		if !ok || old.ClientID != c.ID {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		g = old
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	g.AccessToken = "at_" + random()
	f.access[g.AccessToken], f.refresh[g.RefreshToken] = g, g
	f.issued = append(f.issued, g)
	answer := map[string]any{"access_token": g.AccessToken, "token_type": "Bearer", "expires_in": 3600,
		"refresh_token": g.RefreshToken, "scope": strings.Join(g.Scopes, " "), "ok": true}
	if slices.Contains(g.Scopes, "openid") {
		answer["id_token"] = idToken(c.ID, g.User)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, answer)
}

// idToken is an unsigned JWT (alg none): goth does not check ID token signatures, and the
// broker relies on TLS to the token endpoint instead (see providers.buildOIDC).
func idToken(aud string, u OAuth2User) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	now := time.Now().Unix()
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": "https://accounts.google.com", "aud": aud, "sub": u.ID, "email": u.Email,
		"iat": now, "exp": now + 3600}) + "."
}

// profile wraps a shape with RFC 6750 bearer checks (header or access_token query).
func (f *OAuth2) profile(shape func(OAuth2User, *http.Request) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("access_token")
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			token = h[7:]
		}
		f.mu.Lock()
		g, ok := f.access[token]
		f.mu.Unlock()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			oauthError(w, http.StatusUnauthorized, "invalid_token")
			return
		}
		writeJSON(w, http.StatusOK, shape(g.User, r))
	}
}

func pkceOK(challenge, verifier string) bool {
	if challenge == "" {
		return true
	}
	sum := sha256.Sum256([]byte(verifier))
	return verifier != "" && subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

func oauthError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}
