package sandbox_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/markbates/goth/providers/openidConnect"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// idClaims is what the tests read from an ID token.
type idClaims struct {
	jwt.Claims
	AuthorizedParty   string `json:"azp"`
	Nonce             string `json:"nonce"`
	AccessTokenHash   string `json:"at_hash"`
	Email             string `json:"email"`
	EmailVerified     bool   `json:"email_verified"`
	Name              string `json:"name"`
	GivenName         string `json:"given_name"`
	PreferredUsername string `json:"preferred_username"`
}

func (f *fixture) getJSON(path string, v any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.base+path, nil)
	resp := f.do(http.DefaultClient, req)
	if resp.status != http.StatusOK {
		f.t.Fatalf("GET %s: status %d: %s", path, resp.status, resp.body)
	}
	if err := json.Unmarshal([]byte(resp.body), v); err != nil {
		f.t.Fatalf("GET %s: %v\n%s", path, err, resp.body)
	}
}

// verifyIDToken checks raw's RS256 signature with the key /jwks publishes, using go-jose
// rather than anything of the sandbox's, and returns its claims.
func (f *fixture) verifyIDToken(raw string) idClaims {
	f.t.Helper()
	var set jose.JSONWebKeySet
	f.getJSON("/jwks", &set)
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		f.t.Fatalf("ID token %q: %v", raw, err)
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		f.t.Fatalf("ID token headers %+v: want one signature with a kid", tok.Headers)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 || keys[0].Use != "sig" || keys[0].Algorithm != "RS256" || !keys[0].IsPublic() {
		f.t.Fatalf("JWKS %+v has no public RS256 signing key %q", set, tok.Headers[0].KeyID)
	}
	var c idClaims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		f.t.Fatalf("ID token signature: %v", err)
	}
	return c
}

func TestDiscovery(t *testing.T) {
	for _, tt := range []struct{ name, issuer, want string }{
		{"issuer from the request", "", ""},
		{"issuer option", "https://accounts.google.com", "https://accounts.google.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *sandbox.Options) { o.Issuer = tt.issuer })
			var d map[string]any
			f.getJSON("/.well-known/openid-configuration", &d)
			want := tt.want
			if want == "" {
				want = f.base // http://127.0.0.1:port/sandbox: scheme, Host and the prefix
			}
			if d["issuer"] != want {
				t.Errorf("issuer %v, want %s", d["issuer"], want)
			}
			// The endpoints are where the document was fetched, whatever the issuer says.
			for k, path := range map[string]string{"authorization_endpoint": "/authorize", "token_endpoint": "/token",
				"userinfo_endpoint": "/v1/userinfo", "jwks_uri": "/jwks", "revocation_endpoint": "/revoke"} {
				if d[k] != f.base+path {
					t.Errorf("%s = %v, want %s", k, d[k], f.base+path)
				}
			}
			if algs, _ := d["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "RS256" {
				t.Errorf("signing algorithms %v, want [RS256]", algs)
			}
		})
	}
}

func TestIDToken(t *testing.T) {
	f := autoFixture(t, nil)
	q := authParams("scope", "openid email profile", "nonce", "n-0S6_WzA2Mj")
	status, body := f.tokenCall(exchangeForm(f.autoCode(q)))
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, body)
	}
	raw, _ := body["id_token"].(string)
	if g := f.srv.Issued(); len(g) != 1 || g[0].IDToken != raw || raw == "" {
		t.Fatalf("answer's id_token %q, Issued() %+v", raw, g)
	}
	c := f.verifyIDToken(raw)
	now := f.clock.Now()
	if err := c.Validate(jwt.Expected{Issuer: f.base, Subject: ada.ID, AnyAudience: jwt.Audience{appID}, Time: now}); err != nil {
		t.Errorf("claims %+v: %v", c, err)
	}
	if !c.Expiry.Time().Equal(now.Add(time.Hour)) || !c.IssuedAt.Time().Equal(now) {
		t.Errorf("exp %v iat %v, want an hour from %v and %v", c.Expiry.Time(), c.IssuedAt.Time(), now, now)
	}
	// OIDC Core §3.1.3.6: at_hash is the left half of the access token's SHA-256.
	sum := sha256.Sum256([]byte(body["access_token"].(string)))
	if want := base64.RawURLEncoding.EncodeToString(sum[:16]); c.AccessTokenHash != want {
		t.Errorf("at_hash %q, want %q", c.AccessTokenHash, want)
	}
	if c.AuthorizedParty != appID || c.Nonce != "n-0S6_WzA2Mj" || c.Email != ada.Email || !c.EmailVerified ||
		c.Name != ada.Name || c.GivenName != "Ada" || c.PreferredUsername != ada.Login {
		t.Errorf("claims %+v: want azp, the nonce, and the email and profile claims", c)
	}

	t.Run("a changed payload fails verification", func(t *testing.T) {
		parts := strings.Split(raw, ".")
		forged, _ := json.Marshal(map[string]any{"iss": f.base, "sub": grace.ID, "aud": appID, "exp": now.Add(time.Hour).Unix()})
		parts[1] = base64.RawURLEncoding.EncodeToString(forged)
		tok, err := jwt.ParseSigned(strings.Join(parts, "."), []jose.SignatureAlgorithm{jose.RS256})
		var set jose.JSONWebKeySet
		f.getJSON("/jwks", &set)
		if err == nil {
			err = tok.Claims(set.Keys[0].Key, &idClaims{})
		}
		if err == nil {
			t.Fatal("a forged payload verified")
		}
	})
	t.Run("refresh brings a new ID token without the nonce", func(t *testing.T) {
		f.clock.Advance(time.Minute)
		status, body := f.tokenCall(refreshForm(f.srv.Issued()[0].RefreshToken))
		if status != http.StatusOK {
			t.Fatalf("refresh: %d %v", status, body)
		}
		c := f.verifyIDToken(body["id_token"].(string))
		if c.Subject != ada.ID || c.Nonce != "" || !c.IssuedAt.Time().Equal(f.clock.Now()) {
			t.Fatalf("refreshed claims %+v", c)
		}
	})
	t.Run("scope openid alone: no email or profile claims", func(t *testing.T) {
		_, body := f.tokenCall(exchangeForm(f.autoCode(authParams("scope", "openid"))))
		if c := f.verifyIDToken(body["id_token"].(string)); c.Email != "" || c.Name != "" || c.Subject != ada.ID {
			t.Fatalf("claims %+v", c)
		}
	})
	t.Run("no openid, no ID token", func(t *testing.T) {
		_, body := f.tokenCall(exchangeForm(f.autoCode(authParams())))
		if _, ok := body["id_token"]; ok {
			t.Fatalf("answer %v has an id_token without scope openid", body)
		}
	})
}

