package providertest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// NewSlackShape plays Slack's v2 OAuth as https://docs.slack.dev/authentication/installing-with-oauth
// and the oauth.v2.access reference describe it: user scopes in user_scope, comma-separated;
// the answer's top level is the bot's and the user's token sits in authed_user; every Web
// API answer is HTTP 200 with "ok"; auth.test names the token's user; auth.revoke ends it.
func NewSlackShape(t testing.TB, c ShapeClient) *Shape {
	s := newShape(t, "slack", c, "slack.com")
	s.Account = ShapeAccount{ID: "U061F7AUR", NickName: "ada"}
	s.Revokes, s.APICall = true, "users.profile.get"
	fail := func(w http.ResponseWriter, code string) {
		refuse(w, http.StatusOK, code, map[string]any{"ok": false, "error": code})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/v2/authorize", func(w http.ResponseWriter, r *http.Request) {
		us := r.URL.Query().Get("user_scope")
		if us == "" || strings.Contains(us, " ") {
			refuse(w, http.StatusBadRequest, "user scopes go comma-separated in user_scope", nil)
			return
		}
		s.authorizeCode(w, r, strings.Split(us, ","))
	})
	mux.HandleFunc("POST /api/oauth.v2.access", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if !s.basicClient(r) && !s.bodyClient(r) {
			fail(w, "invalid_client_id")
			return
		}
		code, ok := s.redeem(r.PostForm.Get("code"), r.PostForm.Get("redirect_uri"), "")
		if !ok {
			fail(w, "invalid_code")
			return
		}
		user, _ := s.tokens("xoxp-", false)
		writeJSON(w, http.StatusOK, map[string]any{
			"ok": true, "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", "token_type": "bot",
			"scope": "commands,incoming-webhook", "bot_user_id": "U0KRQLJ9H", "app_id": "A0KRD7HC3",
			"team": map[string]string{"name": "Slack Softball Team", "id": "T9TK3CUKW"}, "enterprise": nil, "is_enterprise_install": false,
			"authed_user": map[string]any{"id": s.Account.ID, "scope": strings.Join(code.scopes, ","), "access_token": user, "token_type": "user"},
		})
	})
	mux.HandleFunc("GET /api/auth.test", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.bearer(r); !ok {
			fail(w, "invalid_auth")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "url": "https://subarachnoid.slack.com/", "team": "Subarachnoid Workspace",
			"user": s.Account.NickName, "team_id": "T12345678", "user_id": s.Account.ID})
	})
	mux.HandleFunc("GET /api/users.profile.get", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.bearer(r); !ok {
			fail(w, "invalid_auth")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "profile": map[string]string{"display_name": "ada"}})
	})
	mux.HandleFunc("POST /api/auth.revoke", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := s.bearer(r)
		if !ok {
			fail(w, "invalid_auth")
			return
		}
		s.revoke(tok)
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "revoked": true})
	})
	s.serve(t, mux)
	return s
}

