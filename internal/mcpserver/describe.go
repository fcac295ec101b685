package mcpserver

import (
	"context"
	"encoding/json"
)

func (s *Server) describeTool() tool {
	return tool{
		name: "describe_provider", title: "Describe a provider's API", readOnly: true,
		description: `Describes one of the bot's providers, to find the right call_api path: the API base URL that call_api paths are relative to, ` +
			`the provider's documentation page when the broker's catalog has one, how requests are signed, and whether its tokens are refreshed automatically.`,
		schema: `{
  "type": "object",
  "properties": {
    "provider": {"type": "string", "minLength": 1, "description": "The provider's name, as list_connected_accounts lists it under providers."}
  },
  "required": ["provider"],
  "additionalProperties": false
}`,
		run: s.describe,
	}
}

type providerDescription struct {
	Provider         string   `json:"provider"`
	Title            string   `json:"title"`
	Type             string   `json:"type"`
	APIBaseURL       string   `json:"api_base_url,omitempty"`
	DocumentationURL string   `json:"documentation_url,omitempty"`
	Signing          string   `json:"signing"` // oauth1 | bearer
	CanRefresh       bool     `json:"can_refresh"`
	Scopes           []string `json:"scopes"`
	HowToCall        string   `json:"how_to_call"`
}

func (s *Server) describe(_ context.Context, c *caller, args json.RawMessage) (any, error) {
	var in struct {
		Provider string `json:"provider"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	info, err := s.broker.DescribeProvider(c.bot, in.Provider)
	if err != nil {
		return nil, s.withProviders(c, err)
	}
	out := providerDescription{Provider: info.Name, Title: info.Title, Type: info.Type, APIBaseURL: info.APIBaseURL, DocumentationURL: info.DocsURL,
		Signing: "bearer", CanRefresh: info.CanRefresh, Scopes: info.Scopes}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if info.OAuth1 {
		out.Signing = "oauth1"
	}
	out.HowToCall = `call_api paths are relative to api_base_url: path "/user" calls ` + info.APIBaseURL + `/user. ` +
		`The broker signs each request as the user (` + out.Signing + `); never send an Authorization header.`
	if info.APIBaseURL == "" {
		out.HowToCall = "the broker knows no API for this provider (it has no api_base_url): call_api cannot call it"
	}
	return out, nil
}
