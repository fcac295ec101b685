package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/oauthbroker/oauthbroker/client"
)

// actions calls the providers' APIs as the user, with the credentials the broker handed out.
// Against the demo these are the sandbox's two tiny APIs.
type actions struct {
	base string // the APIs' base URL
	http *http.Client
}

type ride struct {
	ID          string `json:"id"`
	Destination string `json:"destination"`
	Driver      string `json:"driver"`
	Car         string `json:"car"`
	ETAMinutes  int    `json:"eta_minutes"`
}

type post struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	URL  string `json:"url"`
}

func (a *actions) bookRide(ctx context.Context, c client.Credentials, to string) (ride, error) {
	var r ride
	err := a.call(ctx, c, "/rides", map[string]string{"destination": to}, &r)
	return r, err
}

func (a *actions) publish(ctx context.Context, c client.Credentials, text string) (post, error) {
	var p post
	err := a.call(ctx, c, "/posts", map[string]string{"text": text}, &p)
	return p, err
}

// call POSTs JSON as the user. Bearer credentials only: an OAuth 1.0a provider (Twitter)
// needs each request signed with the app's consumer secret, which the broker's proxy does.
func (a *actions) call(ctx context.Context, c client.Credentials, path string, in, out any) error {
	if c.TokenType != "bearer" {
		return fmt.Errorf("%s gives %s credentials; this example sends bearer tokens only", c.Provider, c.TokenType)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Provider, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		// 401: the token was revoked at the provider since the broker last refreshed it;
		// 403: the grant lacks the scope. Either way the user has to link again.
		return fmt.Errorf("%s answered %d: %s", c.Provider, resp.StatusCode, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, out)
}
