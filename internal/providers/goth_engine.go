package providers

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/markbates/goth"
	"golang.org/x/oauth2"
)

// gothEngine runs a goth-backed type: a fresh goth provider per operation (built from the
// configuration, with our client and name), without gothic or goth's global registry.
type gothEngine struct{ k *gothKind }

func (e gothEngine) provider(c *call) (goth.Provider, error) {
	var gp goth.Provider
	err := guard("build", func() error {
		var err error
		gp, err = e.k.build(c.args)
		return err
	})
	if err != nil {
		return nil, err
	}
	injectHTTPClient(gp, c.client)
	gp.SetName(c.p.Name)
	return gp, nil
}

// begin starts goth's flow; a code challenge is added to goth's auth URL (the types with
// PKCE in their record are those whose goth session sends our code_verifier).
func (e gothEngine) begin(c *call, state, codeChallenge string) (authURL, session string, err error) {
	gp, err := e.provider(c)
	if err != nil {
		return "", "", err
	}
	err = guard("begin", func() error {
		sess, err := gp.BeginAuth(state)
		if err != nil {
			return err
		}
		if authURL, err = sess.GetAuthURL(); err != nil {
			return err
		}
		session = sess.Marshal()
		return nil
	})
	if err != nil || codeChallenge == "" {
		return authURL, session, err
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return "", "", err
	}
	q := u.Query()
	q.Set("code_challenge", codeChallenge)
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String(), session, nil
}

func (e gothEngine) complete(c *call, session string, in CallbackInput) (User, error) {
	gp, err := e.provider(c)
	if err != nil {
		return User{}, err
	}
	sess, err := gp.UnmarshalSession(session)
	if err != nil {
		return User{}, fmt.Errorf("%w: unreadable session", ErrInvalidInput)
	}
	params := url.Values{"code": {in.Code}}
	if in.CodeVerifier != "" {
		params.Set("code_verifier", in.CodeVerifier)
	}
	step := "exchange"
	var u goth.User
	err = guard(step, func() error {
		token, err := sess.Authorize(gp, params)
		c.secrets = append(c.secrets, token)
		if err != nil {
			return err
		}
		step = "profile"
		if e.k.beforeProfile != nil {
			e.k.beforeProfile(gp, sess)
		}
		u, err = gp.FetchUser(sess)
		c.secrets = append(c.secrets, u.AccessToken, u.AccessTokenSecret, u.RefreshToken, u.IDToken)
		return err
	})
	if err != nil {
		return User{}, upstream(step, err)
	}
	id := u.UserID
	if c.p.record.NumericID && id == "0" {
		// goth decodes the id into an integer and formats it: a profile whose id is null or
		// missing (or a body that is just `null`) comes out as "0" with no error. That is no
		// account at all; storing it would merge every broken profile into one identity "0".
		id = ""
	}
	return User{
		ID: id, Name: u.Name, NickName: u.NickName, Email: u.Email, AvatarURL: u.AvatarURL,
		AccessToken: u.AccessToken, AccessTokenSecret: u.AccessTokenSecret, RefreshToken: u.RefreshToken,
		ExpiresAt: u.ExpiresAt, Scopes: c.granted(c.tap.scope()),
	}, nil
}

func (e gothEngine) refresh(c *call, refreshToken string) (*oauth2.Token, error) {
	if e.k.refresh != nil {
		return e.k.refresh(c.ctx, c.args, refreshToken)
	}
	gp, err := e.provider(c)
	if err != nil {
		return nil, err
	}
	return gp.RefreshToken(refreshToken)
}

// scopeTap keeps the `scope` of the code exchange's answer, which goth drops: the only way
// to learn what a user granted through a goth provider (Google's consent screen lets users
// untick scopes). It watches the one request with grant_type=authorization_code.
type scopeTap struct {
	mu       sync.Mutex
	answered bool
	scopes   []string
}

func (t *scopeTap) watch(req *http.Request, resp *http.Response) {
	if t == nil || req.Method != http.MethodPost || req.GetBody == nil {
		return
	}
	body, err := req.GetBody()
	if err != nil {
		return
	}
	form, err := io.ReadAll(io.LimitReader(body, 64<<10))
	if err != nil {
		return
	}
	if vals, err := url.ParseQuery(string(form)); err != nil || vals.Get("grant_type") != "authorization_code" {
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	if err != nil {
		return
	}
	scopes, ok := answerScopes(answer, resp.Header.Get("Content-Type"))
	t.mu.Lock()
	t.answered, t.scopes = ok, scopes
	t.mu.Unlock()
}

// scope returns what the exchange's answer granted; ok is false when it said nothing.
func (t *scopeTap) scope() (scopes []string, ok bool) {
	if t == nil {
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.scopes, t.answered
}
