package providertest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FollowToCallback plays the browser after Begin: it GETs authURL and follows redirects
// until one points under callbackPrefix (the broker's callback URL, not fetched), and
// returns that callback URL's query. The test fails when the chain ends elsewhere. client
// may be nil; pass one with a RewriteTransport when authURL is a real provider's host.
func FollowToCallback(t testing.TB, client *http.Client, authURL, callbackPrefix string) url.Values {
	t.Helper()
	var callback *url.URL
	c := &http.Client{
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), callbackPrefix) {
				callback = req.URL
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	if client != nil {
		c.Transport = client.Transport
		c.Timeout = client.Timeout
	}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("providertest: GET %s: %v", authURL, err)
	}
	resp.Body.Close()
	if callback == nil {
		t.Fatalf("providertest: %s ended with %d at %s, not at the callback %s", authURL, resp.StatusCode, resp.Request.URL, callbackPrefix)
	}
	return callback.Query()
}
