package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// An operator's session is a random token in a cookie; the store keeps only its SHA-256, the
// credential it was opened with and its expiry. Logging out deletes it there, so a copied
// cookie dies with the logout, not only when it expires.
const cookieName = "oauthbroker_admin"

// session is the logged-in operator of a request.
type session struct {
	tokenHash []byte
	// csrf is this session's token for its forms: an HMAC of the session token, so it needs
	// no storage and a page of one session is useless to another.
	csrf string
}

var (
	errNoSession      = errors.New("admin: not logged in")
	errSessionExpired = errors.New("admin: session expired")
)

// authed wraps a handler for logged-in operators only. Anyone else goes to the login form,
// which brings a GET back where it started.
func (h *Handler) authed(next func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(r)
		if err == nil {
			next(w, r, s)
			return
		}
		if !errors.Is(err, errNoSession) && !errors.Is(err, errSessionExpired) {
			h.fail(w, r, err)
			return
		}
		q := url.Values{}
		if r.Method == http.MethodGet {
			q.Set("next", r.URL.RequestURI())
		}
		if errors.Is(err, errSessionExpired) {
			q.Set("expired", "1")
		}
		http.Redirect(w, r, Prefix+"/login?"+q.Encode(), http.StatusSeeOther)
	}
}

// session returns the request's live session: errNoSession without one (no cookie, an unknown
// token, or one opened with a password that has since changed), errSessionExpired past its end.
func (h *Handler) session(r *http.Request) (session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, errNoSession
	}
	token, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(token) != 32 {
		return session{}, errNoSession
	}
	sum := sha256.Sum256(token)
	as, err := h.store.AdminSession(r.Context(), sum[:])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return session{}, errNoSession
	case err != nil:
		return session{}, fmt.Errorf("admin: read session: %w", err)
	case !hmac.Equal(as.Credential, h.cred.id):
		return session{}, errNoSession
	case !h.now().Before(as.ExpiresAt):
		return session{}, errSessionExpired
	}
	return session{tokenHash: sum[:], csrf: h.csrfToken(token)}, nil
}

// startSession stores a new session and sets its cookie.
func (h *Handler) startSession(ctx context.Context, w http.ResponseWriter) error {
	token := make([]byte, 32)
	if _, err := rand.Read(token); err != nil {
		return fmt.Errorf("admin: session token: %w", err)
	}
	sum := sha256.Sum256(token)
	now := h.now()
	if err := h.store.CreateAdminSession(ctx, store.AdminSession{
		TokenHash: sum[:], Credential: h.cred.id, CreatedAt: now, ExpiresAt: now.Add(SessionTTL),
	}); err != nil {
		return err
	}
	http.SetCookie(w, h.cookie(base64.RawURLEncoding.EncodeToString(token), int(SessionTTL.Seconds())))
	return nil
}

// endSession deletes the session and the cookie.
func (h *Handler) endSession(ctx context.Context, w http.ResponseWriter, s session) error {
	http.SetCookie(w, h.cookie("", -1))
	return h.store.DeleteAdminSession(ctx, s.tokenHash)
}

// cookie is the session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site
// makes a browser send it, so no cross-site form can act as the operator), Secure on https,
// and only for the admin pages.
func (h *Handler) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: cookieName, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secure,
	}
}

func (h *Handler) csrfToken(sessionToken []byte) string {
	return base64.RawURLEncoding.EncodeToString(mac(h.key, "csrf", string(sessionToken)))
}

// checkCSRF reports whether the posted form carries the session's CSRF token.
func (s session) checkCSRF(r *http.Request) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}
