package providers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/oauthbroker/internal/oauth1"
)

// oauth1Engine is the broker's OAuth 1.0a client (RFC 5849) on internal/oauth1, driven by
// the provider's Spec: twitter, twitterv2, trello and the generic `oauth1` type. Twitter has
// no `state`: the broker binds the flow to the browser with the request token instead
// (RequestToken, and the callback's oauth_token).
type oauth1Engine struct{}

// oauth1Session is the flow state between Begin and the callback. It holds the request
// token secret, so the broker keeps it encrypted.
type oauth1Session struct {
	Token  string `json:"t"`
	Secret string `json:"s"`
}

func (oauth1Engine) credentials(c *call, token, secret string) oauth1.Credentials {
	return oauth1.Credentials{ConsumerKey: c.args.key, ConsumerSecret: c.args.secret, Token: token, TokenSecret: secret}
}

func (e oauth1Engine) begin(c *call, _, _ string) (string, string, error) {
	s := c.p.spec
	rt, err := oauth1.Signer{}.RequestToken(c.ctx, c.client, s.RequestTokenURL, e.credentials(c, "", ""), c.args.callbackURL, nil)
	if err != nil {
		return "", "", err
	}
	c.secrets = append(c.secrets, rt.Secret)
	u, err := url.Parse(s.AuthURL)
	if err != nil {
		return "", "", fmt.Errorf("auth_url: %w", err)
	}
	q := u.Query()
	q.Set("oauth_token", rt.Token)
	if len(c.args.scopes) > 0 {
		q.Set(or(s.ScopeParam, "scope"), strings.Join(c.args.scopes, or(s.ScopeSeparator, " ")))
	}
	for k, v := range s.AuthParams {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	session, _ := json.Marshal(oauth1Session{Token: rt.Token, Secret: rt.Secret})
	return u.String(), string(session), nil
}

func (e oauth1Engine) complete(c *call, session string, in CallbackInput) (User, error) {
	var rt oauth1Session
	if err := json.Unmarshal([]byte(session), &rt); err != nil || rt.Token == "" || rt.Secret == "" {
		return User{}, fmt.Errorf("%w: unreadable session", ErrInvalidInput)
	}
	c.secrets = append(c.secrets, rt.Secret)
	s := c.p.spec
	at, err := oauth1.Signer{}.AccessToken(c.ctx, c.client, s.TokenURL, e.credentials(c, rt.Token, rt.Secret), in.OAuthVerifier)
	if err != nil {
		return User{}, err
	}
	c.secrets = append(c.secrets, at.Token, at.Secret)
	req, err := userInfoRequest(c, s, http.NoBody)
	if err != nil {
		return User{}, err
	}
	if err := (oauth1.Signer{}).Sign(req, e.credentials(c, at.Token, at.Secret)); err != nil {
		return User{}, err
	}
	profile, err := profileAnswer(c, req)
	if err != nil {
		return User{}, err
	}
	p := s.Profile
	return User{
		ID: accountID(profile, p.ID), Name: text(profile, p.Name), NickName: text(profile, p.NickName),
		Email: text(profile, p.Email), AvatarURL: text(profile, p.AvatarURL),
		AccessToken: at.Token, AccessTokenSecret: at.Secret,
		Scopes: c.granted(nil, false),
	}, nil
}

func (oauth1Engine) refresh(*call, string) (*oauth2.Token, error) {
	return nil, fmt.Errorf("%w: OAuth 1.0a tokens do not expire and cannot be refreshed", ErrInvalidInput)
}
