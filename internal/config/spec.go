package config

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Spec describes how the broker talks to one provider with its own OAuth implementations:
// the fields of `type: oauth2` (and `type: oauth1`) in providers.yaml, of every entry of the
// provider catalog, and of the overrides a catalog type accepts. An empty string, a nil map
// or list and a nil PKCE mean "not given": an override then keeps the catalog's value.
// docs/PROVIDERS.md and README.md describe each field for operators.
type Spec struct {
	RequestTokenURL string // OAuth 1.0a: where temporary credentials come from
	AuthURL         string
	TokenURL        string
	RefreshURL      string            // where refresh_token grants go when not token_url (Figma)
	UserInfoURL     string            // refresh_url, userinfo_url and revocation_url may be paths on token_url's host
	UserInfoMethod  string            // GET (default) | POST
	UserInfoBody    string            // a JSON body for POST, e.g. a GraphQL query
	UserInfoParams  map[string]string // query parameters of the userinfo request
	Profile         Profile
	TokenAuth       string // basic | post | none: how the client authenticates at the token endpoint
	TokenHeader     string // where API calls carry the access token; default Authorization
	TokenScheme     string // the Authorization scheme before it; default Bearer
	PKCE            *bool  // S256; nil: the default (on)
	ScopeSeparator  string // between scopes in the authorization request; default " "
	ScopeParam      string // the authorization request's scope parameter; default "scope"
	AuthParams      map[string]string
	TokenParams     map[string]string
	Headers         map[string]string // sent on every call to the provider, proxied calls too
	TokenPath       string            // JSON pointer to the object holding the tokens (Slack: /authed_user)
	Refresh         string            // none | yes | rotating
	RevocationURL   string
	Revocation      string // one of RevocationForms; default rfc7009 when revocation_url is set
	APIBaseURL      string // catalog only: providers.yaml sets api_base_url on the provider
	GrantedScopes   string // answer (default) | requested
	ScopeAliases    map[string]string
	UnlistedScopes  []string
	IDTokenIssuer   string
}

// Profile maps the provider's answers to an identity's fields by JSON pointer (RFC 6901).
type Profile struct {
	From                                 string // userinfo (default) | token | id_token
	ID, Name, NickName, Email, AvatarURL string
}

// Values of the enumerated Spec fields.
const (
	RefreshNone     = "none"
	RefreshYes      = "yes"
	RefreshRotating = "rotating"

	ProfileFromUserInfo = "userinfo"
	ProfileFromToken    = "token"
	ProfileFromIDToken  = "id_token"

	GrantedFromAnswer = "answer"
	GrantedRequested  = "requested"
)

// RevocationForms are the ways the broker can end a grant at a provider, by the name a
// Spec's revocation field gives them:
//   - rfc7009: RFC 7009, the client authenticated as at the token endpoint (token_auth)
//   - bearer: POST to revocation_url with the access token as a Bearer credential and no body
//     (Dropbox, Linear, Slack's auth.revoke)
//   - bearer-delete: the same with DELETE (Zendesk's current token)
//   - client-query: DELETE with client_id, client_secret and access_token in the query (Todoist)
//   - github-grant: GitHub's DELETE /applications/{client_id}/grant on the API base
//   - oauth1: a POST signed as the user (Twitter's invalidate_token)
//   - oauth1-delete: DELETE revocation_url with {token} replaced, signed as the user (Trello)
var RevocationForms = []string{"rfc7009", "bearer", "bearer-delete", "client-query", "github-grant", "oauth1", "oauth1-delete"}

// specKeys are Spec's keys in YAML, in the order messages list them.
var specKeys = []string{
	"request_token_url", "auth_url", "token_url", "refresh_url", "userinfo_url", "userinfo_method", "userinfo_body", "userinfo_params", "profile",
	"token_auth", "token_header", "token_scheme", "pkce", "scope_separator", "scope_param", "auth_params", "token_params", "headers", "token_path",
	"refresh", "revocation_url", "revocation", "granted_scopes", "scope_aliases", "unlisted_scopes", "id_token_issuer",
}