// NewRedditShape plays Reddit as https://github.com/reddit-archive/reddit/wiki/OAuth2
// describes it: duration=permanent for a refresh token, space-separated scopes, HTTP Basic
// client authentication, the API on oauth.reddit.com, revocation at revoke_token, and a
// descriptive User-Agent on every call (Reddit throttles generic ones: 429).
func NewRedditShape(t testing.TB, c ShapeClient) *Shape {
	s := newShape(t, "reddit", c, "www.reddit.com", "oauth.reddit.com")
	s.Account = ShapeAccount{ID: "abc12", NickName: "ada_reddit"}
	s.Refresh, s.Revokes, s.APICall = true, true, "api/v1/me/prefs"
	genericUA := func(r *http.Request) bool {
		ua := r.Header.Get("User-Agent")
		return ua == "" || strings.HasPrefix(ua, "Go-http-client")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("duration") != "permanent" || q.Get("response_type") != "code" || strings.Contains(q.Get("scope"), ",") {
			refuse(w, http.StatusBadRequest, "want duration=permanent, response_type=code, space-separated scopes", nil)
			return
		}
		s.authorizeCode(w, r, strings.Fields(q.Get("scope")))
	})
	mux.HandleFunc("POST /api/v1/access_token", func(w http.ResponseWriter, r *http.Request) {
		if genericUA(r) {
			refuse(w, http.StatusTooManyRequests, "generic User-Agent", map[string]string{"message": "Too Many Requests", "error": "429"})
			return
		}
		if !s.basicClient(r) {
			refuse(w, http.StatusUnauthorized, "no HTTP Basic client credentials", map[string]any{"message": "Unauthorized", "error": 401})
			return
		}
		_ = r.ParseForm()
		scope := "identity read"
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			code, ok := s.redeem(r.PostForm.Get("code"), r.PostForm.Get("redirect_uri"), "")
			if !ok {
				writeJSON(w, http.StatusOK, map[string]string{"error": "invalid_grant"})
				return
			}
			scope = strings.Join(code.scopes, " ")
			access, rt := s.tokens("reddit-", true)
			writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "bearer", "expires_in": 86400, "scope": scope, "refresh_token": rt})
		case "refresh_token":
			if !s.useRefresh(r.PostForm.Get("refresh_token"), false) {
				writeJSON(w, http.StatusOK, map[string]string{"error": "invalid_grant"})
				return
			}
			access, _ := s.tokens("reddit-", false)
			writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "bearer", "expires_in": 86400, "scope": scope})
		default:
			writeJSON(w, http.StatusOK, map[string]string{"error": "unsupported_grant_type"})
		}
	})
	api := func(body any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if _, ok := s.bearer(r); !ok || genericUA(r) {
				refuse(w, http.StatusUnauthorized, "no live token or a generic User-Agent", map[string]any{"message": "Unauthorized", "error": 401})
				return
			}
			writeJSON(w, http.StatusOK, body)
		}
	}
	mux.HandleFunc("GET /api/v1/me", api(map[string]any{"id": s.Account.ID, "name": s.Account.NickName, "icon_img": "https://styles.redditmedia.example/a.png", "created_utc": 1.4e9}))
	mux.HandleFunc("GET /api/v1/me/prefs", api(map[string]any{"lang": "en"}))
	mux.HandleFunc("POST /api/v1/revoke_token", func(w http.ResponseWriter, r *http.Request) {
		if !s.basicClient(r) || genericUA(r) {
			refuse(w, http.StatusUnauthorized, "revoke_token needs HTTP Basic and a User-Agent", nil)
			return
		}
		s.revoke(r.PostFormValue("token"))
		w.WriteHeader(http.StatusNoContent)
	})
	s.serve(t, mux)
	return s
}

