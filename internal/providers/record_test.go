package providers

import (
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// The embedded catalog parses with providers.yaml's checks, every goth entry has code and
// every goth kind an entry (loadRecords), and each record's facts agree with what runs.
func TestCatalogLoads(t *testing.T) {
	if _, err := loadRecords(catalogFile); err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if r.Generic {
			continue
		}
		if r.goth == nil && (r.Docs == "" || r.Console == "") {
			t.Errorf("%s: a catalog entry names its documentation and console pages", r.Name)
		}
		if r.goth == nil {
			continue
		}
		// What the record says about refresh is what goth does.
		a := &buildArgs{key: "k", secret: "s", callbackURL: "https://cb.test", sandboxURL: "https://sb.test",
			options: map[string]string{"base_url": "https://x.test", "domain": "x.test"},
			oidc:    &oidcConfig{Issuer: "https://x.test", Auth: "https://x.test/a", Token: "https://x.test/t"}}
		gp, err := r.goth.build(a)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if got := gp.RefreshTokenAvailable(); got != (r.Refresh() != config.RefreshNone) {
			t.Errorf("%s: record says refresh %s, goth says RefreshTokenAvailable %v", r.Name, r.Refresh(), got)
		}
	}
}

// A mistake in the catalog is reported like one in providers.yaml: file, line, field.
func TestCatalogProblems(t *testing.T) {
	_, err := loadRecords([]byte("notion:\n  title: Notion\n  implementation: oauth2\n  docs: https://d.example\n  console: https://c.example\n  auth_url: https://a.example\n  token_url: ftp://t.example\n  userinfo_url: https://u.example\n  profile: {id: /id}\n"))
	if err == nil || !strings.Contains(err.Error(), "internal/providers/catalog.yaml:7: notion.token_url: must be an absolute URL") {
		t.Fatalf("error %v, want the token_url's line", err)
	}
	_, err = loadRecords([]byte("github: {title: GitHub, implementation: oauth1}\n"))
	if err == nil || !strings.Contains(err.Error(), "github.docs: required") {
		t.Fatalf("error %v", err)
	}
}