// SpecUse says what a provider type does with the fields of Spec.
type SpecUse int

const (
	// SpecNone: a goth type; its URLs, if any, go under endpoints.
	SpecNone SpecUse = iota
	// SpecOverride: a catalog type; each field given replaces the catalog entry's.
	SpecOverride
	// SpecWhole: `oauth2` or `oauth1`: the fields are the whole description.
	SpecWhole
)

// placeholder is a {name} in a catalog or oauth2 URL or parameter, filled from options.
var placeholder = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

// placeholderValue is what an option filling a placeholder may hold: a host label, a tenant id
// or a domain. Nothing that could end the host or start a path, query or userinfo, so a value
// can never send the client's secret to another host.
var placeholderValue = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$`)

// Placeholders not filled from options: {client_id} is the provider's client id (Twitch
// and Etsy want it in a header of every API call); {token} in revocation_url is the token
// being revoked (Trello's DELETE /1/tokens/{token}).
const (
	ClientIDPlaceholder = "client_id"
	TokenPlaceholder    = "token"
)

// Placeholders returns the {names} used in the spec's URLs, parameters and headers that
// options fill, sorted.
func (s Spec) Placeholders() []string {
	var out []string
	add := func(v string) {
		for _, m := range placeholder.FindAllStringSubmatch(v, -1) {
			if m[1] != ClientIDPlaceholder && m[1] != TokenPlaceholder && !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	for _, v := range []string{s.RequestTokenURL, s.AuthURL, s.TokenURL, s.RefreshURL, s.UserInfoURL, s.RevocationURL, s.APIBaseURL, s.IDTokenIssuer} {
		add(v)
	}
	for _, m := range []map[string]string{s.AuthParams, s.TokenParams, s.UserInfoParams, s.Headers} {
		for _, v := range m {
			add(v)
		}
	}
	slices.Sort(out)
	return out
}

// ValidPlaceholderValue reports whether v may fill a {placeholder}.
func ValidPlaceholderValue(v string) bool { return placeholderValue.MatchString(v) }

var (
	paramName        = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)
	badPointerEscape = regexp.MustCompile(`~[^01]|~$`)
)

// reserved are the parameters the broker sends itself; a spec must not set them.
var (
	reservedAuthParams  = []string{"client_id", "redirect_uri", "state", "response_type", "code_challenge", "code_challenge_method", "scope", "oauth_token"}
	reservedTokenParams = []string{"grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier", "refresh_token"}
	reservedHeaders     = []string{"Authorization", "Content-Type", "Content-Length", "Host", "Cookie", "Accept-Encoding", "Transfer-Encoding"}
)

// specFields reads the Spec keys of o. whole makes the fields an `oauth2`/`oauth1` entry
// cannot do without required; oauth1 refuses what OAuth 1.0a has no use for. Problems are
// reported once per field, on its line.
func (p *parser) specFields(o *object, whole, oauth1 bool) Spec {
	var s Spec
	// relative: the endpoint may be given as a path on token_url's host (see Spec).
	url := func(key string, out *string, need, relative bool) {
		v := p.str(o, key)
		if need && !p.required(v, "an absolute https URL") {
			return
		}
		switch {
		case !given(v):
		case relative && strings.HasPrefix(v.s, "/") && !strings.HasPrefix(v.s, "//"):
			if strings.ContainsAny(v.s, " ?#") {
				p.problem(v.line, v.field, "must be a path like /oauth/revoke, without a query")
			} else {
				*out = v.s
			}
		case p.templateURL(v):
			*out = v.s
		}
	}
	url("request_token_url", &s.RequestTokenURL, whole && oauth1, false)
	url("auth_url", &s.AuthURL, whole, false)
	url("token_url", &s.TokenURL, whole, false)
	url("refresh_url", &s.RefreshURL, false, true)
	url("revocation_url", &s.RevocationURL, false, true)
	s.Profile = p.profile(o, whole)
	fromAnswer := s.Profile.From == ProfileFromToken || s.Profile.From == ProfileFromIDToken
	url("userinfo_url", &s.UserInfoURL, whole && !fromAnswer, true)
	if v := p.str(o, "id_token_issuer"); given(v) {
		s.IDTokenIssuer = v.s
	}

	if v := p.str(o, "userinfo_method"); given(v) {
		if v.s != http.MethodGet && v.s != http.MethodPost {
			p.problem(v.line, v.field, "must be GET or POST")
		} else {
			s.UserInfoMethod = v.s
		}
	}
	if v := p.str(o, "userinfo_body"); given(v) {
		switch {
		case !json.Valid([]byte(v.s)):
			p.problem(v.line, v.field, `must be JSON, like {"query": "{ viewer { id name email } }"}`)
		case s.UserInfoMethod == http.MethodGet:
			p.problem(v.line, v.field, "a body is sent with POST only: remove userinfo_method: GET")
		default:
			s.UserInfoBody = v.s
			s.UserInfoMethod = http.MethodPost
		}
	}
	s.TokenAuth = p.choice(o, "token_auth", "basic", "post", "none")
	if v := p.str(o, "token_header"); given(v) {
		if !validHeaderName(v.s) || slices.ContainsFunc(reservedHeaders[1:], func(r string) bool { return strings.EqualFold(r, v.s) }) {
			p.problem(v.line, v.field, "must be a header name like X-Shopify-Access-Token")
		} else {
			s.TokenHeader = v.s
		}
	}
	if v := p.str(o, "token_scheme"); given(v) {
		if !validHeaderName(v.s) {
			p.problem(v.line, v.field, "must be one word like Bearer, OAuth or Zoho-oauthtoken")
		} else {
			s.TokenScheme = v.s
		}
	}
	if v := p.str(o, "pkce"); given(v) {
		switch v.s {
		case "true":
			s.PKCE = new(true)
		case "false":
			s.PKCE = new(false)
		default:
			p.problem(v.line, v.field, "must be true (S256) or false")
		}
	}
	if v := p.str(o, "scope_separator"); given(v) {
		if len(v.s) != 1 || !strings.ContainsAny(v.s, " ,;") {
			p.problem(v.line, v.field, `must be " ", "," or ";"`)
		} else {
			s.ScopeSeparator = v.s
		}
	}
	if v := p.str(o, "scope_param"); given(v) {
		if !paramName.MatchString(v.s) || v.s != "scope" && slices.Contains(reservedAuthParams, v.s) {
			p.problem(v.line, v.field, "must be a parameter name like scope or user_scope")
		} else {
			s.ScopeParam = v.s
		}
	}
	s.UserInfoParams = p.stringMap(o, "userinfo_params", []string{"access_token"}, "tokens never go in a URL")
	s.AuthParams = p.stringMap(o, "auth_params", reservedAuthParams, "the broker sends it itself")
	s.TokenParams = p.stringMap(o, "token_params", reservedTokenParams, "the broker sends it itself")
	s.Headers = p.stringMap(o, "headers", reservedHeaders, "the broker sets it itself")
	for name := range s.Headers {
		if !validHeaderName(name) {
			p.problem(o.keys["headers"].line, join(o.field, "headers."+name), "is not a valid HTTP header name")
			delete(s.Headers, name)
		}
	}
	if v := p.str(o, "token_path"); given(v) && p.pointer(v) {
		s.TokenPath = v.s
	}
	s.Refresh = p.choice(o, "refresh", RefreshNone, RefreshYes, RefreshRotating)
	s.Revocation = p.choice(o, "revocation", RevocationForms...)
	s.GrantedScopes = p.choice(o, "granted_scopes", GrantedFromAnswer, GrantedRequested)
	s.ScopeAliases = p.stringMap(o, "scope_aliases", nil, "")
	if vals, _, _ := p.list(o, "unlisted_scopes"); len(vals) > 0 {
		for _, v := range vals {
			if given(v) && !strings.ContainsFunc(v.s, unicode.IsSpace) {
				s.UnlistedScopes = append(s.UnlistedScopes, v.s)
			} else if !v.bad {
				p.problem(v.line, v.field, "must be one scope without spaces")
			}
		}
	}
	if s.Revocation != "" && s.Revocation != "github-grant" && s.RevocationURL == "" && whole {
		v := p.str(o, "revocation")
		p.problem(v.line, v.field, "needs revocation_url: where to send the revocation")
	}
	if oauth1 {
		for _, key := range []string{"token_auth", "pkce", "token_path", "id_token_issuer", "scope_param", "token_params"} {
			if e, ok := o.keys[key]; ok {
				p.problem(e.line, join(o.field, key), "does not apply to OAuth 1.0a: remove it")
			}
		}
		if s.Refresh != "" && s.Refresh != RefreshNone {
			v := p.str(o, "refresh")
			p.problem(v.line, v.field, "OAuth 1.0a tokens are not refreshed: use none or remove it")
		}
	}
	return s
}

// profile reads the profile map.
func (p *parser) profile(o *object, whole bool) Profile {
	e, ok := o.keys["profile"]
	field := join(o.field, "profile")
	if !ok {
		if whole && !o.bad {
			p.problem(o.line, field, "required: where the account id is, like {id: /id, name: /name, email: /email}")
		}
		return Profile{}
	}
	po := p.object(e.value, field, e.line, "from", "id", "name", "nickname", "email", "avatar")
	var pr Profile
	pr.From = p.choice(po, "from", ProfileFromUserInfo, ProfileFromToken, ProfileFromIDToken)
	for key, out := range map[string]*string{"id": &pr.ID, "name": &pr.Name, "nickname": &pr.NickName, "email": &pr.Email, "avatar": &pr.AvatarURL} {
		if v := p.str(po, key); given(v) && p.pointer(v) {
			*out = v.s
		}
	}
	if _, given := po.keys["id"]; whole && !po.bad && !given {
		p.problem(e.line, join(field, "id"), "required: the JSON pointer to the account id, like /id or /data/id")
	}
	return pr
}

// choice reads an optional key whose value must be one of options.
func (p *parser) choice(o *object, key string, options ...string) string {
	v := p.str(o, key)
	if !given(v) {
		return ""
	}
	if !slices.Contains(options, v.s) {
		p.problem(v.line, v.field, "must be %s", orList(options))
		return ""
	}
	return v.s
}

// stringMap reads a map of single values; keys in reserved (case-insensitive) are refused.
func (p *parser) stringMap(o *object, key string, reserved []string, why string) map[string]string {
	e, ok := o.keys[key]
	if !ok {
		return nil
	}
	field := join(o.field, key)
	entries, _ := p.mapping(e.value, field)
	out := map[string]string{}
	for _, en := range entries {
		f := join(field, en.key)
		if slices.ContainsFunc(reserved, func(r string) bool { return strings.EqualFold(r, en.key) }) {
			p.problem(en.line, f, "cannot be set here: %s", why)
			continue
		}
		if v := p.scalar(en.value, f, en.line); !v.bad {
			out[en.key] = v.s
		}
	}
	return out
}

// templateURL checks an absolute https URL (http only to loopback) that may hold
// {placeholders}: they are checked as if filled with a host label.
func (p *parser) templateURL(v value) bool {
	filled := v
	filled.s = placeholder.ReplaceAllString(v.s, "x")
	if strings.ContainsAny(filled.s, "{}") {
		p.problem(v.line, v.field, "has a malformed {placeholder}: use lowercase names like {subdomain}")
		return false
	}
	_, ok := p.httpURL(filled, true)
	return ok
}

// pointer checks an RFC 6901 JSON pointer: "" (the whole document) or /-separated tokens in
// which ~ is only ever ~0 or ~1.
func (p *parser) pointer(v value) bool {
	if !strings.HasPrefix(v.s, "/") || badPointerEscape.MatchString(v.s) {
		p.problem(v.line, v.field, "must be a JSON pointer (RFC 6901) like /id or /data/user/id")
		return false
	}
	return true
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

func orList(options []string) string {
	if len(options) == 1 {
		return options[0]
	}
	return strings.Join(options[:len(options)-1], ", ") + " or " + options[len(options)-1]
}