// NewXShape plays X's OAuth 2.0 as https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token
// describes it for confidential clients: PKCE required, HTTP Basic at the token and revoke
// endpoints, refresh tokens only with offline.access, a new one on every refresh, and the
// user at /2/users/me under "data".
func NewXShape(t testing.TB, c ShapeClient) *Shape {
	s := newShape(t, "x", c, "x.com", "api.x.com")
	s.Account = ShapeAccount{ID: "2244994945", Name: "Ada X", NickName: "ada_x"}
	s.Refresh, s.Revokes, s.APICall = true, true, "2/users/me"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /i/oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("code_challenge") == "" {
			refuse(w, http.StatusBadRequest, "PKCE is required", nil)
			return
		}
		s.authorizeCode(w, r, strings.Fields(r.URL.Query().Get("scope")))
	})
	mux.HandleFunc("POST /2/oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		if !s.basicClient(r) {
			refuse(w, http.StatusUnauthorized, "confidential clients authenticate with HTTP Basic", map[string]string{"error": "unauthorized_client"})
			return
		}
		_ = r.ParseForm()
		scopes := []string{"tweet.read", "users.read", "offline.access"}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			code, ok := s.redeem(r.PostForm.Get("code"), r.PostForm.Get("redirect_uri"), r.PostForm.Get("code_verifier"))
			if !ok {
				refuse(w, http.StatusBadRequest, "bad code or verifier", map[string]string{"error": "invalid_request", "error_description": "Value passed for the authorization code was invalid."})
				return
			}
			scopes = code.scopes
		case "refresh_token":
			if !s.useRefresh(r.PostForm.Get("refresh_token"), true) {
				refuse(w, http.StatusBadRequest, "refresh token reused", map[string]string{"error": "invalid_request"})
				return
			}
		}
		offline := strings.Contains(strings.Join(scopes, " "), "offline.access")
		access, rt := s.tokens("x-", offline)
		answer := map[string]any{"token_type": "bearer", "expires_in": 7200, "access_token": access, "scope": strings.Join(scopes, " ")}
		if rt != "" {
			answer["refresh_token"] = rt
		}
		writeJSON(w, http.StatusOK, answer)
	})
	mux.HandleFunc("GET /2/users/me", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.bearer(r); !ok {
			refuse(w, http.StatusUnauthorized, "no live token", map[string]any{"title": "Unauthorized", "status": 401})
			return
		}
		a := s.Account
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"id": a.ID, "name": a.Name, "username": a.NickName,
			"profile_image_url": "https://pbs.twimg.example/ada_normal.jpg"}})
	})
	mux.HandleFunc("POST /2/oauth2/revoke", func(w http.ResponseWriter, r *http.Request) {
		if !s.basicClient(r) {
			refuse(w, http.StatusUnauthorized, "revoke needs HTTP Basic", nil)
			return
		}
		s.revoke(r.PostFormValue("token"))
		writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
	})
	s.serve(t, mux)
	return s
}

// NewMicrosoftShape plays the Microsoft identity platform's v2 code flow as
// https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
// describes it: the tenant in the path (only tenant, or common), the client secret in the
// body, PKCE, an ID token with oid, name, preferred_username and email, a scope in the
// answer that leaves out offline_access, and a new refresh token with every refresh.
func NewMicrosoftShape(t testing.TB, c ShapeClient, tenant string) *Shape {
	s := newShape(t, "microsoft", c, "login.microsoftonline.com", "graph.microsoft.com")
	s.Account = ShapeAccount{ID: "00000000-0000-0000-66f3-3332eca7ea81", Name: "Ada Microsoft", NickName: "ada@contoso.example", Email: "ada@contoso.example"}
	s.Refresh, s.APICall = true, "v1.0/me"
	const tid = "9188040d-6c67-4c5b-b112-36a304b66dad"
	mux := http.NewServeMux()
	okTenant := func(r *http.Request) bool { t := r.PathValue("tenant"); return t == tenant || t == "common" }
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", func(w http.ResponseWriter, r *http.Request) {
		if !okTenant(r) || r.URL.Query().Get("response_type") != "code" {
			refuse(w, http.StatusBadRequest, "unknown tenant or response_type", map[string]string{"error": "invalid_request"})
			return
		}
		s.authorizeCode(w, r, strings.Fields(r.URL.Query().Get("scope")))
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		if !okTenant(r) || r.ParseForm() != nil || !s.bodyClient(r) {
			refuse(w, http.StatusUnauthorized, "AADSTS7000218: the body must contain client_secret", map[string]string{"error": "invalid_client"})
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			if _, ok := s.redeem(r.PostForm.Get("code"), r.PostForm.Get("redirect_uri"), r.PostForm.Get("code_verifier")); !ok {
				refuse(w, http.StatusBadRequest, "AADSTS70008: bad code", map[string]string{"error": "invalid_grant"})
				return
			}
		case "refresh_token":
			if !s.useRefresh(r.PostForm.Get("refresh_token"), false) {
				refuse(w, http.StatusBadRequest, "AADSTS70000: bad refresh token", map[string]string{"error": "invalid_grant"})
				return
			}
		}
		access, rt := s.tokens("eyJ0eXAi-ms-", true)
		a := s.Account
		claims, _ := json.Marshal(map[string]any{"aud": s.client.ID, "iss": "https://login.microsoftonline.com/" + tid + "/v2.0",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "oid": a.ID, "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
			"tid": tid, "name": a.Name, "preferred_username": a.NickName, "email": a.Email, "ver": "2.0"})
		idToken := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "scope": "User.Read profile openid email",
			"expires_in": 3599, "ext_expires_in": 3599, "access_token": access, "refresh_token": rt, "id_token": idToken})
	})
	mux.HandleFunc("GET /v1.0/me", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.bearer(r); !ok {
			refuse(w, http.StatusUnauthorized, "no live token", map[string]any{"error": map[string]string{"code": "InvalidAuthenticationToken"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "displayName": s.Account.Name})
	})
	s.serve(t, mux)
	return s
}