func TestIssuerOption(t *testing.T) {
	for _, iss := range []string{"https://accounts.google.com", "accounts.google.com", "http://127.0.0.1:9/tenant"} {
		t.Run(iss, func(t *testing.T) {
			f := autoFixture(t, func(o *sandbox.Options) { o.Issuer = iss })
			_, body := f.tokenCall(exchangeForm(f.autoCode(authParams("scope", "openid"))))
			if c := f.verifyIDToken(body["id_token"].(string)); c.Issuer != iss {
				t.Fatalf("iss %q, want %q", c.Issuer, iss)
			}
		})
	}
	for _, bad := range []string{"https://idp.example/?tenant=1", "https://idp.example/#x", "ftp://idp.example", "not an issuer", "localhost"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			if _, err := sandbox.New(sandbox.Options{Users: []sandbox.User{ada}, Issuer: bad}); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

// goth's openid-connect provider, configured by discovery, against the sandbox: it checks
// the ID token's iss, aud and exp against time.Now, so this fixture keeps the real clock.
func TestGothOpenIDConnect(t *testing.T) {
	f := autoFixture(t, func(o *sandbox.Options) { o.Now = time.Now })
	p, err := openidConnect.New(appID, appSecret, appCallback, f.base+"/.well-known/openid-configuration", "email", "profile")
	if err != nil {
		t.Fatalf("openidConnect.New: %v", err)
	}
	p.HTTPClient = f.ts.Client()
	sess := gothFlow(t, f, p)
	user, err := p.FetchUser(sess)
	if err != nil {
		t.Fatalf("FetchUser: %v", err)
	}
	g := f.srv.Issued()
	if len(g) != 1 || user.IDToken != g[0].IDToken || user.AccessToken != g[0].AccessToken || user.RefreshToken != g[0].RefreshToken {
		t.Fatalf("goth.User %+v, Issued() %+v", user, g)
	}
	if user.UserID != ada.ID || user.Email != ada.Email || user.Name != ada.Name || user.NickName != ada.Login || user.AvatarURL != ada.AvatarURL {
		t.Fatalf("goth.User = %+v", user)
	}
	if got := strings.Join(g[0].Scopes, " "); got != "email profile openid" {
		t.Errorf("granted scope %q", got)
	}
}

// Mounted at the root and reached as https://accounts.google.com through a host rewrite,
// the sandbox names Google's issuer and endpoints at the Host the request carried.
func TestDiscoveryAtRoot(t *testing.T) {
	srv, err := sandbox.New(sandbox.Options{Users: []sandbox.User{ada}, Issuer: "https://accounts.google.com"})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/.well-known/openid-configuration", nil))
	var d struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		JWKSURI       string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || w.Code != http.StatusOK {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	if d.Issuer != "https://accounts.google.com" || d.TokenEndpoint != "http://127.0.0.1:8080/token" || d.JWKSURI != "http://127.0.0.1:8080/jwks" {
		t.Fatalf("discovery %+v", d)
	}
}
