package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauthbroker/oauthbroker/internal/broker"
)

// linkRequest is POST /links: one provider ("provider", with "scopes") or several
// ("providers": names or {"provider","scopes"} objects).
type linkRequest struct {
	Provider    string        `json:"provider"`
	Providers   []requirement `json:"providers"`
	Channel     string        `json:"channel"`
	User        string        `json:"user"`
	UserLabel   string        `json:"user_label"`
	Scopes      []string      `json:"scopes"`
	RedirectURL string        `json:"redirect_url"`
	TTLSeconds  int64         `json:"ttl_seconds"`
}

type linkResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Providers []string  `json:"providers"`
}

// requirements is the request's providers in either form.
func (req linkRequest) requirements() ([]broker.Requirement, error) {
	switch {
	case req.Provider != "" && req.Providers != nil:
		return nil, &broker.Error{Code: broker.CodeInvalidRequest, Message: "give provider or providers, not both"}
	case req.Providers != nil && req.Scopes != nil:
		return nil, &broker.Error{Code: broker.CodeInvalidRequest, Message: `scopes goes with provider; with providers, give each its own as {"provider":…,"scopes":[…]}`}
	case req.Provider != "":
		return []broker.Requirement{{Provider: req.Provider, Scopes: req.Scopes}}, nil
	}
	reqs := make([]broker.Requirement, len(req.Providers))
	for i, p := range req.Providers {
		reqs[i] = broker.Requirement(p)
	}
	return reqs, nil // none: the broker says what is missing
}

