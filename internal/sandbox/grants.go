package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
)

// The revocation APIs of providers that have no RFC 7009 endpoint: GitHub's grant deletion
// and Slack's auth.revoke. Both count in Stats.Revocations like /revoke.

// handleGitHubDeleteGrant serves DELETE /applications/{client_id}/grant: the OAuth app,
// authenticated with HTTP Basic, names one of its user's tokens in a JSON body, and GitHub
// deletes the user's whole authorization of the app, every token of it. 204 on success.
func (s *Server) handleGitHubDeleteGrant(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	client, known := s.client(r.PathValue("client_id"))
	want, got := sha256.Sum256([]byte(client.Secret)), sha256.Sum256([]byte(secret))
	if !ok || !known || id != client.ID || subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		// GitHub hides the application from wrong credentials behind a 404.
		s.reject(ReasonBadClientSecret)
		writeJSON(w, http.StatusNotFound, gitHubMessage{Message: "Not Found", DocumentationURL: "https://docs.github.com/rest"})
		return
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" ||
		json.NewDecoder(r.Body).Decode(&body) != nil || body.AccessToken == "" {
		s.reject(ReasonMalformed)
		writeJSON(w, http.StatusUnprocessableEntity, gitHubMessage{Message: "Validation Failed", DocumentationURL: "https://docs.github.com/rest"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.access[body.AccessToken]
	if at == nil || at.clientID != client.ID {
		s.rejectLocked(ReasonUnknownToken)
		writeJSON(w, http.StatusUnprocessableEntity, gitHubMessage{Message: "Validation Failed", DocumentationURL: "https://docs.github.com/rest"})
		return
	}
	// The authorization is the user's consent to this app: every token family of the pair.
	for _, other := range s.access {
		if other.userID == at.userID && other.clientID == client.ID {
			other.family.revoked = true
		}
	}
	for _, rt := range s.refresh {
		if rt.userID == at.userID && rt.clientID == client.ID {
			rt.family.revoked = true
		}
	}
	s.stats.Revocations++
	w.WriteHeader(http.StatusNoContent)
}

// handleSlackRevoke serves POST /api/auth.revoke: the token, sent as its own credential,
// is revoked. Slack answers {"ok": true, "revoked": true}, and for a token that no longer
// works the usual ok:false (token_revoked when it was revoked before).
func (s *Server) handleSlackRevoke(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.bearer(w, r, shapeSlack, false); !ok {
		return
	}
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.mu.Lock()
	if at := s.access[strings.TrimSpace(token)]; at != nil {
		at.revoked = true
		s.stats.Revocations++
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true, "revoked": true})
}
