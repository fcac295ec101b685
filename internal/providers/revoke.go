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

// revokers end a grant the way a revocation form (config.RevocationForms) says.
var revokers = map[string]func(ctx context.Context, p *Provider, g Grant) error{
	"rfc7009": revokeRFC7009,
	"bearer":  func(ctx context.Context, p *Provider, g Grant) error { return revokeBearer(ctx, p, g, http.MethodPost) },
	"bearer-delete": func(ctx context.Context, p *Provider, g Grant) error {
		return revokeBearer(ctx, p, g, http.MethodDelete)
	},
	"client-query": revokeClientQuery,
	"github-grant": revokeGitHub,
	"oauth1":       func(ctx context.Context, p *Provider, g Grant) error { return revokeOAuth1(ctx, p, g, http.MethodPost) },
	"oauth1-delete": func(ctx context.Context, p *Provider, g Grant) error {
		return revokeOAuth1(ctx, p, g, http.MethodDelete)
	},
}

// revocationForm is how this provider's grants end; "" when they cannot be.
func (p *Provider) revocationForm() string {
	switch form := p.spec.Revocation; {
	case form == "github-grant":
		return form
	case p.RevocationURL == "":
		return ""
	case form != "":
		return form
	}
	return "rfc7009"
}

// CanRevoke reports whether RevokeGrant has a way to end this provider's grants.
func (p *Provider) CanRevoke() bool { return p.revocationForm() != "" }

// RevokeGrant ends the user's grant at the provider, the way the provider offers: RFC 7009
// where it has such an endpoint, else its own API (GitHub's grant deletion, a bearer call
// like Dropbox's or Slack's, Twitter's signed invalidate_token, …). ErrNoRevocation when
// it has none.
func (p *Provider) RevokeGrant(ctx context.Context, g Grant) error {
	form := p.revocationForm()
	if form == "" {
		return fmt.Errorf("%s: %w", p, ErrNoRevocation)
	}
	if g.AccessToken == "" && (form != "rfc7009" || g.RefreshToken == "") {
		return fmt.Errorf("%w: %s: no token to revoke", ErrInvalidInput, p)
	}
	return revokers[form](ctx, p, g)
}

// revokeRFC7009 is RFC 7009 §2.1: revoking the refresh token ends the grant, its access
// tokens included (the server SHOULD); without one, the access token is all there is. The
// client authenticates as at the token endpoint.
func revokeRFC7009(ctx context.Context, p *Provider, g Grant) error {
	token, hint := g.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = g.AccessToken, "access_token"
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	switch p.spec.TokenAuth {
	case "post":
		form.Set("client_id", p.args.key)
		form.Set("client_secret", p.args.secret)
	case "none":
		form.Set("client_id", p.args.key)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return p.fail("revoke", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p.spec.TokenAuth == "" || p.spec.TokenAuth == "basic" {
		// RFC 6749 §2.3.1: client credentials form-encoded before HTTP Basic.
		req.SetBasicAuth(url.QueryEscape(p.args.key), url.QueryEscape(p.args.secret))
	}
	_, err = p.revokeCall(ctx, req, g.AccessToken, g.RefreshToken)
	return err
}

// revokeBearer calls an endpoint that takes the access token as its own credential and no
// body: Dropbox's token/revoke, Linear's oauth/revoke, Slack's auth.revoke (which reports
// failure as 200 {"ok":false}; a token it reports as already revoked counts as revoked).
func revokeBearer(ctx context.Context, p *Provider, g Grant, method string) error {
	req, err := http.NewRequestWithContext(ctx, method, p.RevocationURL, http.NoBody)
	if err != nil {
		return p.fail("revoke", err)
	}
	setToken(req, p.spec, g.AccessToken)
	answer, err := p.revokeCall(ctx, req, g.AccessToken)
	if err != nil {
		return err
	}
	var doc map[string]any
	if json.Unmarshal(answer, &doc) == nil && doc != nil {
		if code, isErr := disguisedError(doc); isErr && code != "token_revoked" {
			if code == "" {
				code = "unknown error"
			}
			return p.fail("revoke", &UpstreamError{Status: http.StatusOK, Reason: "answered with an error (" + code + ")"})
		}
	}
	return nil
}

// revokeClientQuery is Todoist's form: DELETE with the app's credentials and the token in
// the query string. The URL never reaches a log or an error of ours (see revokeCall).
func revokeClientQuery(ctx context.Context, p *Provider, g Grant) error {
	u, err := url.Parse(p.RevocationURL)
	if err != nil {
		return p.fail("revoke", err)
	}
	u.RawQuery = url.Values{"client_id": {p.args.key}, "client_secret": {p.args.secret}, "access_token": {g.AccessToken}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u.String(), http.NoBody)
	if err != nil {
		return p.fail("revoke", err)
	}
	_, err = p.revokeCall(ctx, req, g.AccessToken)
	return err
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

// revokeOAuth1 sends a request signed as the user (OAuth 1.0a with the app's consumer secret
// and the user's token secret). Twitter's POST invalidate_token takes access_token and
// access_token_secret as parameters; they go in the signed form body rather than the query
// string, which proxies tend to log. Trello's DELETE /1/tokens/{token} names the token in
// its path.
func revokeOAuth1(ctx context.Context, p *Provider, g Grant, method string) error {
	var body io.Reader = http.NoBody
	u := strings.ReplaceAll(p.RevocationURL, "{token}", url.PathEscape(g.AccessToken))
	if method == http.MethodPost {
		body = strings.NewReader(url.Values{"access_token": {g.AccessToken}, "access_token_secret": {g.AccessTokenSecret}}.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return p.fail("revoke", err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err := p.SignRequest(req, g.AccessToken, g.AccessTokenSecret); err != nil {
		return err
	}
	_, err = p.revokeCall(ctx, req, g.AccessToken, g.AccessTokenSecret)
	return err
}

// revokeCall sends a revocation with the provider's client and deadline and returns the
// answer's body when the status is 2xx. Errors never carry the tokens (secrets) or the URL's
// query.
func (p *Provider) revokeCall(ctx context.Context, req *http.Request, secrets ...string) ([]byte, error) {
	client, cancel := callClient(ctx, p.base, p.timeout)
	defer cancel()
	setHeaders(req, p.spec.Headers)
	resp, err := client.Do(req)
	if err != nil {
		return nil, p.fail("revoke", err, secrets...)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // capped by callTransport
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, p.fail("revoke", err, secrets...)
	}
	// RFC 7009 §2.2: 200 also for a token that was already invalid.
	if resp.StatusCode/100 != 2 {
		return nil, p.fail("revoke", &UpstreamError{Status: resp.StatusCode, Reason: fmt.Sprintf("answered HTTP %d", resp.StatusCode)})
	}
	return body, nil
}
