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
// names: Shopify's X-Shopify-Access-Token, Mailchimp's OAuth). The headers the entry requires
// on every call (Notion-Version, Reddit's User-Agent) replace the bot's: providers.yaml can
// set other values. req is sent by the caller, with any client.
func (p *Provider) SignRequest(req *http.Request, accessToken, accessTokenSecret string) error {
	if accessToken == "" {
		return fmt.Errorf("%w: %s: empty access token", ErrInvalidInput, p)
	}
	setHeaders(req, p.spec.Headers)
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
