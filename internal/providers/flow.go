package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/markbates/goth"
	"golang.org/x/oauth2"
)

// Begin starts a flow: it returns the URL to send the browser to and the goth session to
// keep (server-side or encrypted: for OAuth 1.0a it holds the request token secret).
// extraScopes come from the link and are added to the configured ones. codeChallenge is the
// RFC 7636 S256 challenge, only for a provider with PKCE; "" sends none.
func (p *Provider) Begin(state string, extraScopes []string, codeChallenge string) (authURL, session string, err error) {
	if !p.OAuth1 && state == "" {
		return "", "", fmt.Errorf("%w: %s: empty state", ErrInvalidInput, p)
	}
	if codeChallenge != "" && !p.PKCE {
		return "", "", fmt.Errorf("%w: %s: goth cannot send a PKCE verifier for type %s", ErrInvalidInput, p, p.Type)
	}
	if codeChallenge != "" && !validChallenge(codeChallenge) {
		return "", "", fmt.Errorf("%w: %s: code challenge is not a base64url SHA-256", ErrInvalidInput, p)
	}
	gp, a, cancel, err := p.prepare(context.Background(), extraScopes)
	if err != nil {
		return "", "", err
	}
	defer cancel()
	err = guard("begin", func() error {
		sess, err := gp.BeginAuth(state)
		if err != nil {
			return err
		}
		if authURL, err = sess.GetAuthURL(); err != nil {
			return err
		}
		session = sess.Marshal()
		return nil
	})
	if err != nil {
		return "", "", p.fail("begin", err, a.secret)
	}
	if codeChallenge != "" {
		u, err := url.Parse(authURL)
		if err != nil {
			return "", "", p.fail("begin", err)
		}
		q := u.Query()
		q.Set("code_challenge", codeChallenge)
		q.Set("code_challenge_method", "S256")
		u.RawQuery = q.Encode()
		authURL = u.String()
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
	var s twitterSession
	if err := json.Unmarshal([]byte(session), &s); err != nil || s.RequestToken == nil || s.RequestToken.Token == "" {
		return "", fmt.Errorf("%w: %s: session holds no request token", ErrInvalidInput, p)
	}
	return s.RequestToken.Token, nil
}

// Complete exchanges the callback's code (OAuth 2) or verifier (OAuth 1.0a) and fetches
// the profile. extraScopes must be the ones given to Begin: some types decide what to fetch
// from the scopes (github's private email, slack's profile). The returned user has a
// non-empty UserID and the tokens.
func (p *Provider) Complete(session string, extraScopes []string, in CallbackInput) (goth.User, error) {
	params := url.Values{}
	if p.OAuth1 {
		if in.OAuthVerifier == "" {
			return goth.User{}, fmt.Errorf("%w: %s: callback without oauth_verifier", ErrInvalidInput, p)
		}
		rt, err := p.RequestToken(session)
		if err != nil {
			return goth.User{}, err
		}
		if in.OAuthToken != "" && in.OAuthToken != rt {
			return goth.User{}, fmt.Errorf("%w: %s: oauth_token is not this flow's request token", ErrInvalidInput, p)
		}
		params.Set("oauth_token", rt)
		params.Set("oauth_verifier", in.OAuthVerifier)
	} else {
		if in.Code == "" {
			return goth.User{}, fmt.Errorf("%w: %s: callback without code", ErrInvalidInput, p)
		}
		if in.CodeVerifier != "" && !p.PKCE {
			return goth.User{}, fmt.Errorf("%w: %s: type %s takes no code verifier", ErrInvalidInput, p, p.Type)
		}
		params.Set("code", in.Code)
		if in.CodeVerifier != "" {
			params.Set("code_verifier", in.CodeVerifier)
		}
	}
	gp, a, cancel, err := p.prepare(context.Background(), extraScopes)
	if err != nil {
		return goth.User{}, err
	}
	defer cancel()
	secrets := []string{a.secret, in.Code, in.CodeVerifier, in.OAuthVerifier}
	sess, err := gp.UnmarshalSession(session)
	if err != nil {
		return goth.User{}, fmt.Errorf("%w: %s: unreadable session", ErrInvalidInput, p)
	}
	step := "exchange"
	var user goth.User
	err = guard(step, func() error {
		token, err := sess.Authorize(gp, params)
		secrets = append(secrets, token)
		if err != nil {
			return err
		}
		step = "profile"
		if p.kind.beforeProfile != nil {
			p.kind.beforeProfile(gp, sess)
		}
		user, err = gp.FetchUser(sess)
		secrets = append(secrets, user.AccessToken, user.AccessTokenSecret, user.RefreshToken, user.IDToken)
		return err
	})
	if err != nil {
		return goth.User{}, p.fail(step, err, secrets...)
	}
	if noUserID(p.Type, user.UserID) {
		return goth.User{}, p.fail("profile", &UpstreamError{Reason: "profile has no user id"})
	}
	if user.AccessToken == "" {
		return goth.User{}, p.fail("exchange", &UpstreamError{Reason: "no access token"})
	}
	user.Provider = p.Name
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
	gp, a, cancel, err := p.prepare(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var tok *oauth2.Token
	err = guard("refresh", func() error {
		var err error
		if p.kind.refresh != nil {
			tok, err = p.kind.refresh(ctx, a, refreshToken)
		} else {
			tok, err = gp.RefreshToken(refreshToken)
		}
		return err
	})
	if err == nil && (tok == nil || tok.AccessToken == "") {
		err = &UpstreamError{Reason: "no access token in the answer"} // slack answers (nil, nil)
	}
	if err != nil {
		var secrets []string
		if tok != nil {
			secrets = []string{tok.AccessToken, tok.RefreshToken}
		}
		return nil, p.fail("refresh", err, append(secrets, a.secret, refreshToken)...)
	}
	return tok, nil
}

// Revoke asks the provider to revoke a token (RFC 7009): POST token and token_type_hint
// ("access_token", "refresh_token" or ""), authenticated with the client's credentials.
// Providers without an endpoint return ErrNoRevocation.
func (p *Provider) Revoke(ctx context.Context, token, tokenTypeHint string) error {
	if p.RevocationURL == "" {
		return fmt.Errorf("%s: %w", p, ErrNoRevocation)
	}
	form := url.Values{"token": {token}}
	if tokenTypeHint != "" {
		form.Set("token_type_hint", tokenTypeHint)
	}
	client, cancel := callClient(ctx, p.base, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return p.fail("revoke", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: client credentials form-encoded before HTTP Basic.
	req.SetBasicAuth(url.QueryEscape(p.args.key), url.QueryEscape(p.args.secret))
	resp, err := client.Do(req)
	if err != nil {
		return p.fail("revoke", err, token, p.args.secret)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	// RFC 7009 §2.2: 200 also for a token that was already invalid.
	if resp.StatusCode != http.StatusOK {
		return p.fail("revoke", &UpstreamError{Status: resp.StatusCode, Reason: fmt.Sprintf("answered HTTP %d", resp.StatusCode)})
	}
	return nil
}

// prepare builds this flow's goth provider: configured ∪ extra scopes, a per-operation
// client, our name. The returned cancel ends the operation's deadline.
func (p *Provider) prepare(ctx context.Context, extraScopes []string) (goth.Provider, *buildArgs, context.CancelFunc, error) {
	scopes := append([]string(nil), p.Scopes...)
	for _, s := range extraScopes {
		if !validScope(s) {
			return nil, nil, nil, fmt.Errorf("%w: %s: scope %q is not an RFC 6749 scope token", ErrInvalidInput, p, s)
		}
		if !contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	a := *p.args
	a.scopes = scopes
	client, cancel := callClient(ctx, p.base, p.timeout)
	a.client = client
	var gp goth.Provider
	err := guard("build", func() error {
		var err error
		gp, err = p.kind.build(&a)
		return err
	})
	if err != nil {
		cancel()
		return nil, nil, nil, p.fail("build", err, a.secret)
	}
	injectHTTPClient(gp, client)
	gp.SetName(p.Name)
	return gp, &a, cancel, nil
}

func (p *Provider) fail(step string, err error, secrets ...string) *UpstreamError {
	e := upstream(step, err, secrets...)
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
