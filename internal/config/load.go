package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TypeRule says what a provider type accepts. The providers package owns the table (it knows
// which goth constructor honours which override); config only enforces it, so that a setting the
// provider would silently ignore is a start-up error instead.
type TypeRule struct {
	// Endpoints are the keys allowed under `endpoints:` (auth_url, token_url, profile_url,
	// email_url, request_token_url); empty: the type takes no endpoint overrides.
	Endpoints []string
	// DiscoveryURL makes `discovery_url` required (openid-connect), unless the auth_url,
	// token_url and profile_url endpoints are all given. Without it, discovery_url is refused.
	DiscoveryURL bool
	// Options are the keys allowed under `options:`; their values are strings.
	Options []string
	// NoCredentials means key and secret are not required (the built-in "sandbox" type).
	NoCredentials bool
	// Spec says what the type does with the fields of Spec (auth_url, profile, refresh, …):
	// nothing (goth types), overrides of its catalog entry, or its whole description.
	Spec SpecUse
	// OAuth1 marks an OAuth 1.0a type: request_token_url applies; pkce, token_auth and
	// refresh do not.
	OAuth1 bool
	// RequiredOptions must be set under options: the {placeholders} of the type's catalog
	// entry that have no default (zendesk's {subdomain}). Options lists them too.
	RequiredOptions []string
}

// LoadOptions are the inputs of Load and Parse besides the file itself.
type LoadOptions struct {
	// Getenv looks up ${VAR}; os.LookupEnv in production. nil: an empty environment, so tests
	// never depend on the machine they run on.
	Getenv func(string) (string, bool)
	// Types are the known provider types. nil: any type is accepted and the type-specific
	// checks (endpoints, options, discovery_url, credentials) are skipped — for tests of syntax.
	Types map[string]TypeRule
}

// Load reads and validates the file at path. A file that cannot be read gives the *fs.PathError
// wrapped (test it with errors.Is(err, fs.ErrNotExist)); everything wrong inside the file gives
// *Problems.
func Load(path string, opts LoadOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse validates data as the contents of file (used only in messages). On any problem it
// returns a nil Config and a *Problems holding all of them, sorted by line.
func Parse(file string, data []byte, opts LoadOptions) (*Config, error) {
	p := &parser{file: file, getenv: opts.Getenv, types: opts.Types}
	if p.getenv == nil {
		p.getenv = func(string) (string, bool) { return "", false }
	}
	var cfg *Config
	if root := p.document(data); root != nil {
		cfg = p.config(root)
	}
	if len(p.probs) > 0 {
		p.probs.sort()
		return nil, &p.probs
	}
	return cfg, nil
}

// maxAliasDerefs bounds how often YAML aliases are followed. A walk follows the schema, so it is
// finite even on recursive anchors, but aliases of aliases multiply the work; a real file needs a
// handful.
const maxAliasDerefs = 10000

// parser walks the yaml.Node tree itself rather than decoding into structs, so every value keeps
// its line and every problem is collected instead of stopping at the first.
type parser struct {
	file   string
	getenv func(string) (string, bool)
	types  map[string]TypeRule
	probs  Problems
	derefs int
}

func (p *parser) problem(line int, field, format string, args ...any) {
	p.probs = append(p.probs, Problem{File: p.file, Line: max(line, 1), Field: field, Msg: fmt.Sprintf(format, args...)})
}

var yamlLineErr = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

// document parses data into the root node of its single YAML document, or reports why it cannot.
func (p *parser) document(data []byte) (root *yaml.Node) {
	defer func() {
		// A parser panic on hostile input must stay a problem report, not take down
		// `oauthbroker check`.
		if r := recover(); r != nil {
			p.problem(1, "", "invalid YAML: the parser failed on this file")
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.problem(1, "", "the file is empty: it needs at least server.public_url and one bot under bots")
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		p.problem(next.Line, "", "a second YAML document (---): put everything in one document")
	case !errors.Is(err, io.EOF):
		p.yamlError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.problem(1, "", "the file is empty: it needs at least server.public_url and one bot under bots")
		return nil
	}
	return doc.Content[0]
}

// yamlParserErrors are the messages of the YAML parser (as opposed to its scanner). For these
// go.yaml.in/yaml/v3 (as gopkg.in/yaml.v3 before it) prints the 0-based line of the enclosing
// list or map, one less than the editor shows.
var yamlParserErrors = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// yamlError turns a YAML syntax error ("yaml: line 3: …") into a Problem on that line. The
// library's messages describe the syntax, never the values.
func (p *parser) yamlError(err error) {
	m := yamlLineErr.FindStringSubmatch(err.Error())
	if m == nil {
		p.problem(1, "", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	line, _ := strconv.Atoi(m[1])
	if yamlParserErrors[m[2]] {
		line++
	}
	p.problem(line, "", "invalid YAML: %s", m[2])
}

// deref follows aliases (*name) to the anchored node. nil means the alias budget ran out,
// which has been reported.
func (p *parser) deref(n *yaml.Node, field string) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if p.derefs++; p.derefs > maxAliasDerefs {
			if p.derefs == maxAliasDerefs+1 {
				p.problem(n.Line, field, "more than %d YAML aliases followed: repeat the values instead", maxAliasDerefs)
			}
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names a node's shape for "must be X, not Y" without quoting its value.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// entry is one key of a YAML map, in file order.
type entry struct {
	key   string
	line  int // the key's line
	value *yaml.Node
}

// mapping returns the entries of the map n at field. A null value (`admin:` alone) is an empty
// map. ok is false when n is not a map, which has been reported. Duplicate keys — which the
// YAML library accepts silently in a node tree — are reported and dropped, so the first one wins.
func (p *parser) mapping(n *yaml.Node, field string) (entries []entry, ok bool) {
	if n = p.deref(n, field); n == nil {
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		p.problem(n.Line, field, "must be a map (key: value lines), not %s", describe(n))
		return nil, false
	}
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.deref(n.Content[i], field)
		switch {
		case k == nil:
			continue
		case k.Kind != yaml.ScalarNode:
			p.problem(k.Line, field, "a key must be a plain name, not %s", describe(k))
			continue
		case k.ShortTag() == "!!merge":
			p.problem(k.Line, field, "YAML merge keys (<<) are not supported: write the keys out")
			continue
		}
		if line, dup := first[k.Value]; dup {
			p.problem(k.Line, join(field, k.Value), "defined twice (first on line %d): keep one", line)
			continue
		}
		first[k.Value] = k.Line
		entries = append(entries, entry{key: k.Value, line: k.Line, value: n.Content[i+1]})
	}
	return entries, true
}

// object is a map with a fixed set of keys, such as `server:`.
type object struct {
	field string
	line  int  // where a missing key is reported: the line of the key holding this map
	bad   bool // not a map (reported): missing keys are not reported again
	keys  map[string]entry
}

// object reads n as a map whose keys must be among allowed; unknown keys are reported with the
// allowed list, since a misspelt key would otherwise be a silently ignored setting.
func (p *parser) object(n *yaml.Node, field string, line int, allowed ...string) *object {
	o := &object{field: field, line: line, keys: map[string]entry{}}
	if n == nil {
		return o
	}
	entries, ok := p.mapping(n, field)
	o.bad = !ok
	for _, e := range entries {
		if !contains(allowed, e.key) {
			p.problem(e.line, join(field, e.key), "%s", unknownKey(e.key, allowed))
			continue
		}
		o.keys[e.key] = e
	}
	return o
}

// value is a scalar after env expansion, with where it came from.
type value struct {
	s     string
	field string
	line  int
	set   bool // present with a non-null value
	bad   bool // a problem was reported already; further checks skip it
}

// str reads the scalar key of o; a missing key gives an empty value on o's line.
func (p *parser) str(o *object, key string) value {
	e, ok := o.keys[key]
	if !ok {
		return value{field: join(o.field, key), line: o.line, bad: o.bad}
	}
	return p.scalar(e.value, join(o.field, key), e.line)
}

// scalar reads n as a string and expands ${VAR} in it. Unset variables are reported at the
// scalar's line, naming the variable and how to give it a default.
func (p *parser) scalar(n *yaml.Node, field string, line int) value {
	v := value{field: field, line: line}
	if n = p.deref(n, field); n == nil {
		v.bad = true
		return v
	}
	v.line = n.Line
	if isNull(n) {
		return v
	}
	if n.Kind != yaml.ScalarNode {
		p.problem(n.Line, field, "must be a single value, not %s", describe(n))
		v.bad = true
		return v
	}
	s, unset, err := expand(n.Value, p.getenv)
	for _, name := range unset {
		p.problem(n.Line, field, "unset environment variable %s: export it or write ${%s:-default}", name, name)
	}
	if err != nil {
		p.problem(n.Line, field, "%v", err)
	}
	v.s, v.set, v.bad = s, true, len(unset) > 0 || err != nil
	return v
}

// list reads the key of o as a list of scalars. ok is false when it is not a list (reported).
func (p *parser) list(o *object, key string) (vals []value, line int, ok bool) {
	field := join(o.field, key)
	e, found := o.keys[key]
	if !found {
		return nil, o.line, !o.bad
	}
	n := p.deref(e.value, field)
	switch {
	case n == nil:
		return nil, e.line, false
	case isNull(n):
		return nil, e.line, true
	case n.Kind != yaml.SequenceNode:
		p.problem(n.Line, field, "must be a list like [a, b], not %s", describe(n))
		return nil, e.line, false
	}
	for i, c := range n.Content {
		vals = append(vals, p.scalar(c, fmt.Sprintf("%s[%d]", field, i), n.Line))
	}
	return vals, e.line, true
}
