package oauth1

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Token is a token and its secret (temporary or token credentials), with the other
// parameters of the server's answer (Twitter adds user_id and screen_name).
type Token struct {
	Token, Secret string
	Extra         url.Values
}

// StatusError is a token request the server answered with a status other than 2xx. It
// carries no body: servers echo signed parameters there.
type StatusError struct {
	Step   string // "request token" or "access token"
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("oauth1: %s: server answered HTTP %d", e.Step, e.Status)
}

// MalformedError is a 2xx answer without a token or its secret.
type MalformedError struct{ Step string }

func (e *MalformedError) Error() string {
	return "oauth1: " + e.Step + ": answer lacks oauth_token or oauth_token_secret"
}

// maxAnswer bounds a token answer: a few hundred bytes in practice.
const maxAnswer = 64 << 10

// RequestToken asks for temporary credentials (RFC 5849 §2.1), POST with oauth_callback.
// params are sent in the signed form body (Trello's scope, name and expiration go on the
// authorize URL instead; Twitter takes x_auth_access_type here).
func (s Signer) RequestToken(ctx context.Context, client *http.Client, tokenURL string, c Credentials, callback string, params url.Values) (Token, error) {
	c.Token, c.TokenSecret = "", ""
	return s.tokenRequest(ctx, client, "request token", tokenURL, c, params, [2]string{"oauth_callback", callback})
}

// AccessToken trades the temporary credentials (in c) and the user's verifier for token
// credentials (RFC 5849 §2.3).
func (s Signer) AccessToken(ctx context.Context, client *http.Client, tokenURL string, c Credentials, verifier string) (Token, error) {
	return s.tokenRequest(ctx, client, "access token", tokenURL, c, nil, [2]string{"oauth_verifier", verifier})
}

func (s Signer) tokenRequest(ctx context.Context, client *http.Client, step, tokenURL string, c Credentials, params url.Values, extra [2]string) (Token, error) {
	var body io.Reader = http.NoBody
	if len(params) > 0 {
		body = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, body)
	if err != nil {
		return Token{}, fmt.Errorf("oauth1: %s: %w", step, err)
	}
	if len(params) > 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err := s.Sign(req, c, extra); err != nil {
		return Token{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Token{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return Token{}, err
	}
	if resp.StatusCode/100 != 2 {
		return Token{}, &StatusError{Step: step, Status: resp.StatusCode}
	}
	// §2.1, §2.3: application/x-www-form-urlencoded, whatever Content-Type says (Twitter
	// labels it text/html).
	vals, err := url.ParseQuery(strings.TrimSpace(string(data)))
	if err != nil || vals.Get("oauth_token") == "" || vals.Get("oauth_token_secret") == "" {
		return Token{}, &MalformedError{Step: step}
	}
	t := Token{Token: vals.Get("oauth_token"), Secret: vals.Get("oauth_token_secret"), Extra: vals}
	vals.Del("oauth_token")
	vals.Del("oauth_token_secret")
	return t, nil
}
