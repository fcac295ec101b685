package providers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/openidConnect"
	"golang.org/x/oauth2"
)

// oidcConfig is what an openid-connect provider needs of its issuer's metadata.
type oidcConfig struct {
	Issuer     string `json:"issuer"`
	Auth       string `json:"authorization_endpoint"`
	Token      string `json:"token_endpoint"`
	UserInfo   string `json:"userinfo_endpoint"`
	EndSession string `json:"end_session_endpoint"`
	Revocation string `json:"revocation_endpoint"`
}

const wellKnown = "/.well-known/openid-configuration"

// discover fetches an issuer's metadata once, at start-up. goth's openidConnect.New does
// this itself, but inside the constructor, before a client can be set: with
// http.DefaultClient (no timeout), an unbounded body, and again for every provider value.
func discover(ctx context.Context, client *http.Client, discoveryURL string) (*oidcConfig, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, discoveryURL, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery_url: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, upstream("discovery", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &UpstreamError{Step: "discovery", Status: resp.StatusCode, Reason: fmt.Sprintf("answered HTTP %d", resp.StatusCode)}
	}
	body, err := io.ReadAll(resp.Body) // capped by callTransport
	if err != nil {
		return nil, upstream("discovery", err)
	}
	var c oidcConfig
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, &UpstreamError{Step: "discovery", Status: resp.StatusCode, Reason: "metadata is not a JSON object"}
	}
	// OpenID Connect Discovery §4.3: the issuer in the metadata must be the URL the
	// metadata was fetched under, or a look-alike document could redirect the logins (and
	// goth compares the ID token's `iss` with this value, so it must be the real one).
	if want, ok := strings.CutSuffix(discoveryURL, wellKnown); ok && strings.TrimSuffix(c.Issuer, "/") != strings.TrimSuffix(want, "/") {
		return nil, &UpstreamError{Step: "discovery", Reason: fmt.Sprintf("issuer %q does not match the discovery URL", c.Issuer)}
	}
	if c.Issuer == "" || c.Auth == "" || c.Token == "" {
		return nil, &UpstreamError{Step: "discovery", Reason: "metadata lacks issuer, authorization_endpoint or token_endpoint"}
	}
	return &c, nil
}

// explicitOIDC is the openid-connect configuration without discovery: endpoints from
// config, the issuer (which goth checks against the ID token) from options.
func explicitOIDC(a *buildArgs) (*oidcConfig, error) {
	c := &oidcConfig{
		Issuer: a.options["issuer"], Auth: a.endpoints.AuthURL, Token: a.endpoints.TokenURL,
		UserInfo: a.endpoints.ProfileURL, Revocation: a.options["revocation_url"],
	}
	if c.Issuer == "" || c.Auth == "" || c.Token == "" {
		return nil, errors.New("openid-connect needs discovery_url, or endpoints.auth_url, endpoints.token_url and options.issuer")
	}
	return c, nil
}

// buildOIDC builds goth's openid-connect provider from metadata we already have.
//
// goth checks the ID token's aud, iss and exp but not its signature or nonce. That is
// acceptable here because the ID token comes straight from the token endpoint over TLS in
// the code flow, authenticated with the client secret (OpenID Connect Core §3.1.3.7 lets
// TLS server validation stand in for the signature check), and state plus PKCE bind the
// code to this browser, which is what a nonce would add.
func buildOIDC(a *buildArgs) (goth.Provider, error) {
	c := a.oidc
	return openidConnect.NewCustomisedURL(a.key, a.secret, a.callbackURL, c.Auth, c.Token, c.Issuer, c.UserInfo, c.EndSession, oidcScopes(a.scopes)...)
}

// oidcScopes puts `openid` first: goth appends it last when missing, and some servers
// (older mockoidc among them) only issue an ID token when it leads.
func oidcScopes(scopes []string) []string {
	out := []string{"openid"}
	for _, s := range scopes {
		if s != "openid" {
			out = append(out, s)
		}
	}
	return slices.Clip(out)
}

// refreshOIDC refreshes with our client: goth's openid-connect RefreshToken uses
// oauth2.NoContext, i.e. http.DefaultClient.
func refreshOIDC(ctx context.Context, a *buildArgs, refreshToken string) (*oauth2.Token, error) {
	conf := &oauth2.Config{ClientID: a.key, ClientSecret: a.secret, Endpoint: oauth2.Endpoint{TokenURL: a.oidc.Token}}
	return conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, a.client), &oauth2.Token{RefreshToken: refreshToken}).Token()
}

func setupOIDC(ctx context.Context, a *buildArgs, discoveryURL string, client *http.Client) error {
	var err error
	if discoveryURL != "" {
		a.oidc, err = discover(ctx, client, discoveryURL)
	} else {
		a.oidc, err = explicitOIDC(a)
	}
	return err
}

// Google's OpenID Connect endpoints, as its discovery document publishes them. Fixed rather
// than discovered: they have not changed in years, and discovery would add a start-up
// dependency on Google for every bot that links Google accounts.
const (
	googleIssuer   = "https://accounts.google.com"
	googleAuthURL  = "https://accounts.google.com/o/oauth2/v2/auth"
	googleTokenURL = "https://oauth2.googleapis.com/token"
	googleUserInfo = "https://openidconnect.googleapis.com/v1/userinfo"
)

func setupGoogle(_ context.Context, a *buildArgs, _ string, _ *http.Client) error {
	e := a.endpoints
	a.oidc = &oidcConfig{
		Issuer: or(a.options["issuer"], googleIssuer), Auth: or(e.AuthURL, googleAuthURL),
		Token: or(e.TokenURL, googleTokenURL), UserInfo: or(e.ProfileURL, googleUserInfo),
	}
	return nil
}

func buildGoogle(a *buildArgs) (goth.Provider, error) {
	b := *a
	if len(b.scopes) == 0 {
		b.scopes = []string{"openid", "email", "profile"}
	}
	gp, err := buildOIDC(&b)
	if err != nil {
		return nil, err
	}
	// Google issues a refresh token only with access_type=offline, and to a user who has
	// consented before only when the consent screen is shown again (prompt=consent):
	// without it, re-linking yields an identity that can never be refreshed.
	opts := map[string]string{"access_type": "offline", "prompt": or(a.options["prompt"], "consent")}
	if v := a.options["hosted_domain"]; v != "" {
		opts["hd"] = v
	}
	if v := a.options["login_hint"]; v != "" {
		opts["login_hint"] = v
	}
	gp.(*openidConnect.Provider).SetAuthCodeOptions(opts)
	return gp, nil
}

// acceptLegacyGoogleIssuer: Google documents that an ID token's iss is
// "https://accounts.google.com" or "accounts.google.com", while goth accepts exactly one
// value, so the provider is told which of the two this token carries.
func acceptLegacyGoogleIssuer(gp goth.Provider, sess goth.Session) {
	p, ok := gp.(*openidConnect.Provider)
	s, ok2 := sess.(*openidConnect.Session)
	if !ok || !ok2 || p.OpenIDConfig.Issuer != googleIssuer {
		return
	}
	parts := strings.Split(s.IDToken, ".")
	if len(parts) != 3 {
		return
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss string `json:"iss"`
	}
	if err == nil && json.Unmarshal(payload, &claims) == nil && claims.Iss == "accounts.google.com" {
		p.OpenIDConfig.Issuer = claims.Iss
	}
}
