package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// User is a linked account as the provider described it, with the tokens it issued: what
// Complete returns to the broker, whatever implementation ran the flow.
type User struct {
	ID                               string // the provider's account id; never empty
	Name, NickName, Email, AvatarURL string
	AccessToken, AccessTokenSecret   string // the secret: OAuth 1.0a only
	RefreshToken                     string
	ExpiresAt                        time.Time // zero: the token does not expire
	// Scopes are the scopes the provider granted, where its answer says so (the token
	// answer's scope, or its documented equivalent), else the ones requested.
	Scopes []string
}

// engine is one implementation's side of a flow: goth's, or the broker's own OAuth 2 and
// OAuth 1.0a. Errors may be any error; the Provider methods turn them into *UpstreamError.
type engine interface {
	begin(c *call, state, codeChallenge string) (authURL, session string, err error)
	complete(c *call, session string, in CallbackInput) (User, error)
	refresh(c *call, refreshToken string) (*oauth2.Token, error)
}

// call is one operation at a provider: its configuration with this flow's scopes, a client
// whose requests share one deadline, and the secrets its errors must never show.
type call struct {
	ctx     context.Context
	p       *Provider
	args    *buildArgs
	client  *http.Client
	tap     *scopeTap
	secrets []string
}

// granted turns what a token answer said about scopes into the scopes to store.
func (c *call) granted(answer []string, answered bool) []string {
	return grantedScopes(c.args.scopes, answer, answered, c.p.spec)
}

// Begin starts a flow: it returns the URL to send the browser to and the session to keep
// (server-side or encrypted: for OAuth 1.0a it holds the request token secret).
// extraScopes come from the link and are added to the configured ones. codeChallenge is the
// RFC 7636 S256 challenge, only for a provider with PKCE; "" sends none.
func (p *Provider) Begin(state string, extraScopes []string, codeChallenge string) (authURL, session string, err error) {
	if !p.OAuth1 && state == "" {
		return "", "", fmt.Errorf("%w: %s: empty state", ErrInvalidInput, p)
	}
	if codeChallenge != "" && !p.PKCE {
		return "", "", fmt.Errorf("%w: %s: type %s sends no PKCE verifier", ErrInvalidInput, p, p.Type)
	}
	if codeChallenge != "" && !validChallenge(codeChallenge) {
		return "", "", fmt.Errorf("%w: %s: code challenge is not a base64url SHA-256", ErrInvalidInput, p)
	}
	c, cancel, err := p.prepare(context.Background(), extraScopes)
	if err != nil {
		return "", "", err
	}
	defer cancel()
	authURL, session, err = p.eng.begin(c, state, codeChallenge)
	if err != nil {
		return "", "", p.fail("begin", err, c.secrets...)
	}
	return authURL, session, nil
}

// RequestToken returns the OAuth 1.0a request token of a session, which the callback's
// oauth_token must equal: for OAuth 1.0a that comparison is what binds the callback to the
// browser that started the flow.
func (p *Provider) RequestToken(session string) (string, error) {
	if !p.OAuth1 {
		return "", fmt.Errorf("%w: %s is not OAuth 1.0a", ErrInvalidInput, p)
	}
	var s oauth1Session
	if err := json.Unmarshal([]byte(session), &s); err != nil || s.Token == "" {
		return "", fmt.Errorf("%w: %s: session holds no request token", ErrInvalidInput, p)
	}
	return s.Token, nil
}

