package providertest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// NewNotionShape plays Notion's public-integration OAuth as
// https://developers.notion.com/docs/authorization and the create-a-token and
// refresh-a-token references describe it: authorize with owner=user, a token request
// authenticated with HTTP Basic only, the user in the token answer's owner, no scopes, and
// a Notion-Version header on every API call.
func NewNotionShape(t testing.TB, c ShapeClient) *Shape {
	s := newShape(t, "notion", c, "api.notion.com")
	s.Account = ShapeAccount{ID: "3c90c3cc-0d44-4b50-8888-8dd25736052a", Name: "Ada Notion", Email: "ada@notion.example"}
	s.Refresh, s.APICall = true, "v1/users/me"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("owner") != "user" || r.URL.Query().Get("response_type") != "code" {
			refuse(w, http.StatusBadRequest, "authorize needs owner=user and response_type=code", map[string]string{"error": "invalid_request"})
			return
		}
		s.authorizeCode(w, r, nil)
	})
	mux.HandleFunc("POST /v1/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		form := formOrJSON(r)
		if !s.basicClient(r) || form.Has("client_secret") {
			refuse(w, http.StatusUnauthorized, "Notion takes the client credentials as HTTP Basic", map[string]string{"error": "invalid_client"})
			return
		}
		access, rt := "", ""
		switch form.Get("grant_type") {
		case "authorization_code":
			if _, ok := s.redeem(form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")); !ok {
				refuse(w, http.StatusBadRequest, "bad code", map[string]string{"error": "invalid_grant"})
				return
			}
		case "refresh_token":
			if !s.useRefresh(form.Get("refresh_token"), false) {
				refuse(w, http.StatusBadRequest, "bad refresh token", map[string]string{"error": "invalid_grant"})
				return
			}
		default:
			refuse(w, http.StatusBadRequest, "grant_type", map[string]string{"error": "unsupported_grant_type"})
			return
		}
		access, rt = s.tokens("ntn_", true)
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": access, "token_type": "bearer", "refresh_token": rt, "expires_in": 3600,
			"bot_id": "b3414d65-1224-5ty7-6ffr-cc9d8773d601", "workspace_id": "j565j4d7-2882-61bs-564a-jj9d9ui36hxf",
			"workspace_name": "Ada's Workspace", "workspace_icon": nil, "duplicated_template_id": nil, "request_id": "0f9e1",
			"owner": map[string]any{"type": "user", "user": map[string]any{
				"object": "user", "id": s.Account.ID, "name": s.Account.Name, "avatar_url": nil, "type": "person",
				"person": map[string]any{"email": s.Account.Email}}},
		})
	})
	mux.HandleFunc("GET /v1/users/me", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.bearer(r); !ok || r.Header.Get("Notion-Version") == "" {
			refuse(w, http.StatusUnauthorized, "API call without a live token or Notion-Version", map[string]string{"object": "error", "code": "unauthorized"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"object": "user", "id": "b3414d65", "type": "bot"})
	})
	s.serve(t, mux)
	return s
}

