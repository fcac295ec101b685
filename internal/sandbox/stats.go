package sandbox

import "maps"

// Stats counts what the server did. Tests use it to prove, for instance, that the broker
// refreshed exactly once or never presented an expired token.
type Stats struct {
	Authorizations int // codes issued: consent approved or auto-approved
	Denials        int // consent denied by the user
	CodeExchanges  int // successful authorization_code grants
	Refreshes      int // successful refresh_token grants
	Revocations    int // /revoke requests that found a token of the calling client
	Rejected       map[Reason]int
}

// Reason says why a request was refused. The strings are stable.
type Reason string

// Reasons for refusing a request.
const (
	// Requests that are malformed: missing or repeated parameters (RFC 6749 §3.1, §3.2),
	// wrong content type, two client authentication methods at once (RFC 6749 §2.3).
	ReasonMalformed Reason = "malformed_request"

	// Client and redirect URI.
	ReasonUnknownClient    Reason = "unknown_client"
	ReasonBadClientSecret  Reason = "bad_client_secret" // wrong or missing secret
	ReasonUnregisteredURI  Reason = "unregistered_redirect_uri"
	ReasonWrongClient      Reason = "wrong_client" // code, refresh or revoked token belongs to another client
	ReasonRedirectMismatch Reason = "redirect_uri_mismatch"
	ReasonUnsupportedGrant Reason = "unsupported_grant_type"
	ReasonUnsupportedResp  Reason = "unsupported_response_type"
	ReasonInvalidScope     Reason = "invalid_scope"

	// PKCE (RFC 7636).
	ReasonPKCEPlain              Reason = "pkce_plain" // plain method, or a challenge without method
	ReasonPKCEMissingVerifier    Reason = "pkce_missing_verifier"
	ReasonPKCEWrongVerifier      Reason = "pkce_wrong_verifier"
	ReasonPKCEUnexpectedVerifier Reason = "pkce_unexpected_verifier" // verifier without a challenge (RFC 9700 §2.1.1)

	// Consent.
	ReasonBadFormToken Reason = "bad_form_token" // missing, unknown, used, expired, other browser, cross-site
	ReasonUnknownUser  Reason = "unknown_user"

	// Codes and refresh tokens.
	ReasonUnknownCode         Reason = "unknown_code"
	ReasonCodeReused          Reason = "code_reused"
	ReasonCodeExpired         Reason = "code_expired"
	ReasonUnknownRefreshToken Reason = "unknown_refresh_token"
	ReasonRevokedRefreshToken Reason = "revoked_refresh_token"
	ReasonRefreshTokenReused  Reason = "refresh_token_reused"

	// Bearer tokens at the profile endpoints (RFC 6750).
	ReasonMissingToken      Reason = "missing_token"
	ReasonUnknownToken      Reason = "unknown_token"
	ReasonExpiredToken      Reason = "expired_token"
	ReasonRevokedToken      Reason = "revoked_token"
	ReasonInsufficientScope Reason = "insufficient_scope"

	// The sandbox's own failure, such as an ID token it could not sign.
	ReasonServerError Reason = "server_error"
)

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Rejected = maps.Clone(s.stats.Rejected)
	return st
}

func (s *Server) reject(r Reason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectLocked(r)
}

func (s *Server) rejectLocked(r Reason) {
	s.stats.Rejected[r]++
}
