package providers

import (
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// catalogFile is the provider catalog: one record per provider type, for the types the
// broker runs itself (oauth2, oauth1) and the goth-backed ones alike. config.ParseCatalog
// checks it with the same rules as providers.yaml; docs/PROVIDERS.md is generated from it.
//
//go:embed catalog.yaml
var catalogFile []byte

const catalogName = "internal/providers/catalog.yaml"

// Record is everything the broker knows about one provider type: what users call it, which
// protocol and implementation it runs on, how it talks to the provider (Spec), where its
// documentation and developer console are. Records are immutable.
type Record struct {
	config.CatalogEntry
	// Generic marks the types `oauth2` and `oauth1`, which have no catalog entry: the
	// providers.yaml entry is their whole description.
	Generic bool
	// goth is the code of a goth-backed type; nil for the broker's own implementations.
	goth *gothKind
	// legacyEndpoints are the `endpoints:` keys the type accepted when it was goth-backed.
	legacyEndpoints []string
}

// Protocol is "oauth1" or "oauth2".
func (r *Record) Protocol() string {
	if r.Implementation == config.ImplOAuth1 {
		return "oauth1"
	}
	return "oauth2"
}

// PKCE reports whether flows send an RFC 7636 S256 challenge: our OAuth 2 implementation
// does unless the entry opts out; goth types only where goth sends our verifier.
func (r *Record) PKCE() bool {
	switch {
	case r.Implementation == config.ImplOAuth1:
		return false
	case r.Spec.PKCE != nil:
		return *r.Spec.PKCE
	}
	return r.Implementation == config.ImplOAuth2
}

// Refresh is none, yes or rotating.
func (r *Record) Refresh() string { return or(r.Spec.Refresh, config.RefreshNone) }

// RevocationForm is how the type's grants are ended ("" when they cannot be).
func (r *Record) RevocationForm() string {
	if r.Spec.Revocation != "" {
		return r.Spec.Revocation
	}
	if r.Spec.RevocationURL != "" {
		return "rfc7009"
	}
	return ""
}

// ImplementationName says what runs a type, for `check` and `oauthbroker providers`.
func (r *Record) ImplementationName() string {
	switch {
	case r.Generic:
		return "broker " + r.Protocol() + " (from providers.yaml)"
	case r.goth != nil:
		return "goth"
	}
	return "broker " + r.Protocol() + " (catalog)"
}

// records are every provider type by name.
var records = mustLoadRecords()

func mustLoadRecords() map[string]*Record {
	out, err := loadRecords(catalogFile)
	if err != nil {
		panic(err) // a broken embedded file: TestCatalogLoads names the problem
	}
	return out
}

// loadRecords parses the catalog and joins each goth-backed entry with its code.
func loadRecords(data []byte) (map[string]*Record, error) {
	entries, err := config.ParseCatalog(catalogName, data)
	if err != nil {
		return nil, err
	}
	out := map[string]*Record{
		"oauth2": {Generic: true, CatalogEntry: config.CatalogEntry{Name: "oauth2", Title: "OAuth 2", Implementation: config.ImplOAuth2}},
		"oauth1": {Generic: true, CatalogEntry: config.CatalogEntry{Name: "oauth1", Title: "OAuth 1.0a", Implementation: config.ImplOAuth1}},
	}
	var errs []string
	for _, e := range entries {
		r := &Record{CatalogEntry: *e, legacyEndpoints: legacyEndpoints[e.Name]}
		if _, dup := out[e.Name]; dup {
			errs = append(errs, fmt.Sprintf("%s:%d: %s: the name of a built-in type", catalogName, e.Line, e.Name))
		}
		if e.Implementation == config.ImplGoth {
			if r.goth = gothKinds[e.Name]; r.goth == nil {
				errs = append(errs, fmt.Sprintf("%s:%d: %s: implementation goth, but no goth code for this type", catalogName, e.Line, e.Name))
			}
		}
		out[e.Name] = r
	}
	for name := range gothKinds {
		if r := out[name]; r == nil || r.goth == nil {
			errs = append(errs, fmt.Sprintf("%s: goth type %s has code but no entry with implementation: goth", catalogName, name))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("providers: catalog:\n%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

// legacyEndpoints keeps the `endpoints:` block working for types that had it before they
// moved from goth to the catalog: their keys map onto the catalog's fields.
var legacyEndpoints = map[string][]string{
	"twitter":   {epRequestToken, epAuth, epToken, epProfile},
	"twitterv2": {epRequestToken, epAuth, epToken, epProfile},
}

// Records returns every provider type's record, sorted by type name.
func Records() []*Record {
	out := slices.Collect(maps.Values(records))
	slices.SortFunc(out, func(a, b *Record) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LookupRecord returns one type's record.
func LookupRecord(typ string) (*Record, bool) {
	r, ok := records[typ]
	return r, ok
}

// Types lists every provider type the broker can build, with what its config may set.
// config uses it to validate providers.yaml; the map is a copy.
func Types() map[string]config.TypeRule {
	out := make(map[string]config.TypeRule, len(records))
	for name, r := range records {
		out[name] = r.rule()
	}
	return out
}

// rule is what a providers.yaml entry of the type may set.
func (r *Record) rule() config.TypeRule {
	if r.goth != nil {
		rule := r.goth.rule
		rule.Endpoints = slices.Clone(rule.Endpoints)
		rule.Options = slices.Clone(rule.Options)
		return rule
	}
	rule := config.TypeRule{Spec: config.SpecOverride, OAuth1: r.Implementation == config.ImplOAuth1,
		Endpoints: slices.Clone(r.legacyEndpoints)}
	if r.Generic {
		rule.Spec = config.SpecWhole
	}
	rule.Options = r.Spec.Placeholders()
	for _, name := range rule.Options {
		if _, ok := r.Options[name]; !ok {
			rule.RequiredOptions = append(rule.RequiredOptions, name)
		}
	}
	return rule
}