// NewLinearShape plays Linear as https://linear.app/developers/oauth-2-0-authentication
// describes it: comma-separated scopes, client credentials in the token request's body,
// PKCE, a scope list in the answer, expiring tokens with refresh tokens, the profile from
// the GraphQL API's viewer (a POST), and revocation with the token as Bearer.
func NewLinearShape(t testing.TB, c ShapeClient) *Shape {
	s := newShape(t, "linear", c, "linear.app", "api.linear.app")
	s.Account = ShapeAccount{ID: "a7f8e9b0-1c2d-4e5f-8a9b-0c1d2e3f4a5b", Name: "Ada Linear", NickName: "ada", Email: "ada@linear.example"}
	s.Refresh, s.Revokes, s.APICall, s.APIMethod = true, true, "graphql", http.MethodPost
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		scope := r.URL.Query().Get("scope")
		if scope == "" || strings.Contains(scope, " ") {
			refuse(w, http.StatusBadRequest, "scope must be a comma-separated list", map[string]string{"error": "invalid_scope"})
			return
		}
		s.authorizeCode(w, r, strings.Split(scope, ","))
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil || !s.bodyClient(r) {
			refuse(w, http.StatusUnauthorized, "client_id and client_secret go in the body", map[string]string{"error": "invalid_client"})
			return
		}
		var scopes []string
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			code, ok := s.redeem(r.PostForm.Get("code"), r.PostForm.Get("redirect_uri"), r.PostForm.Get("code_verifier"))
			if !ok {
				refuse(w, http.StatusBadRequest, "bad code", map[string]string{"error": "invalid_grant"})
				return
			}
			scopes = code.scopes
		case "refresh_token":
			if !s.useRefresh(r.PostForm.Get("refresh_token"), true) {
				refuse(w, http.StatusBadRequest, "bad refresh token", map[string]string{"error": "invalid_grant"})
				return
			}
			scopes = []string{"read"}
		default:
			refuse(w, http.StatusBadRequest, "grant_type", map[string]string{"error": "unsupported_grant_type"})
			return
		}
		access, rt := s.tokens("lin_oauth_", true)
		writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 86399, "scope": scopes, "refresh_token": rt})
	})
	mux.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.bearer(r); !ok {
			refuse(w, http.StatusUnauthorized, "no live token", map[string]any{"errors": []any{map[string]string{"message": "Authentication required"}}})
			return
		}
		var q struct {
			Query string `json:"query"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &q) != nil || !strings.Contains(q.Query, "viewer") {
			// A proxied call that is not the viewer query: any GraphQL answer will do.
			writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{}})
			return
		}
		a := s.Account
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"viewer": map[string]any{
			"id": a.ID, "name": a.Name, "displayName": a.NickName, "email": a.Email, "avatarUrl": nil}}})
	})
	mux.HandleFunc("POST /oauth/revoke", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := s.bearer(r)
		if !ok {
			refuse(w, http.StatusBadRequest, "revoke takes the token as Bearer", map[string]string{"error": "invalid_request"})
			return
		}
		s.revoke(tok)
		w.WriteHeader(http.StatusOK)
	})
	s.serve(t, mux)
	return s
}

// NewAtlassianShape plays Atlassian's OAuth 2.0 (3LO) as
// https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/ describes it:
// audience=api.atlassian.com on the authorization URL, client credentials in the token
// request's body, refresh tokens only with offline_access, rotating on every refresh,
// /oauth/token/accessible-resources for the cloud id, and the user at api.atlassian.com/me.
func NewAtlassianShape(t testing.TB, c ShapeClient) *Shape {
	s := newShape(t, "atlassian", c, "auth.atlassian.com", "api.atlassian.com")
	s.Account = ShapeAccount{ID: "5b10ac8d82e05b22cc7d4ef5", Name: "Ada Atlassian", NickName: "ada", Email: "ada@atlassian.example"}
	s.Refresh, s.APICall = true, "oauth/token/accessible-resources"
	offline := false
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("audience") != "api.atlassian.com" || q.Get("response_type") != "code" {
			refuse(w, http.StatusBadRequest, "audience=api.atlassian.com and response_type=code are required", map[string]string{"error": "invalid_request"})
			return
		}
		s.mu.Lock()
		offline = strings.Contains(q.Get("scope"), "offline_access")
		s.mu.Unlock()
		s.authorizeCode(w, r, strings.Fields(q.Get("scope")))
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		form := formOrJSON(r)
		if form.Get("client_id") != s.client.ID || form.Get("client_secret") != s.client.Secret {
			refuse(w, http.StatusUnauthorized, "client_id and client_secret go in the body", map[string]string{"error": "access_denied"})
			return
		}
		var scopes []string
		switch form.Get("grant_type") {
		case "authorization_code":
			code, ok := s.redeem(form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier"))
			if !ok {
				refuse(w, http.StatusForbidden, "bad code", map[string]string{"error": "invalid_grant"})
				return
			}
			scopes = code.scopes
		case "refresh_token":
			if !s.useRefresh(form.Get("refresh_token"), true) { // rotating refresh tokens
				refuse(w, http.StatusForbidden, "refresh token reused or unknown", map[string]string{"error": "unauthorized_client"})
				return
			}
			scopes = []string{"read:me", "read:jira-work", "offline_access"}
		}
		s.mu.Lock()
		withRefresh := offline
		s.mu.Unlock()
		access, rt := s.tokens("eyJraWQ", withRefresh)
		answer := map[string]any{"access_token": access, "expires_in": 3600, "token_type": "Bearer", "scope": strings.Join(scopes, " ")}
		if rt != "" {
			answer["refresh_token"] = rt
		}
		writeJSON(w, http.StatusOK, answer)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.bearer(r); !ok {
			refuse(w, http.StatusUnauthorized, "no live token", map[string]string{"message": "Unauthorized"})
			return
		}
		a := s.Account
		writeJSON(w, http.StatusOK, map[string]any{"account_type": "atlassian", "account_id": a.ID, "email": a.Email, "name": a.Name,
			"picture": "https://avatar-management.example/ada", "account_status": "active", "nickname": a.NickName, "locale": "en-US"})
	})
	mux.HandleFunc("GET /oauth/token/accessible-resources", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.bearer(r); !ok {
			refuse(w, http.StatusUnauthorized, "no live token", map[string]string{"message": "Unauthorized"})
			return
		}
		writeJSON(w, http.StatusOK, []any{map[string]any{"id": "1324a887-45db-1bf4-1e99-ef0ff456d421", "url": "https://ada.atlassian.net",
			"name": "ada", "scopes": []string{"read:jira-work"}, "avatarUrl": "https://site-admin-avatar-cdn.example/a.png"}})
	})
	s.serve(t, mux)
	return s
}
