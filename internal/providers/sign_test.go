package providers

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/providertest"
)

// The signer must reproduce RFC 5849's examples exactly. oauth1Signature returns only the
// signature, so the base string is checked through it: the test computes HMAC-SHA1 of the
// RFC's base string itself (§3.4.2, with secrets that need no encoding) and compares.
// providertest's TestVerifierRFC5849Vectors holds the fake's verifier, which shares no
// code with this signer, to the same vectors.
func TestSignerRFC5849Vectors(t *testing.T) {
	for _, v := range providertest.RFC5849Vectors {
		t.Run(v.Name, func(t *testing.T) {
			u, err := url.Parse(v.URL)
			if err != nil {
				t.Fatal(err)
			}
			cs, ts := "client-secret", "token-secret"
			mac := hmac.New(sha1.New, []byte(cs+"&"+ts))
			mac.Write([]byte(v.BaseString))
			if got, want := oauth1Signature(v.Method, u, v.Params, cs, ts), base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
				t.Errorf("signature %s, want %s: the signer's base string differs from the RFC's\n%s", got, want, v.BaseString)
			}
			if v.Signature != "" {
				if got := oauth1Signature(v.Method, u, v.Params, v.ClientSecret, v.TokenSecret); got != v.Signature {
					t.Errorf("signature %s, want the RFC's %s", got, v.Signature)
				}
			}
		})
	}
}
