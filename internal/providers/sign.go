package providers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/oauthbroker/oauthbroker/internal/oauth1"
)

// SignRequest authorizes req as the identity holding the given tokens, for the API proxy and
// revocations: OAuth 1.0a types get an HMAC-SHA1 Authorization header (RFC 5849 §3, signed
// with this bot's consumer secret and the access token secret, covering the query and a
// form body); OAuth 2 types get "Bearer <accessToken>" (or the header and scheme their entry
// names: Shopify's X-Shopify-Access-Token, Mailchimp's OAuth). Headers the provider requires on
// every call (a Notion-Version, a User-Agent) are added where req has none. req is sent by
// the caller, with any client.
func (p *Provider) SignRequest(req *http.Request, accessToken, accessTokenSecret string) error {
	if accessToken == "" {
		return fmt.Errorf("%w: %s: empty access token", ErrInvalidInput, p)
	}
	for k, v := range p.spec.Headers {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, v)
		}
	}
	if !p.OAuth1 {
		setToken(req, p.spec, accessToken)
		return nil
	}
	err := oauth1.Signer{}.Sign(req, oauth1.Credentials{ConsumerKey: p.args.key, ConsumerSecret: p.args.secret, Token: accessToken, TokenSecret: accessTokenSecret})
	if errors.Is(err, oauth1.ErrFormBody) {
		return fmt.Errorf("%w: %s: form body unreadable or over %d bytes", ErrInvalidInput, p, oauth1.MaxSignedForm)
	}
	return err
}
