package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: oauthbroker providers [-json] [TYPE...]

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
