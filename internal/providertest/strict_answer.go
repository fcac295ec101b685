package providertest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// accessTTL is how long the strict fake's access tokens live (unless SetNoExpiry).
const accessTTL = time.Hour

// answer issues tokens and writes the token answer in the entry's shape. Called with f.mu held.
func (f *StrictOAuth2) answer(w http.ResponseWriter, grantType string, scopes []string) {
	s := f.e.Spec
	if grantType == "refresh_token" && len(f.issued) > 0 {
		scopes = f.issued[len(f.issued)-1].Scopes
	} else if f.e.Granted != nil {
		scopes = slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return !slices.Contains(f.e.Granted, sc) })
	}
	g := StrictGrant{GrantType: grantType, AccessToken: "at-" + random(), Scopes: scopes}
	tok := map[string]any{"access_token": g.AccessToken, "token_type": "bearer"}
	exp := time.Time{}
	if !f.noExpiry {
		exp = f.now().Add(accessTTL)
		tok["expires_in"] = int(accessTTL.Seconds())
		if s.Refresh == config.RefreshYes || s.Refresh == config.RefreshRotating {
			g.RefreshToken = "rt-" + random()
			tok["refresh_token"] = g.RefreshToken
			f.refresh[g.RefreshToken] = true
		}
	}
	if s.GrantedScopes != config.GrantedRequested {
		listed := slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return slices.Contains(s.UnlistedScopes, sc) })
		tok["scope"] = strings.Join(listed, or(s.ScopeSeparator, " "))
	}
	f.access[g.AccessToken] = exp
	f.issued = append(f.issued, g)

	root := tok
	if s.TokenPath != "" {
		root = map[string]any{}
		setPointer(root, s.TokenPath, tok)
	}
	switch s.Profile.From {
	case config.ProfileFromToken:
		f.placeProfile(root)
	case config.ProfileFromIDToken:
		claims := map[string]any{"aud": f.e.ClientID, "exp": f.now().Add(accessTTL).Unix(), "iat": f.now().Unix()}
		if s.IDTokenIssuer != "" {
			claims["iss"] = s.IDTokenIssuer
		}
		f.placeProfile(claims)
		payload, _ := json.Marshal(claims)
		tok["id_token"] = "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".c2lnbmF0dXJl"
	}
	writeJSON(w, http.StatusOK, root)
}

// placeProfile puts the user's fields at the entry's pointers.
func (f *StrictOAuth2) placeProfile(doc map[string]any) {
	placeProfile(doc, f.e.Spec.Profile, f.e.User)
}

// placeProfile puts u's fields at p's pointers, the id last: where an entry reads two fields
// from one place (Tumblr's name is also its id), the id is what is there.
func placeProfile(doc map[string]any, p config.Profile, u StrictUser) {
	for _, kv := range [][2]string{{p.Name, u.Name}, {p.NickName, u.NickName}, {p.Email, u.Email}, {p.AvatarURL, u.AvatarURL}, {p.ID, u.ID}} {
		if kv[0] != "" {
			setPointer(doc, kv[0], kv[1])
		}
	}
}

// resource serves the userinfo endpoint and the API: a live bearer token, the entry's query
// parameters and body.
func (f *StrictOAuth2) resource(w http.ResponseWriter, r *http.Request, ep string) string {
	token, ok := f.bearer(r)
	if exp, live := f.access[token]; !ok || !live || !exp.IsZero() && !f.now().Before(exp) {
		return "token: missing, unknown, revoked or expired bearer token"
	}
	if ep == "api" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "path": r.URL.Path})
		return ""
	}
	s := f.e.Spec
	for k, v := range s.UserInfoParams {
		if r.URL.Query().Get(k) != v {
			return "userinfo parameter " + k + " missing or wrong"
		}
	}
	if s.UserInfoBody != "" {
		body, _ := io.ReadAll(r.Body)
		var got, want bytes.Buffer
		if r.Header.Get("Content-Type") != "application/json" || json.Compact(&got, body) != nil ||
			json.Compact(&want, []byte(s.UserInfoBody)) != nil || got.String() != want.String() {
			return "userinfo body is not the entry's JSON"
		}
	}
	doc := map[string]any{}
	f.placeProfile(doc)
	writeJSON(w, http.StatusOK, doc)
	return ""
}

// revoke ends a grant in the entry's revocation form.
func (f *StrictOAuth2) revoke(w http.ResponseWriter, r *http.Request) string {
	var token string
	switch form := f.e.RevocationForm; form {
	case "rfc7009":
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			return "revocation is a form POST"
		}
		if reason := f.clientAuth(r); reason != "" {
			return reason
		}
		token = r.PostForm.Get("token")
	case "bearer", "bearer-delete":
		if want := map[string]string{"bearer": http.MethodPost, "bearer-delete": http.MethodDelete}[form]; r.Method != want {
			return "revocation must be a " + want
		}
		token, _ = f.bearer(r)
	case "client-query":
		q := r.URL.Query()
		if r.Method != http.MethodDelete || q.Get("client_id") != f.e.ClientID || q.Get("client_secret") != f.e.ClientSecret {
			return "client: revocation needs DELETE with the app's credentials"
		}
		token = q.Get("access_token")
	default:
		return "the entry declares no revocation here"
	}
	if _, isAccess := f.access[token]; !isAccess && !f.refresh[token] {
		return "token: not a token of this server"
	}
	// The fake has one user and one grant: revoking any of its tokens ends all of them
	// (RFC 7009 §2.1 asks that for a refresh token; the bearer forms end the grant too).
	for at := range f.access {
		delete(f.access, at)
	}
	for rt := range f.refresh {
		f.refresh[rt] = false
	}
	f.revoked = append(f.revoked, token)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return ""
}

// setPointer puts v at an RFC 6901 pointer in doc, making the objects on the way.
func setPointer(doc map[string]any, ptr string, v any) {
	toks := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	cur := doc
	for i, tok := range toks {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if i == len(toks)-1 {
			cur[tok] = v
			return
		}
		next, ok := cur[tok].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[tok] = next
		}
		cur = next
	}
}

// bearer reads the access token where the entry says calls carry it.
func (f *StrictOAuth2) bearer(r *http.Request) (string, bool) {
	s := f.e.Spec
	if h := s.TokenHeader; h != "" && !strings.EqualFold(h, "Authorization") {
		v := r.Header.Get(h)
		return v, v != "" && r.Header.Get("Authorization") == ""
	}
	return strings.CutPrefix(r.Header.Get("Authorization"), or(s.TokenScheme, "Bearer")+" ")
}
