package providers

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// oauth2Engine is the broker's own OAuth 2 client (RFC 6749 code grant, RFC 7636 PKCE),
// driven by the provider's Spec: the generic `oauth2` type and the catalog's entries.
//
// It does not use golang.org/x/oauth2's exchange: that reads only a top-level token (Slack
// puts the user's under authed_user), keeps no way to read the profile from the token answer
// (Notion), and decides the client authentication by trial and error where an entry states
// it. The requests are small; writing them here keeps every field the answer has.
type oauth2Engine struct{}

// oauth2Session is the flow state an OAuth 2 entry keeps between Begin and the callback:
// nothing secret (state and verifier live in the broker's flow cookie), only a version.
const oauth2Session = `{"v":1}`

func (oauth2Engine) begin(c *call, state, codeChallenge string) (string, string, error) {
	s := c.p.spec
	u, err := url.Parse(s.AuthURL)
	if err != nil {
		return "", "", fmt.Errorf("auth_url: %w", err)
	}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", c.args.key)
	q.Set("redirect_uri", c.args.callbackURL)
	q.Set("state", state)
	if len(c.args.scopes) > 0 {
		q.Set(or(s.ScopeParam, "scope"), strings.Join(c.args.scopes, or(s.ScopeSeparator, " ")))
	}
	for k, v := range s.AuthParams {
		q.Set(k, v)
	}
	if codeChallenge != "" {
		q.Set("code_challenge", codeChallenge)
		q.Set("code_challenge_method", "S256")
	}
	u.RawQuery = q.Encode()
	return u.String(), oauth2Session, nil
}

func (oauth2Engine) complete(c *call, session string, in CallbackInput) (User, error) {
	if session != oauth2Session {
		return User{}, fmt.Errorf("%w: unreadable session", ErrInvalidInput)
	}
	s := c.p.spec
	form := url.Values{"grant_type": {"authorization_code"}, "code": {in.Code}, "redirect_uri": {c.args.callbackURL}}
	if in.CodeVerifier != "" {
		form.Set("code_verifier", in.CodeVerifier)
	}
	for k, v := range s.TokenParams {
		form.Set(k, v)
	}
	answer, err := tokenRequest(c, s.TokenURL, form, "exchange")
	if err != nil {
		return User{}, err
	}
	tok := answer
	if s.TokenPath != "" {
		v, _ := lookup(answer, s.TokenPath)
		if tok, _ = v.(map[string]any); tok == nil {
			return User{}, &UpstreamError{Step: "exchange", Reason: "no token at " + s.TokenPath + " in the answer"}
		}
	}
	u := User{
		AccessToken:  text(tok, "/access_token"),
		RefreshToken: text(tok, "/refresh_token"),
		ExpiresAt:    expiresIn(tok, time.Now()),
	}
	c.secrets = append(c.secrets, u.AccessToken, u.RefreshToken)
	if u.AccessToken == "" {
		return User{}, &UpstreamError{Step: "exchange", Reason: "no access token in the answer"}
	}
	u.Scopes = c.granted(splitScopes(tok["scope"], s.ScopeSeparator))

	var profile any
	switch s.Profile.From {
	case config.ProfileFromToken:
		profile = answer
	case config.ProfileFromIDToken:
		raw := text(tok, "/id_token")
		if raw == "" {
			raw = text(answer, "/id_token")
		}
		claims, err := idTokenClaims(raw, c.args.key, s.IDTokenIssuer, time.Now())
		if err != nil {
			return User{}, &UpstreamError{Step: "profile", Reason: err.Error()}
		}
		profile = claims
	default:
		if profile, err = fetchProfile(c, s, u.AccessToken); err != nil {
			return User{}, err
		}
	}
	p := s.Profile
	u.ID = accountID(profile, p.ID)
	u.Name, u.NickName, u.Email, u.AvatarURL = text(profile, p.Name), text(profile, p.NickName), text(profile, p.Email), text(profile, p.AvatarURL)
	return u, nil
}

func (oauth2Engine) refresh(c *call, refreshToken string) (*oauth2.Token, error) {
	s := c.p.spec
	answer, err := tokenRequest(c, or(s.RefreshURL, s.TokenURL), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, "refresh")
	if err != nil {
		return nil, err
	}
	// A refresh answer carries the token where the exchange's did, or (Slack's rotation of a
	// user token) at the top.
	tok := answer
	if v, ok := lookup(answer, s.TokenPath); ok && s.TokenPath != "" {
		if m, ok := v.(map[string]any); ok && text(m, "/access_token") != "" {
			tok = m
		}
	}
	return &oauth2.Token{
		AccessToken:  text(tok, "/access_token"),
		RefreshToken: text(tok, "/refresh_token"),
		Expiry:       expiresIn(tok, time.Now()),
	}, nil
}

