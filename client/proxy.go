package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Error codes of the API proxy (ANY /bots/{bot}/identities/{id}/proxy/{path}), which Proxy
// calls. An answer carrying X-OAuthBroker-Identity is the provider's own, whatever its status;
// one without it is the broker's problem+json with one of these codes or those above.
const (
	CodeProxyPathNotAllowed = "proxy_path_not_allowed" // 400: the path could leave the provider's API base
	CodePayloadTooLarge     = "payload_too_large"      // 413: the body is over the broker's server.proxy.max_request_body
	CodeProxyNotConfigured  = "proxy_not_configured"   // 501: the provider has no API base URL; the operator sets api_base_url
	CodeProviderError       = "provider_error"         // 502: the provider could not be reached
	CodeResponseTooLarge    = "response_too_large"     // 502: the provider's answer is over server.proxy.max_response_body
	CodeProviderTimeout     = "provider_timeout"       // 504: the provider did not answer in time
)

// HeaderIdentity marks an answer of the proxy as the provider's own; its value is the
// identity's id.
const HeaderIdentity = "X-OAuthBroker-Identity"

// Proxy calls the identity's provider as the user, through the broker
// (method /bots/{bot}/identities/{id}/proxy/{path}): the broker signs or authenticates the
// request with the identity's tokens, refreshing them first where needed, so the bot never
// holds them. path is relative to the provider's API base, with its query and its escapes as
// they are to be sent, e.g. "user/repos?per_page=50" or "1.1/statuses/update.json"; the broker
// decides which paths it allows (CodeProxyPathNotAllowed), this method only refuses an empty
// method and a path with a scheme, a host or a leading slash. body may be nil; header adds the
// request's headers (Content-Type, Accept, If-None-Match…; the broker forwards a short list
// and never Authorization or Cookie, and Proxy sets Authorization to the bot's key).
//
// When the answer is the provider's (it carries HeaderIdentity), Proxy returns it whatever its
// status: a 404 or 429 of the provider is a response, not an error. The caller reads and closes
// its body. Redirects are not followed: a 3xx comes back as the response (a Location inside
// the API base already points back into the proxy). When the broker itself refused the call,
// Proxy returns an *Error (Code, RetryAfter) and no response.
func (c *Client) Proxy(ctx context.Context, identityID int64, method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	if method == "" {
		return nil, errors.New("client: Proxy needs a method")
	}
	if err := checkProxyPath(path); err != nil {
		return nil, err
	}
	route := "/identities/" + strconv.FormatInt(identityID, 10) + "/proxy/" + path
	req, err := http.NewRequestWithContext(ctx, method, c.base+route, body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.userAg)
	}
	hc := *c.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("client: %s %s: %w", method, strings.TrimPrefix(c.base+route, c.root), err)
	}
	if resp.Header.Get(HeaderIdentity) != "" {
		return resp, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: reading the answer: %w", method, strings.TrimPrefix(c.base+route, c.root), err)
	}
	return nil, errorOf(resp, data)
}

// checkProxyPath refuses what cannot be a path relative to the provider's API base. The
// broker checks the rest (dot segments, encoded slashes, control characters…).
func checkProxyPath(path string) error {
	u, err := url.Parse(path)
	switch {
	case err != nil:
		return fmt.Errorf("client: proxy path %q: %w", path, err)
	case u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(path, "/"):
		return fmt.Errorf("client: proxy path %q must be relative to the provider's API base, without a scheme, host or leading slash", path)
	case u.Fragment != "":
		return fmt.Errorf("client: proxy path %q has a #fragment", path)
	}
	return nil
}
