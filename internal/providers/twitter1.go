package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/markbates/goth"
	"github.com/mrjones/oauth"
	"golang.org/x/oauth2"
)

// twitterProvider is our own goth.Provider for the twitter and twitterv2 types (OAuth 1.0a).
// goth's own twitter packages cannot be used safely: their mrjones/oauth consumer is built
// with &http.Client{} (no timeout, no way to inject ours), their URLs are unexported
// package variables (no fake, no self-hosted endpoint), FetchUser panics on any `null`
// profile field, and Authorize panics on a session without a request token. This one takes
// its URLs and client from the config, checks every field it reads, and is otherwise used
// by the broker exactly like any goth provider.
type twitterProvider struct {
	name        string
	v2          bool // profile from /2/users/me instead of /1.1/account/verify_credentials.json
	callbackURL string
	profileURL  string
	consumer    *oauth.Consumer
}

// Twitter's real endpoints; config endpoints override each one.
const (
	twitterRequestTokenURL = "https://api.twitter.com/oauth/request_token"
	twitterAuthorizeURL    = "https://api.twitter.com/oauth/authorize"
	twitterAccessTokenURL  = "https://api.twitter.com/oauth/access_token"
	twitterProfileV1       = "https://api.twitter.com/1.1/account/verify_credentials.json"
	twitterProfileV2       = "https://api.twitter.com/2/users/me"
)

func newTwitterProvider(a *buildArgs, v2 bool) *twitterProvider {
	profile := twitterProfileV1
	if v2 {
		profile = twitterProfileV2
	}
	sp := oauth.ServiceProvider{
		RequestTokenUrl:   or(a.endpoints.RequestTokenURL, twitterRequestTokenURL),
		AuthorizeTokenUrl: or(a.endpoints.AuthURL, twitterAuthorizeURL),
		AccessTokenUrl:    or(a.endpoints.TokenURL, twitterAccessTokenURL),
		// Twitter requires POST for both token requests (mrjones defaults to GET).
		HttpMethod: http.MethodPost,
	}
	return &twitterProvider{
		name:        "twitter",
		v2:          v2,
		callbackURL: a.callbackURL,
		profileURL:  or(a.endpoints.ProfileURL, profile),
		consumer:    oauth.NewCustomHttpClientConsumer(a.key, a.secret, sp, a.client),
	}
}

func (p *twitterProvider) Name() string                { return p.name }
func (p *twitterProvider) SetName(name string)         { p.name = name }
func (p *twitterProvider) Debug(bool)                  {}
func (p *twitterProvider) RefreshTokenAvailable() bool { return false }

func (p *twitterProvider) RefreshToken(string) (*oauth2.Token, error) {
	return nil, errors.New("OAuth 1.0a tokens do not expire and cannot be refreshed")
}

// BeginAuth fetches a request token. Twitter has no `state`: the broker binds the flow to
// the browser with the request token instead (RequestToken, and the callback's oauth_token).
func (p *twitterProvider) BeginAuth(string) (goth.Session, error) {
	rt, authURL, err := p.consumer.GetRequestTokenAndUrl(p.callbackURL)
	if err != nil {
		return nil, upstream("request token", err)
	}
	if rt == nil || rt.Token == "" || rt.Secret == "" {
		return nil, &UpstreamError{Step: "request token", Reason: "empty request token"}
	}
	return &twitterSession{AuthURL: authURL, RequestToken: rt}, nil
}

func (p *twitterProvider) UnmarshalSession(data string) (goth.Session, error) {
	s := &twitterSession{}
	err := json.Unmarshal([]byte(data), s)
	return s, err
}

func (p *twitterProvider) FetchUser(session goth.Session) (goth.User, error) {
	s, ok := session.(*twitterSession)
	if !ok || s.AccessToken == nil || s.AccessToken.Token == "" {
		return goth.User{}, errors.New("twitter: no access token in the session")
	}
	query := map[string]string{"include_entities": "false", "skip_status": "true", "include_email": "true"}
	if p.v2 {
		query = map[string]string{"user.fields": "id,name,username,description,profile_image_url,location"}
	}
	resp, err := p.consumer.Get(p.profileURL, query, s.AccessToken)
	if err != nil {
		// Non-2xx arrives as oauth.HTTPExecuteError, already closed.
		return goth.User{}, upstream("profile", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return goth.User{}, upstream("profile", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return goth.User{}, &UpstreamError{Step: "profile", Status: resp.StatusCode, Reason: "profile is not a JSON object"}
	}
	u := goth.User{
		Provider:          p.name,
		AccessToken:       s.AccessToken.Token,
		AccessTokenSecret: s.AccessToken.Secret,
	}
	if p.v2 {
		// {"data":{"id","name","username",…}}; errors come as {"errors":[…]} without data.
		data, _ := raw["data"].(map[string]any)
		u.RawData = data
		u.UserID = str(data, "id")
		u.NickName = str(data, "username")
	} else {
		u.RawData = raw
		u.UserID = str(raw, "id_str")
		u.NickName = str(raw, "screen_name")
		u.Email = str(raw, "email")
	}
	u.Name = str(u.RawData, "name")
	u.Description = str(u.RawData, "description")
	u.Location = str(u.RawData, "location")
	u.AvatarURL = or(str(u.RawData, "profile_image_url_https"), str(u.RawData, "profile_image_url"))
	if u.UserID == "" {
		return goth.User{}, &UpstreamError{Step: "profile", Status: resp.StatusCode, Reason: "profile has no user id"}
	}
	return u, nil
}

// str reads a string field; null, absent or another JSON type is "" (goth's own twitter
// provider panics on all three).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// twitterSession is the flow state between BeginAuth and the callback. It holds the
// request token secret, so the broker keeps it server-side or encrypted.
type twitterSession struct {
	AuthURL      string
	RequestToken *oauth.RequestToken
	AccessToken  *oauth.AccessToken `json:",omitempty"`
}

func (s *twitterSession) GetAuthURL() (string, error) {
	if s.AuthURL == "" {
		return "", errors.New(goth.NoAuthUrlErrorMessage)
	}
	return s.AuthURL, nil
}

func (s *twitterSession) Marshal() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Authorize trades the request token and the user's verifier for an access token
// (RFC 5849 §2.3).
func (s *twitterSession) Authorize(provider goth.Provider, params goth.Params) (string, error) {
	p, ok := provider.(*twitterProvider)
	if !ok {
		return "", fmt.Errorf("twitter session used with a %T", provider)
	}
	if s.RequestToken == nil || s.RequestToken.Token == "" {
		return "", errors.New("twitter: no request token in the session")
	}
	verifier := params.Get("oauth_verifier")
	if verifier == "" {
		return "", errors.New("twitter: no oauth_verifier")
	}
	at, err := p.consumer.AuthorizeToken(s.RequestToken, verifier)
	if err != nil {
		return "", upstream("access token", err, s.RequestToken.Secret, verifier)
	}
	if at == nil || at.Token == "" || at.Secret == "" {
		return "", &UpstreamError{Step: "access token", Reason: "malformed token response"}
	}
	s.AccessToken = at
	return at.Token, nil
}
