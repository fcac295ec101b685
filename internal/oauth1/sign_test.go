package oauth1_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/oauth1"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
)

// The signer must reproduce RFC 5849's examples exactly. The test computes HMAC-SHA1 of the
// RFC's base string itself (§3.4.2, with secrets that need no encoding) and compares, so a
// wrong base string shows as a wrong signature; where the RFC prints a signature its
// secrets reproduce, that one must come out too. providertest's TestVerifierRFC5849Vectors
// holds the fakes' verifier, which shares no code with this signer, to the same vectors.
func TestSignerRFC5849Vectors(t *testing.T) {
	for _, v := range providertest.RFC5849Vectors {
		t.Run(v.Name, func(t *testing.T) {
			u, err := url.Parse(v.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := oauth1.BaseString(v.Method, u, v.Params); got != v.BaseString {
				t.Errorf("base string\n got %s\nwant %s", got, v.BaseString)
			}
			cs, ts := "client-secret", "token-secret"
			mac := hmac.New(sha1.New, []byte(cs+"&"+ts))
			mac.Write([]byte(v.BaseString))
			if got, want := oauth1.Signature(v.Method, u, v.Params, cs, ts), base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
				t.Errorf("signature %s, want %s", got, want)
			}
			if v.Signature != "" {
				if got := oauth1.Signature(v.Method, u, v.Params, v.ClientSecret, v.TokenSecret); got != v.Signature {
					t.Errorf("signature %s, want the RFC's %s", got, v.Signature)
				}
			}
		})
	}
}

// Sign, from a whole request: §1.2's example with its timestamp and nonce gives the RFC's
// header signature, collected from the query as the request carries it.
func TestSignRequestRFC5849(t *testing.T) {
	v := providertest.RFC5849Vectors[1]
	req := httptest.NewRequest(v.Method, v.URL, nil)
	s := oauth1.Signer{Now: func() time.Time { return time.Unix(137131202, 0) }, Nonce: func() string { return "chapoH" }}
	// The RFC's request has no oauth_version; ours always sends "1.0", so the signature
	// differs from the printed one and is checked against the RFC's base string plus it.
	if err := s.Sign(req, oauth1.Credentials{ConsumerKey: "dpf43f3p2l4k3l03", ConsumerSecret: v.ClientSecret, Token: "nnch734d00sl2jdk", TokenSecret: v.TokenSecret}); err != nil {
		t.Fatal(err)
	}
	h := req.Header.Get("Authorization")
	params := append(append([][2]string(nil), v.Params...), [2]string{"oauth_version", "1.0"})
	want := oauth1.PercentEncode(oauth1.Signature(v.Method, req.URL, params, v.ClientSecret, v.TokenSecret))
	if !strings.HasPrefix(h, "OAuth ") || !strings.Contains(h, `oauth_signature="`+want+`"`) || !strings.Contains(h, `oauth_nonce="chapoH"`) {
		t.Fatalf("Authorization %s, want signature %s", h, want)
	}
}

// A form body is signed and stays readable for the client that sends it.
func TestSignFormBody(t *testing.T) {
	body := "status=Hello%2C+world%21+%E2%98%BA+100%25"
	req, _ := http.NewRequest("POST", "https://api.example/1/update", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := (oauth1.Signer{}).Sign(req, oauth1.Credentials{ConsumerKey: "ck", ConsumerSecret: "cs", Token: "t", TokenSecret: "ts"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rd, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(rd); string(got) != body {
			t.Fatalf("body after signing %q, want %q", got, body)
		}
	}
	big, _ := http.NewRequest("POST", "https://api.example/1/update", strings.NewReader("a="+strings.Repeat("x", oauth1.MaxSignedForm)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := (oauth1.Signer{}).Sign(big, oauth1.Credentials{}); err != oauth1.ErrFormBody {
		t.Fatalf("Sign of an oversized form: %v, want ErrFormBody", err)
	}
}

// Every byte comes out as §3.6 says: unreserved characters as they are, all others as
// upper-case %XX. The reference is the standard library's query escaping, which shares the
// unreserved set and differs only in writing a space as '+'.
func TestPercentEncodeEveryByte(t *testing.T) {
	all := make([]byte, 0, 256)
	for c := range 256 {
		all = append(all, byte(c))
		s := string([]byte{byte(c)})
		if got, want := oauth1.PercentEncode(s), strings.ReplaceAll(url.QueryEscape(s), "+", "%20"); got != want {
			t.Errorf("byte %#x: %q, want %q", c, got, want)
		}
	}
	for _, s := range []string{"", "plain-._~AZaz09", string(all), "a b&c=d%e☺"} {
		if got, want := oauth1.PercentEncode(s), strings.ReplaceAll(url.QueryEscape(s), "+", "%20"); got != want {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
	}
}

// One signed request of a link flow's shape: the access-token call with its verifier.
func BenchmarkSign(b *testing.B) {
	s := oauth1.Signer{}
	c := oauth1.Credentials{ConsumerKey: "xvz1evFS4wEEPTGEFPHBog", ConsumerSecret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
		Token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", TokenSecret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"}
	for b.Loop() {
		req, _ := http.NewRequest("POST", "https://api.twitter.example/oauth/access_token?oauth_verifier=uw7NjWHT6OJ1MpJOXsHfNxoAhPKpgI8BlYDhxEjIBY", nil)
		if err := s.Sign(req, c); err != nil {
			b.Fatal(err)
		}
	}
}
