package providers_test

import (
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
)

// A providers.yaml entry overrides a catalog entry field by field: strings and lists replace,
// maps merge key by key, the profile pointer by pointer; the options fill the placeholders,
// the record's default where the entry has none.
func TestCatalogOverride(t *testing.T) {
	t.Parallel()
	p := only(t, &config.Provider{Name: "n", Type: "notion", Key: "ck", Secret: "cs", Spec: config.Spec{
		TokenURL: "https://proxy.example/notion/token",
		Headers:  map[string]string{"Notion-Version": "2025-09-03", "X-Team": "bots"},
		Profile:  config.Profile{Name: "/owner/user/person/name"},
	}}, providers.Options{})
	s := p.Spec()
	if s.TokenURL != "https://proxy.example/notion/token" || s.AuthURL != "https://api.notion.com/v1/oauth/authorize" {
		t.Errorf("URLs %q %q", s.TokenURL, s.AuthURL)
	}
	if s.Headers["Notion-Version"] != "2025-09-03" || s.Headers["X-Team"] != "bots" || len(s.Headers) != 2 {
		t.Errorf("headers %v", s.Headers)
	}
	if s.Profile.Name != "/owner/user/person/name" || s.Profile.ID != "/owner/user/id" || s.Profile.From != config.ProfileFromToken {
		t.Errorf("profile %+v", s.Profile)
	}

	ms := only(t, &config.Provider{Name: "m", Type: "microsoft", Key: "ck", Secret: "cs"}, providers.Options{})
	if got := ms.Spec().AuthURL; got != "https://login.microsoftonline.com/common/oauth2/v2.0/authorize" {
		t.Errorf("microsoft's default tenant: %s", got)
	}
	zd := only(t, &config.Provider{Name: "z", Type: "zendesk", Key: "ck", Secret: "cs", Options: map[string]string{"subdomain": "acme"}}, providers.Options{})
	if zd.APIBaseURL != "https://acme.zendesk.com/api/v2" || zd.Spec().RevocationURL != "https://acme.zendesk.com/api/v2/oauth/tokens/current.json" {
		t.Errorf("zendesk: %s %s", zd.APIBaseURL, zd.Spec().RevocationURL)
	}
	tw := only(t, &config.Provider{Name: "tw", Type: "twitch", Key: "my-client-id", Secret: "cs"}, providers.Options{})
	if tw.Spec().Headers["Client-Id"] != "my-client-id" {
		t.Errorf("twitch's Client-Id header: %v", tw.Spec().Headers)
	}
	// The older endpoints block still moves an OAuth 1.0a type, and the revocation next to it.
	x := only(t, &config.Provider{Name: "t", Type: "twitter", Key: "ck", Secret: "cs", Endpoints: config.Endpoints{TokenURL: "https://fake.example/oauth/access_token"}}, providers.Options{})
	if x.RevocationURL != "https://fake.example/1.1/oauth/invalidate_token" {
		t.Errorf("twitter revocation %s", x.RevocationURL)
	}
}