func (a *API) createLink(w http.ResponseWriter, r *http.Request) {
	var req linkRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > int64(365*24*time.Hour/time.Second) {
		a.writeError(w, r, &broker.Error{Code: broker.CodeInvalidRequest, Message: "ttl_seconds is out of range"})
		return
	}
	reqs, err := req.requirements()
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	link, err := a.broker.CreateLink(r.Context(), broker.LinkRequest{
		Bot: chi.URLParam(r, "bot"), Providers: reqs, Channel: req.Channel, User: req.User, UserLabel: req.UserLabel,
		RedirectURL: req.RedirectURL, TTL: time.Duration(req.TTLSeconds) * time.Second,
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeLink(w, link)
}

type confirmRequest struct {
	Channel string `json:"channel"`
	User    string `json:"user"`
	Code    string `json:"code"`
}

func (a *API) confirm(w http.ResponseWriter, r *http.Request) {
	var req confirmRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	ids, err := a.broker.Confirm(r.Context(), chi.URLParam(r, "bot"), req.Channel, req.User, req.Code)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := confirmResponse{Identities: make([]identityJSON, len(ids))}
	for i, id := range ids {
		out.Identities[i] = toIdentityJSON(id)
	}
	out.Identity = out.Identities[0]
	writeJSON(w, http.StatusOK, out)
}

// confirmResponse: every identity the code activated (all of one link's), and the first of
// them as "identity", the answer's shape from before links had several providers.
type confirmResponse struct {
	Identity   identityJSON   `json:"identity"`
	Identities []identityJSON `json:"identities"`
}

// identityJSON is an identity as bots see it: never a token.
type identityJSON struct {
	ID             int64      `json:"id"`
	Provider       string     `json:"provider"`
	ProviderUserID string     `json:"provider_user_id"`
	Name           string     `json:"name"`
	NickName       string     `json:"nickname"`
	Email          string     `json:"email"`
	AvatarURL      string     `json:"avatar_url"`
	Status         string     `json:"status"`
	Scopes         []string   `json:"scopes"`
	ExpiresAt      *time.Time `json:"expires_at"`
	LinkedAt       time.Time  `json:"linked_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

func toIdentityJSON(id broker.IdentityInfo) identityJSON {
	scopes := id.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return identityJSON{
		ID: id.ID, Provider: id.Provider, ProviderUserID: id.ProviderUserID,
		Name: id.Name, NickName: id.NickName, Email: id.Email, AvatarURL: id.AvatarURL,
		Status: id.Status, Scopes: scopes, ExpiresAt: optionalTime(id.ExpiresAt),
		LinkedAt: id.LinkedAt, UpdatedAt: id.UpdatedAt,
	}
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (a *API) listIdentities(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("channel") || !q.Has("user") {
		a.writeError(w, r, &broker.Error{Code: broker.CodeInvalidRequest, Message: "channel and user are required query parameters"})
		return
	}
	ids, err := a.broker.Identities(r.Context(), chi.URLParam(r, "bot"), q.Get("channel"), q.Get("user"), q.Get("provider"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeIdentities(w, ids)
}

type credentialsJSON struct {
	Provider          string     `json:"provider"`
	TokenType         string     `json:"token_type"`
	AccessToken       string     `json:"access_token"`
	AccessTokenSecret string     `json:"access_token_secret,omitempty"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
}

func toCredentialsJSON(c broker.Credentials) credentialsJSON {
	return credentialsJSON{
		Provider: c.Provider, TokenType: c.TokenType, AccessToken: c.AccessToken,
		AccessTokenSecret: c.AccessTokenSecret, ExpiresAt: optionalTime(c.ExpiresAt),
	}
}

func (a *API) credentials(w http.ResponseWriter, r *http.Request) {
	id, ok := a.identityID(w, r)
	if !ok {
		return
	}
	creds, err := a.broker.Credentials(r.Context(), chi.URLParam(r, "bot"), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeCredentials(w, creds)
}

func (a *API) deleteIdentity(w http.ResponseWriter, r *http.Request) {
	id, ok := a.identityID(w, r)
	if !ok {
		return
	}
	if err := a.broker.Unlink(r.Context(), chi.URLParam(r, "bot"), id); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) identityID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		a.writeError(w, r, &broker.Error{Code: broker.CodeNotFound, Message: "identity ids are positive integers"})
		return 0, false
	}
	return id, true
}

type requireRequest struct {
	Channel   string        `json:"channel"`
	User      string        `json:"user"`
	UserLabel string        `json:"user_label"`
	Providers []requirement `json:"providers"`
}

// requirement accepts both forms of a provider in a list: "github" or
// {"provider":"github","scopes":[…]}.
type requirement broker.Requirement

func (q *requirement) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		return json.Unmarshal(data, &q.Provider)
	}
	var obj struct {
		Provider string   `json:"provider"`
		Scopes   []string `json:"scopes"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil {
		return err
	}
	q.Provider, q.Scopes = obj.Provider, obj.Scopes
	return nil
}

type missingJSON struct {
	Provider  string    `json:"provider"`
	Reason    string    `json:"reason"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

type requireResponse struct {
	Ready       bool                       `json:"ready"`
	Credentials map[string]credentialsJSON `json:"credentials"`
	Missing     []missingJSON              `json:"missing"`
	// ConnectURL links every missing provider in one visit; absent when ready.
	ConnectURL       string     `json:"connect_url,omitempty"`
	ConnectExpiresAt *time.Time `json:"connect_expires_at,omitempty"`
}

func (a *API) require(w http.ResponseWriter, r *http.Request) {
	var req requireRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	reqs := make([]broker.Requirement, len(req.Providers))
	for i, p := range req.Providers {
		reqs[i] = broker.Requirement(p)
	}
	res, err := a.broker.Require(r.Context(), broker.RequireRequest{Bot: chi.URLParam(r, "bot"), Channel: req.Channel,
		User: req.User, UserLabel: req.UserLabel, Providers: reqs})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := requireResponse{Ready: res.Ready, Credentials: map[string]credentialsJSON{}, Missing: []missingJSON{}}
	for name, c := range res.Credentials {
		out.Credentials[name] = toCredentialsJSON(c)
	}
	for _, m := range res.Missing {
		out.Missing = append(out.Missing, missingJSON{Provider: m.Provider, Reason: m.Reason, URL: m.Link.URL, ExpiresAt: m.Link.ExpiresAt})
	}
	if res.Connect.URL != "" {
		out.ConnectURL, out.ConnectExpiresAt = res.Connect.URL, optionalTime(res.Connect.ExpiresAt)
	}
	writeJSON(w, http.StatusOK, out)
}