// Complete exchanges the callback's code (OAuth 2) or verifier (OAuth 1.0a) and fetches
// the profile. extraScopes must be the ones given to Begin: they are what was requested,
// and some goth types decide what to fetch from them (github's private email). The
// returned user has a non-empty ID and an access token.
func (p *Provider) Complete(session string, extraScopes []string, in CallbackInput) (User, error) {
	if p.OAuth1 {
		if in.OAuthVerifier == "" {
			return User{}, fmt.Errorf("%w: %s: callback without oauth_verifier", ErrInvalidInput, p)
		}
		rt, err := p.RequestToken(session)
		if err != nil {
			return User{}, err
		}
		if in.OAuthToken != "" && in.OAuthToken != rt {
			return User{}, fmt.Errorf("%w: %s: oauth_token is not this flow's request token", ErrInvalidInput, p)
		}
	} else {
		if in.Code == "" {
			return User{}, fmt.Errorf("%w: %s: callback without code", ErrInvalidInput, p)
		}
		if in.CodeVerifier != "" && !p.PKCE {
			return User{}, fmt.Errorf("%w: %s: type %s takes no code verifier", ErrInvalidInput, p, p.Type)
		}
	}
	c, cancel, err := p.prepare(context.Background(), extraScopes)
	if err != nil {
		return User{}, err
	}
	defer cancel()
	c.tap = &scopeTap{}
	c.client.Transport.(*callTransport).tap = c.tap
	c.secrets = append(c.secrets, in.Code, in.CodeVerifier, in.OAuthVerifier)
	var user User
	err = guard("exchange", func() error {
		var err error
		user, err = p.eng.complete(c, session, in)
		return err
	})
	c.secrets = append(c.secrets, user.AccessToken, user.AccessTokenSecret, user.RefreshToken)
	switch {
	case err != nil:
		return User{}, p.fail("exchange", err, c.secrets...)
	case user.AccessToken == "":
		return User{}, p.fail("exchange", &UpstreamError{Reason: "no access token"})
	case user.ID == "":
		return User{}, p.fail("profile", &UpstreamError{Reason: "profile has no user id"})
	}
	return user, nil
}

// Refresh trades a refresh token for new tokens. A refusal with invalid_grant matches
// errors.Is(err, ErrInvalidGrant): the identity must be re-linked.
func (p *Provider) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	if !p.CanRefresh {
		return nil, fmt.Errorf("%w: %s: type %s cannot refresh", ErrInvalidInput, p, p.Type)
	}
	if refreshToken == "" {
		return nil, fmt.Errorf("%w: %s: empty refresh token", ErrInvalidInput, p)
	}
	c, cancel, err := p.prepare(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer cancel()
	c.secrets = append(c.secrets, refreshToken)
	var tok *oauth2.Token
	err = guard("refresh", func() error {
		var err error
		tok, err = p.eng.refresh(c, refreshToken)
		return err
	})
	if err == nil && (tok == nil || tok.AccessToken == "") {
		err = &UpstreamError{Reason: "no access token in the answer"} // goth's slack answers (nil, nil)
	}
	if err != nil {
		if tok != nil {
			c.secrets = append(c.secrets, tok.AccessToken, tok.RefreshToken)
		}
		return nil, p.fail("refresh", err, c.secrets...)
	}
	return tok, nil
}

// prepare makes one operation's call: configured ∪ extra scopes, a per-operation client.
// The returned cancel ends the operation's deadline.
func (p *Provider) prepare(ctx context.Context, extraScopes []string) (*call, context.CancelFunc, error) {
	scopes := append([]string(nil), p.Scopes...)
	for _, s := range extraScopes {
		if !validScope(s) {
			return nil, nil, fmt.Errorf("%w: %s: scope %q is not an RFC 6749 scope token", ErrInvalidInput, p, s)
		}
		if !contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	a := *p.args
	a.scopes = scopes
	client, cancel := callClient(ctx, p.base, p.timeout)
	a.client = client
	c := &call{ctx: client.Transport.(*callTransport).ctx, p: p, args: &a, client: client, secrets: []string{a.secret}}
	return c, cancel, nil
}

func (p *Provider) fail(step string, err error, secrets ...string) *UpstreamError {
	e := upstream(step, err, append(secrets, p.args.secret)...)
	e.Provider = p.Bot + "/" + p.Name
	return e
}

// validScope: RFC 6749 §3.3 scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). A space would
// smuggle a second scope past whatever approved the first.
func validScope(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// validChallenge: RFC 7636 §4.2, BASE64URL(SHA256(verifier)) without padding is 43 chars.
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