// tokenRequest POSTs form to the token endpoint with the client authenticated as the entry
// says (RFC 6749 §2.3.1: Basic with the form-encoded id and secret, or both in the body).
// It returns the answer as a JSON object; an error status, or a 2xx answer that is an error
// in disguise, is an *UpstreamError with the RFC 6749 code when there is one.
func tokenRequest(c *call, tokenURL string, form url.Values, step string) (map[string]any, error) {
	s := c.p.spec
	switch s.TokenAuth {
	case "post":
		form.Set("client_id", c.args.key)
		form.Set("client_secret", c.args.secret)
	case "none": // a public client: PKCE stands in for the secret (Etsy)
		form.Set("client_id", c.args.key)
	}
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("token_url: %w", err)
	}
	if s.TokenAuth == "" || s.TokenAuth == "basic" {
		req.SetBasicAuth(url.QueryEscape(c.args.key), url.QueryEscape(c.args.secret))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	setHeaders(req, s.Headers)
	status, body, header, err := send(c, req)
	if err != nil {
		return nil, err
	}
	doc, derr := decodeAnswer(body, header.Get("Content-Type"))
	code := ""
	if derr == nil {
		code, _ = disguisedError(doc)
	}
	if status/100 != 2 {
		e := &UpstreamError{Step: step, Status: status, OAuthCode: code, Reason: fmt.Sprintf("token endpoint answered HTTP %d", status)}
		if code != "" {
			e.Reason += " " + code
		}
		return nil, e
	}
	if derr != nil {
		return nil, &UpstreamError{Step: step, Status: status, Reason: "token endpoint's answer is not a JSON object"}
	}
	if _, isErr := disguisedError(doc); isErr {
		reason := fmt.Sprintf("token endpoint answered HTTP %d with an error", status)
		if code != "" {
			reason += " (" + code + ")"
		}
		return nil, &UpstreamError{Step: step, Status: status, OAuthCode: code, Reason: reason}
	}
	return doc, nil
}

// fetchProfile calls the userinfo endpoint with the access token.
func fetchProfile(c *call, s config.Spec, accessToken string) (map[string]any, error) {
	var body io.Reader = http.NoBody
	if s.UserInfoBody != "" {
		body = strings.NewReader(s.UserInfoBody)
	}
	req, err := userInfoRequest(c, s, body)
	if err != nil {
		return nil, err
	}
	setToken(req, s, accessToken)
	if s.UserInfoBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return profileAnswer(c, req)
}

// userInfoRequest is the profile request without its credentials: method, URL with the
// entry's query parameters, the fixed headers.
func userInfoRequest(c *call, s config.Spec, body io.Reader) (*http.Request, error) {
	u, err := url.Parse(s.UserInfoURL)
	if err != nil {
		return nil, fmt.Errorf("userinfo_url: %w", err)
	}
	if len(s.UserInfoParams) > 0 {
		q := u.Query()
		for k, v := range s.UserInfoParams {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(c.ctx, or(s.UserInfoMethod, http.MethodGet), u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("userinfo_url: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	setHeaders(req, s.Headers)
	return req, nil
}

// profileAnswer sends a profile request and decodes its answer.
func profileAnswer(c *call, req *http.Request) (map[string]any, error) {
	status, body, header, err := send(c, req)
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		return nil, &UpstreamError{Step: "profile", Status: status, Reason: fmt.Sprintf("profile answered HTTP %d", status)}
	}
	doc, err := decodeAnswer(body, header.Get("Content-Type"))
	if err != nil {
		return nil, &UpstreamError{Step: "profile", Status: status, Reason: "profile is not a JSON object"}
	}
	if _, isErr := disguisedError(doc); isErr {
		return nil, &UpstreamError{Step: "profile", Status: status, Reason: fmt.Sprintf("profile answered HTTP %d with an error", status)}
	}
	return doc, nil
}

// send does one request with the call's client and returns the status, the body (capped by
// the client's transport) and the headers.
func send(c *call, req *http.Request) (int, []byte, http.Header, error) {
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, nil, err
	}
	return resp.StatusCode, body, resp.Header, nil
}

// setToken puts the access token where the provider reads it: Authorization with the
// entry's scheme (Bearer unless it says otherwise), or a header of its own.
func setToken(req *http.Request, s config.Spec, accessToken string) {
	if h := s.TokenHeader; h != "" && !strings.EqualFold(h, "Authorization") {
		req.Header.Set(h, accessToken)
		return
	}
	req.Header.Set("Authorization", or(s.TokenScheme, "Bearer")+" "+accessToken)
}

// setHeaders adds an entry's fixed headers (Notion-Version, a User-Agent).
func setHeaders(req *http.Request, h map[string]string) {
	for k, v := range h {
		req.Header.Set(k, v)
	}
}