// NewDropboxShape plays Dropbox as https://developers.dropbox.com/oauth-guide and its HTTP
// reference describe it: token_access_type=offline for a refresh token, PKCE, client
// credentials in Basic or the body, refresh answers without a new refresh token, the account
// from the users/get_current_account RPC (a POST without a body), and token/revoke.
func NewDropboxShape(t testing.TB, c ShapeClient) *Shape {
	s := newShape(t, "dropbox", c, "www.dropbox.com", "api.dropboxapi.com")
	s.Account = ShapeAccount{ID: "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc", Name: "Ada Dropbox", Email: "ada@dropbox.example"}
	s.Refresh, s.Revokes, s.APICall, s.APIMethod = true, true, "2/users/get_space_usage", http.MethodPost
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token_access_type") != "offline" {
			refuse(w, http.StatusBadRequest, "without token_access_type=offline there is no refresh token", nil)
			return
		}
		s.authorizeCode(w, r, strings.Fields(r.URL.Query().Get("scope")))
	})
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if !s.basicClient(r) && !s.bodyClient(r) {
			refuse(w, http.StatusBadRequest, "no client credentials", map[string]string{"error": "invalid_client"})
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			code, ok := s.redeem(r.PostForm.Get("code"), r.PostForm.Get("redirect_uri"), r.PostForm.Get("code_verifier"))
			if !ok {
				refuse(w, http.StatusBadRequest, "bad code", map[string]string{"error": "invalid_grant", "error_description": "code doesn't exist or has expired"})
				return
			}
			access, rt := s.tokens("sl.", true)
			writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "expires_in": 14400, "token_type": "bearer",
				"scope": strings.Join(code.scopes, " "), "refresh_token": rt, "account_id": s.Account.ID, "uid": "12345"})
		case "refresh_token":
			if !s.useRefresh(r.PostForm.Get("refresh_token"), false) {
				refuse(w, http.StatusBadRequest, "bad refresh token", map[string]string{"error": "invalid_grant"})
				return
			}
			access, _ := s.tokens("sl.", false)
			writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "expires_in": 14400, "token_type": "bearer"})
		}
	})
	rpc := func(answer func() any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok, ok := s.bearer(r)
			if !ok {
				refuse(w, http.StatusUnauthorized, "no live token", map[string]any{"error_summary": "invalid_access_token/"})
				return
			}
			// An RPC without arguments takes no body, or the JSON null.
			if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
				refuse(w, http.StatusBadRequest, "Content-Type "+ct, nil)
				return
			}
			if strings.HasSuffix(r.URL.Path, "/token/revoke") {
				s.revoke(tok)
			}
			writeJSON(w, http.StatusOK, answer())
		}
	}
	a := s.Account
	mux.HandleFunc("POST /2/users/get_current_account", rpc(func() any {
		return map[string]any{"account_id": a.ID, "email": a.Email, "email_verified": true, "disabled": false, "locale": "en",
			"name":         map[string]string{"given_name": "Ada", "surname": "Dropbox", "familiar_name": "Ada", "display_name": a.Name, "abbreviated_name": "AD"},
			"account_type": map[string]string{".tag": "basic"}, "country": "GB", "is_paired": false}
	}))
	mux.HandleFunc("POST /2/users/get_space_usage", rpc(func() any { return map[string]any{"used": 314159} }))
	mux.HandleFunc("POST /2/auth/token/revoke", rpc(func() any { return nil }))
	s.serve(t, mux)
	return s
}
