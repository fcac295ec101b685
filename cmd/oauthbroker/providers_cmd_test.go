package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestProvidersCommand: `oauthbroker providers` lists every type providers.yaml can name,
// with what runs it, and -json gives the same as data; a type the broker does not know is
// an error naming it.
func TestProvidersCommand(t *testing.T) {
	out, _, err := runCommand(context.Background(), nil, "providers")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(providers.Types())+1 {
		t.Errorf("%d lines for %d types", len(lines), len(providers.Types()))
	}
	for _, want := range []string{
		"notion          Notion            oauth2    catalog  yes       -              https://api.notion.com",
		"oauth2          OAuth 2           oauth2    yaml",
		"trello          Trello            oauth1    catalog  none      oauth1-delete  https://api.trello.com/1",
		"github          GitHub            oauth2    goth     none      github-grant   https://api.github.com",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}

	out, _, err = runCommand(context.Background(), nil, "providers", "-json", "zendesk", "x")
	if err != nil {
		t.Fatal(err)
	}
	var got []providerType
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil || len(got) != 2 {
		t.Fatalf("-json: %v\n%s", err, out)
	}
	zd, x := got[0], got[1]
	if zd.Type != "zendesk" || zd.RequiredOptions[0] != "subdomain" || zd.Revocation != "bearer-delete" || !strings.HasPrefix(zd.Docs, "https://developer.zendesk.com/") {
		t.Errorf("zendesk: %+v", zd)
	}
	if x.Refresh != "rotating" || !x.PKCE || x.Implementation != "broker oauth2 (catalog)" || x.Console == "" {
		t.Errorf("x: %+v", x)
	}

	_, _, err = runCommand(context.Background(), nil, "providers", "notoin")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), `no provider type "notoin"`) {
		t.Errorf("unknown type: %v", err)
	}
}

// TestProvidersDoc keeps docs/PROVIDERS.md equal to the catalog: after changing
// internal/providers/catalog.yaml, regenerate it with
// go run ./cmd/oauthbroker providers -markdown > docs/PROVIDERS.md
func TestProvidersDoc(t *testing.T) {
	out, _, err := runCommand(context.Background(), nil, "providers", "-markdown")
	if err != nil {
		t.Fatal(err)
	}
	if doc := readFile(t, "../../docs/PROVIDERS.md"); doc != out.String() {
		t.Errorf("docs/PROVIDERS.md differs from the catalog: run go run ./cmd/oauthbroker providers -markdown > docs/PROVIDERS.md")
	}
	for _, r := range testenv.CatalogTypes() {
		if !strings.Contains(out.String(), "| `"+r.Name+"` | "+r.Title+" |") || !strings.Contains(out.String(), "[docs]("+r.Docs+")") {
			t.Errorf("PROVIDERS.md has no row for %s with its documentation page", r.Name)
		}
	}
}
