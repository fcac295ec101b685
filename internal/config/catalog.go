package config

import (
	"net/url"
	"slices"
)

// CatalogEntry is one provider type of the broker's provider catalog: an embedded data file
// that the providers package owns, parsed here with the same field checks as providers.yaml
// (a mistake in it is reported as file:line: field: what is wrong, like one in providers.yaml).
type CatalogEntry struct {
	Name  string // the type, as providers.yaml names it
	Line  int
	Title string // the name users know the provider by
	// Implementation is oauth2 or oauth1 (the broker's own, driven by Spec) or goth (a goth
	// provider the providers package builds in code; Spec then holds only the facts about it).
	Implementation string
	Docs           string // the provider's documentation page its endpoints come from
	Console        string // where a developer registers the app and its callback URL
	Notes          string // what an operator should know: consent quirks, what is not granted, …
	Scopes         []string
	// Options are the defaults of the {placeholders} in Spec (microsoft's tenant: common).
	Options   map[string]string
	NumericID bool // goth only: the provider decodes the id as an integer, so "0" means none
	Spec      Spec
}

// Implementations of catalog entries.
const (
	ImplOAuth2 = "oauth2"
	ImplOAuth1 = "oauth1"
	ImplGoth   = "goth"
)

var catalogKeys = append([]string{"title", "implementation", "docs", "console", "notes", "scopes", "options", "numeric_id", "api_base_url"}, specKeys...)

// ParseCatalog validates a provider catalog: a map from type name to entry. It returns the
// entries in file order, or *Problems.
func ParseCatalog(file string, data []byte) ([]*CatalogEntry, error) {
	p := &parser{file: file, getenv: func(string) (string, bool) { return "", false }}
	var out []*CatalogEntry
	if root := p.document(data); root != nil {
		entries, _ := p.mapping(root, "")
		for _, e := range entries {
			out = append(out, p.catalogEntry(e))
		}
	}
	if len(p.probs) > 0 {
		p.probs.sort()
		return nil, &p.probs
	}
	return out, nil
}

func (p *parser) catalogEntry(e entry) *CatalogEntry {
	p.name(e.line, e.key, "provider type", e.key)
	o := p.object(e.value, e.key, e.line, catalogKeys...)
	c := &CatalogEntry{Name: e.key, Line: e.line}
	c.Implementation = p.choice(o, "implementation", ImplOAuth2, ImplOAuth1, ImplGoth)
	if v := p.str(o, "implementation"); !v.bad && v.s == "" {
		p.required(v, "oauth2, oauth1 or goth")
	}
	own := c.Implementation == ImplOAuth2 || c.Implementation == ImplOAuth1
	// A goth type may leave its title empty: it is then called by its configured name (the
	// demo's sandbox).
	if v := p.str(o, "title"); given(v) || own && p.required(v, "the provider's name as users know it") {
		c.Title = v.s
	}
	for _, key := range []string{"docs", "console"} {
		v := p.str(o, key)
		if own && !p.required(v, "the provider's page, an https URL") {
			continue
		}
		if !given(v) {
			continue
		}
		// Links for people: a #fragment is fine here.
		if u, err := url.Parse(v.s); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			p.problem(v.line, v.field, "must be an https URL")
		} else if key == "docs" {
			c.Docs = v.s
		} else {
			c.Console = v.s
		}
	}
	if v := p.str(o, "notes"); given(v) {
		c.Notes = v.s
	}
	scopes, _, _ := p.list(o, "scopes")
	for _, v := range scopes {
		if given(v) {
			c.Scopes = append(c.Scopes, v.s)
		}
	}
	if v := p.str(o, "numeric_id"); given(v) {
		c.NumericID = v.s == "true"
		if v.s != "true" && v.s != "false" {
			p.problem(v.line, v.field, "must be true or false")
		}
	}
	c.Spec = p.specFields(o, own, c.Implementation == ImplOAuth1)
	c.Spec.APIBaseURL = p.apiBaseURL(p.str(o, "api_base_url"))
	if oe, ok := o.keys["options"]; ok {
		entries, _ := p.mapping(oe.value, join(e.key, "options"))
		for _, en := range entries {
			v := p.scalar(en.value, join(e.key, "options."+en.key), en.line)
			switch {
			case v.bad:
			case !slices.Contains(c.Spec.Placeholders(), en.key):
				p.problem(en.line, v.field, "no URL of this entry contains {%s}", en.key)
			case !ValidPlaceholderValue(v.s):
				p.problem(en.line, v.field, "must be a host label, tenant id or domain")
			default:
				if c.Options == nil {
					c.Options = map[string]string{}
				}
				c.Options[en.key] = v.s
			}
		}
	}
	return c
}
