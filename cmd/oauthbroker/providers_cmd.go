package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/oauthbroker/oauthbroker/internal/providers"
)

// providerType is one provider type as `oauthbroker providers` shows it.
type providerType struct {
	Type            string   `json:"type"`
	Title           string   `json:"title"`
	Protocol        string   `json:"protocol"`
	Implementation  string   `json:"implementation"`
	PKCE            bool     `json:"pkce"`
	Refresh         string   `json:"refresh"`
	Revocation      string   `json:"revocation,omitempty"`
	RevocationURL   string   `json:"revocation_url,omitempty"`
	APIBaseURL      string   `json:"api_base_url,omitempty"`
	Scopes          []string `json:"default_scopes,omitempty"`
	RequiredOptions []string `json:"required_options,omitempty"`
	Docs            string   `json:"docs,omitempty"`
	Console         string   `json:"console,omitempty"`
	Notes           string   `json:"notes,omitempty"`
}

func describeType(r *providers.Record) providerType {
	return providerType{
		Type: r.Name, Title: r.Title, Protocol: r.Protocol(), Implementation: r.ImplementationName(),
		PKCE: r.PKCE(), Refresh: r.Refresh(), Revocation: r.RevocationForm(), RevocationURL: r.Spec.RevocationURL,
		APIBaseURL: r.Spec.APIBaseURL, Scopes: r.Scopes, RequiredOptions: providers.Types()[r.Name].RequiredOptions,
		Docs: r.Docs, Console: r.Console, Notes: r.Notes,
	}
}

func runProviders(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("providers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON (one object per type) instead of a table")
	asMarkdown := fs.Bool("markdown", false, "print docs/PROVIDERS.md (the catalog as Markdown)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: oauthbroker providers [-json | -markdown] [TYPE...]

Lists every provider type providers.yaml can name: its protocol, what runs it (the broker's
own OAuth 2 or OAuth 1.0a client driven by the provider catalog, or goth), refresh,
revocation, API base and documentation page. With TYPE arguments, only those types.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	var types []providerType
	if fs.NArg() == 0 {
		for _, r := range providers.Records() {
			types = append(types, describeType(r))
		}
	}
	for _, name := range fs.Args() {
		r, ok := providers.LookupRecord(name)
		if !ok {
			return exitError{code: 1, msg: fmt.Sprintf("oauthbroker providers: no provider type %q (oauthbroker providers lists them)", name)}
		}
		types = append(types, describeType(r))
	}
	if *asMarkdown {
		return writeMarkdown(stdout, types)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(types)
	}
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTITLE\tPROTOCOL\tRUN BY\tREFRESH\tREVOCATION\tAPI BASE\tDOCS")
	for _, t := range types {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Type, or(t.Title, "-"), t.Protocol, shortImpl(t.Implementation),
			t.Refresh, or(t.Revocation, "-"), or(t.APIBaseURL, "-"), or(t.Docs, "-"))
	}
	return tw.Flush()
}

// shortImpl is the table's column: catalog, goth, or yaml (type oauth2 / oauth1).
func shortImpl(impl string) string {
	switch {
	case strings.Contains(impl, "catalog"):
		return "catalog"
	case strings.Contains(impl, "providers.yaml"):
		return "yaml"
	}
	return impl
}

// writeMarkdown writes docs/PROVIDERS.md: go run ./cmd/oauthbroker providers -markdown >
// docs/PROVIDERS.md, and TestProvidersDoc keeps the file equal to the catalog.
func writeMarkdown(w io.Writer, types []providerType) error {
	var own, goth []providerType // oauth2 and oauth1 themselves are described in the text
	oauth1 := 0
	for _, t := range types {
		switch shortImpl(t.Implementation) {
		case "catalog":
			own = append(own, t)
			if t.Protocol == "oauth1" {
				oauth1++
			}
		case "yaml":
		default:
			goth = append(goth, t)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Provider types

<!-- Generated from internal/providers/catalog.yaml by `+"`go run ./cmd/oauthbroker providers -markdown > docs/PROVIDERS.md`"+`; TestProvidersDoc keeps the two equal. -->

Every type `+"`providers.yaml`"+` can name, as `+"`oauthbroker providers`"+` lists them. How to
configure a provider, override a catalog entry or add one the catalog lacks: see
[CONFIGURATION.md](CONFIGURATION.md#provider-types).

- **%d catalog types** run on the broker's own OAuth 2 (%d) and OAuth 1.0a (%d) clients, driven
  by their entry. Every one is tested end to end through the broker against a strict fake of
  its entry (link, refresh where declared, one proxied API call, unlink with revocation where
  declared); notion, slack, atlassian, reddit, x, microsoft, dropbox, linear and trello also
  against fakes written from the provider's own documentation.
- **%s** describe any other provider in `+"`providers.yaml`"+` alone.
- **%d goth types** run on [goth](https://github.com/markbates/goth): the ones goth gets right
  and the tests drive (github, gitlab, google, discord, spotify, uber, openid-connect,
  sandbox, slack-classic), and the rest of goth's types, which are configuration only.

The granted scopes an identity stores are the token answer's `+"`scope`"+` unless the entry says the
provider does not report them (`+"`granted: requested`"+` below): then they are the requested ones.

## Catalog

| type | provider | protocol | PKCE | refresh | revocation | granted | API base | options | documentation | app registration |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
`, len(own), len(own)-oauth1, oauth1, "`oauth2` and `oauth1`", len(goth))
	for _, t := range own {
		r, _ := providers.LookupRecord(t.Type)
		granted := "answer"
		if r.Spec.GrantedScopes == "requested" || t.Protocol == "oauth1" {
			granted = "requested"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | [docs](%s) | [console](%s) |\n",
			t.Type, t.Title, t.Protocol, yesNo(t.PKCE), t.Refresh, or(t.Revocation, "—"), granted, codeOr(t.APIBaseURL),
			codeList(t.RequiredOptions, r.Options), t.Docs, t.Console)
	}
	b.WriteString("\n### Notes\n\n")
	for _, t := range own {
		if t.Notes != "" {
			fmt.Fprintf(&b, "- **%s**: %s\n", t.Type, t.Notes)
		}
	}
	b.WriteString("\n## Goth types\n\n| type | provider | refresh | revocation | API base | documentation | notes |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, t := range goth {
		docs := "—"
		if t.Docs != "" {
			docs = "[docs](" + t.Docs + ")"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", t.Type, or(t.Title, "(its configured name)"), t.Refresh,
			or(t.Revocation, "—"), codeOr(t.APIBaseURL), docs, or(t.Notes, "configuration only"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func codeOr(v string) string {
	if v == "" {
		return "—"
	}
	return "`" + v + "`"
}

// codeList names the options a type needs, and those with a default as name=default.
func codeList(required []string, defaults map[string]string) string {
	var parts []string
	for _, name := range required {
		parts = append(parts, "`"+name+"`")
	}
	for name, v := range defaults {
		parts = append(parts, "`"+name+"` ("+v+")")
	}
	if len(parts) == 0 {
		return "—"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
