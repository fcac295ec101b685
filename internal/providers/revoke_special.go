package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Grant is the token material an identity holds at its provider, for RevokeGrant.
type Grant struct {
	AccessToken       string
	AccessTokenSecret string // OAuth 1.0a
	RefreshToken      string
}

// revoker ends a grant at a provider whose revocation is not RFC 7009.
type revoker func(ctx context.Context, p *Provider, g Grant) error

// specialRevokers are the types whose provider has its own revocation API.
var specialRevokers = map[string]revoker{
	"github":    revokeGitHub,
	"slack":     revokeSlack,
	"twitter":   revokeTwitter,
	"twitterv2": revokeTwitter,
}

// CanRevoke reports whether RevokeGrant has a way to end this provider's grants.
func (p *Provider) CanRevoke() bool {
	return p.RevocationURL != "" || specialRevokers[p.Type] != nil
}

// RevokeGrant ends the user's grant at the provider, the way the provider offers: RFC 7009
// (Revoke) where it has an endpoint, else its own API (GitHub's grant deletion, Slack's
// auth.revoke, Twitter's invalidate_token). ErrNoRevocation when it has none.
func (p *Provider) RevokeGrant(ctx context.Context, g Grant) error {
	if r := specialRevokers[p.Type]; r != nil {
		if g.AccessToken == "" {
			return fmt.Errorf("%w: %s: no access token to revoke", ErrInvalidInput, p)
		}
		return r(ctx, p, g)
	}
	if p.RevocationURL == "" {
		return fmt.Errorf("%s: %w", p, ErrNoRevocation)
	}
	// RFC 7009 §2.1: revoking a refresh token ends the grant, its access tokens included
	// (the server SHOULD); without one, the access token is all there is to revoke.
	if g.RefreshToken != "" {
		return p.Revoke(ctx, g.RefreshToken, "refresh_token")
	}
	if g.AccessToken == "" {
		return fmt.Errorf("%w: %s: no token to revoke", ErrInvalidInput, p)
	}
	return p.Revoke(ctx, g.AccessToken, "access_token")
}

// revokeGitHub deletes the OAuth app's authorization for the user (every token of it):
// DELETE /applications/{client_id}/grant with the app's credentials as Basic auth and the
// user's token in a JSON body; 204 on success. Enterprise servers have the same API under
// their /api/v3, which APIBaseURL follows.
func revokeGitHub(ctx context.Context, p *Provider, g Grant) error {
	body, err := json.Marshal(map[string]string{"access_token": g.AccessToken})
	if err != nil {
		return p.fail("revoke", err)
	}
	u := strings.TrimSuffix(p.APIBaseURL, "/") + "/applications/" + url.PathEscape(p.args.key) + "/grant"
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, bytes.NewReader(body))
	if err != nil {
		return p.fail("revoke", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(p.args.key, p.args.secret) // GitHub takes the id and secret as they are
	_, err = p.revokeCall(ctx, req, g.AccessToken)
	return err
}

// revokeSlack calls auth.revoke, which takes the token as its own credential and answers
// failure as 200 {"ok":false,"error":…}. A token Slack reports as already revoked counts as
// revoked.
func revokeSlack(ctx context.Context, p *Provider, g Grant) error {
	u := strings.TrimSuffix(p.APIBaseURL, "/") + "/auth.revoke"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(""))
	if err != nil {
		return p.fail("revoke", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+g.AccessToken)
	answer, err := p.revokeCall(ctx, req, g.AccessToken)
	if err != nil {
		return err
	}
	var res struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(answer, &res); err != nil {
		return p.fail("revoke", &UpstreamError{Status: http.StatusOK, Reason: "answer is not Slack's JSON"})
	}
	if res.OK || res.Error == "token_revoked" {
		return nil
	}
	code := "unknown error"
	if rfc6749Code.MatchString(res.Error) { // Slack's codes have the same shape; anything else is not repeated
		code = res.Error
	}
	return p.fail("revoke", &UpstreamError{Status: http.StatusOK, Reason: "answered ok:false (" + code + ")"})
}

// revokeTwitter calls POST /1.1/oauth/invalidate_token signed as the user (OAuth 1.0a with
// the app's consumer secret and the user's token secret), which ends that access token.
// Twitter documents access_token and access_token_secret as parameters; they go in the signed
// form body rather than the query string, which proxies tend to log.
func revokeTwitter(ctx context.Context, p *Provider, g Grant) error {
	form := url.Values{"access_token": {g.AccessToken}, "access_token_secret": {g.AccessTokenSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, twitterInvalidateURL(p.args), strings.NewReader(form.Encode()))
	if err != nil {
		return p.fail("revoke", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := p.SignRequest(req, g.AccessToken, g.AccessTokenSecret); err != nil {
		return err
	}
	_, err = p.revokeCall(ctx, req, g.AccessToken, g.AccessTokenSecret)
	return err
}

const twitterInvalidateTokenURL = "https://api.twitter.com/1.1/oauth/invalidate_token"

// twitterInvalidateURL sits on the host of a configured access-token endpoint (a proxy or a
// test's fake), else on Twitter's.
func twitterInvalidateURL(a *buildArgs) string {
	if u := siblingOf(a.endpoints.TokenURL, "/oauth/access_token", "/1.1/oauth/invalidate_token"); u != "" {
		return u
	}
	return twitterInvalidateTokenURL
}

// revokeCall sends a revocation with the provider's client and deadline and returns the
// answer's body when the status is 2xx. Errors never carry the tokens (secrets).
func (p *Provider) revokeCall(ctx context.Context, req *http.Request, secrets ...string) ([]byte, error) {
	client, cancel := callClient(ctx, p.base, p.timeout)
	defer cancel()
	secrets = append(secrets, p.args.secret)
	resp, err := client.Do(req)
	if err != nil {
		return nil, p.fail("revoke", err, secrets...)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // capped by callTransport
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, p.fail("revoke", err, secrets...)
	}
	if resp.StatusCode/100 != 2 {
		return nil, p.fail("revoke", &UpstreamError{Status: resp.StatusCode, Reason: fmt.Sprintf("answered HTTP %d", resp.StatusCode)})
	}
	return body, nil
}
