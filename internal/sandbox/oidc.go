package sandbox

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The sandbox is also an OpenID Connect provider: with `openid` in the granted scope the
// token answer carries an ID token (OIDC Core §3.1.3.3) signed with RS256, whose key the
// JWKS endpoint publishes, and the discovery document names every endpoint. goth's
// openid-connect provider checks the token's iss, aud and exp (not its signature); tests
// that want the signature checked too can fetch /jwks.

// idKeyBits is the RSA key size: 2048 bits, what Google and most providers use.
const idKeyBits = 2048

// idKey is the key that signs ID tokens. It is made on first use rather than in New: an
// RSA key takes tens of milliseconds, and most sandboxes (the demo, most tests) never
// issue an ID token.
type idKey struct {
	once sync.Once
	key  *rsa.PrivateKey
	jwk  jwk
	err  error
}

// jwk is a public RSA key as RFC 7517 §4 and RFC 7518 §6.3.1 spell it.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (k *idKey) get() (*rsa.PrivateKey, jwk, error) {
	k.once.Do(func() {
		k.key, k.err = rsa.GenerateKey(rand.Reader, idKeyBits)
		if k.err != nil {
			k.err = fmt.Errorf("sandbox: generate the ID token key: %w", k.err)
			return
		}
		pub := k.key.PublicKey
		n := base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
		e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
		// RFC 7638 §3: the key id is the SHA-256 thumbprint of the required members in
		// lexicographic order, without white space.
		thumb := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
		k.jwk = jwk{Kty: "RSA", Use: "sig", Alg: "RS256", Kid: base64.RawURLEncoding.EncodeToString(thumb[:]), N: n, E: e}
	})
	return k.key, k.jwk, k.err
}

// checkIssuer validates Options.Issuer.
func checkIssuer(iss string) error {
	if iss == "" {
		return nil
	}
	// OpenID Connect Discovery §3: an https URL with no query or fragment; http too, for
	// loopback tests. Also a bare host name: Google documents that its ID tokens may carry
	// "accounts.google.com" as well as "https://accounts.google.com".
	if u, err := url.Parse(iss); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		!strings.ContainsAny(iss, "?#") {
		return nil
	}
	if isHostName(iss) {
		return nil
	}
	return fmt.Errorf("sandbox: issuer %q must be an http(s) URL without query or fragment, or a bare host name", iss)
}

func isHostName(s string) bool {
	if s == "" || !strings.Contains(s, ".") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// baseURL is the URL the client reached the sandbox at: the scheme of the connection, the
// Host header and the mount prefix. A proxy's X-Forwarded-* headers are not trusted here:
// behind one, or behind a test's host rewrite, set Options.Issuer.
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + s.prefix
}

// issuerFor is the iss for a request: Options.Issuer, else the base URL. A client that
// sends another Host header gets tokens naming another issuer, which fools only itself.
func (s *Server) issuerFor(r *http.Request) string {
	if s.issuer != "" {
		return s.issuer
	}
	return s.baseURL(r)
}

// idTokenClaims is the ID token's payload (OIDC Core §2, §5.1): what goth's openid-connect
// provider reads, and what Google sends.
type idTokenClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	// azp: Google sets it to the client id; OIDC Core §2 allows it with one audience.
	AuthorizedParty string `json:"azp"`
	ExpiresAt       int64  `json:"exp"`
	IssuedAt        int64  `json:"iat"`
	Nonce           string `json:"nonce,omitempty"`
	AccessTokenHash string `json:"at_hash"`

	// With scope email (OIDC Core §5.4).
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	// With scope profile.
	Name              string `json:"name,omitempty"`
	GivenName         string `json:"given_name,omitempty"`
	FamilyName        string `json:"family_name,omitempty"`
	Picture           string `json:"picture,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
}

// idToken signs the ID token for a token set being issued; called with s.mu held.
func (s *Server) idToken(in issue, accessToken string, now, expiresAt time.Time) (string, error) {
	key, pub, err := s.idKey.get()
	if err != nil {
		return "", err
	}
	// OIDC Core §3.1.3.6: at_hash is the left half of the SHA-256 of the access token.
	sum := sha256.Sum256([]byte(accessToken))
	c := idTokenClaims{
		Issuer: in.issuer, Subject: in.userID, Audience: in.clientID, AuthorizedParty: in.clientID,
		ExpiresAt: expiresAt.Unix(), IssuedAt: now.Unix(), Nonce: in.nonce,
		AccessTokenHash: base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	}
	u, _ := s.userLocked(in.userID)
	if slices.Contains(in.scopes, "email") && u.Email != "" {
		c.Email, c.EmailVerified = u.Email, true
	}
	if slices.Contains(in.scopes, "profile") {
		c.Name, c.Picture, c.PreferredUsername = u.Name, u.AvatarURL, u.Login
		c.GivenName, c.FamilyName = splitName(u.Name)
	}
	return signJWT(key, pub.Kid, c)
}

// signJWT makes a JWS compact serialization (RFC 7515 §7.1) with RS256 (RFC 7518 §3.3).
func signJWT(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "kid": kid, "typ": "JWT"})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signingInput := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sandbox: sign the ID token: %w", err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// discovery is the OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3).
type discovery struct {
	Issuer                 string   `json:"issuer"`
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	UserinfoEndpoint       string   `json:"userinfo_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	RevocationEndpoint     string   `json:"revocation_endpoint"`
	ResponseTypes          []string `json:"response_types_supported"`
	SubjectTypes           []string `json:"subject_types_supported"`
	IDTokenSigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
	Scopes                 []string `json:"scopes_supported"`
	TokenEndpointAuth      []string `json:"token_endpoint_auth_methods_supported"`
	Claims                 []string `json:"claims_supported"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
	GrantTypes             []string `json:"grant_types_supported"`
	RevocationEndpointAuth []string `json:"revocation_endpoint_auth_methods_supported"`
}

// handleDiscovery serves GET /.well-known/openid-configuration. The endpoints are where
// this request reached the sandbox, so they work whatever the issuer says; the issuer is
// Options.Issuer or that same base URL (Discovery §4.3 wants it to equal the URL the
// document was fetched under, which clients check).
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	base := s.baseURL(r)
	writeJSON(w, http.StatusOK, discovery{
		Issuer:                 s.issuerFor(r),
		AuthorizationEndpoint:  base + "/authorize",
		TokenEndpoint:          base + "/token",
		UserinfoEndpoint:       base + "/v1/userinfo",
		JWKSURI:                base + "/jwks",
		RevocationEndpoint:     base + "/revoke",
		ResponseTypes:          []string{"code"},
		SubjectTypes:           []string{"public"},
		IDTokenSigningAlgs:     []string{"RS256"},
		Scopes:                 []string{"openid", "email", "profile"},
		TokenEndpointAuth:      []string{"client_secret_basic", "client_secret_post"},
		Claims:                 []string{"iss", "sub", "aud", "azp", "exp", "iat", "nonce", "at_hash", "email", "email_verified", "name", "given_name", "family_name", "picture", "preferred_username"},
		CodeChallengeMethods:   []string{"S256"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		RevocationEndpointAuth: []string{"client_secret_basic", "client_secret_post"},
	})
}

// handleJWKS serves GET /jwks: the JWK Set (RFC 7517 §5) with the ID token key.
func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	_, pub, err := s.idKey.get()
	if err != nil {
		s.reject(ReasonServerError)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "no signing key"})
		return
	}
	writeJSON(w, http.StatusOK, map[string][]jwk{"keys": {pub}})
}
