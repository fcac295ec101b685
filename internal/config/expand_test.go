package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	getenv := env("A", "alpha", "EMPTY", "", "COLON", "a:b # c", "DOLLAR", "x${A}y$$z")
	tests := []struct {
		name, in, want string
		unset          []string
		err            string
	}{
		{name: "no dollar", in: "plain: text # not a comment", want: "plain: text # not a comment"},
		{name: "set variable", in: "${A}", want: "alpha"},
		{name: "variable inside text", in: "pre-${A}-post", want: "pre-alpha-post"},
		{name: "unset variable", in: "x${NOPE}y", want: "xy", unset: []string{"NOPE"}},
		{name: "unset reported once", in: "${NOPE}${NOPE}${B}", want: "", unset: []string{"NOPE", "B"}},
		{name: "set but empty is empty", in: "[${EMPTY}]", want: "[]"},
		{name: "default when unset", in: "${NOPE:-x}", want: "x"},
		{name: "default when empty, as in sh", in: "${EMPTY:-x}", want: "x"},
		{name: "value wins over default", in: "${A:-x}", want: "alpha"},
		{name: "empty default", in: "${NOPE:-}", want: ""},
		{name: "default is literal", in: "${NOPE:-a:b#c$d}", want: "a:b#c$d"},
		{name: "double dollar", in: "$${A}", want: "${A}"},
		{name: "double dollar alone", in: "a$$b", want: "a$b"},
		{name: "lone dollars kept (bcrypt)", in: "$2b$10$abc", want: "$2b$10$abc"},
		{name: "trailing dollar", in: "cost$", want: "cost$"},
		{name: "env value with : and #", in: "${COLON}", want: "a:b # c"},
		{name: "env value is not expanded again", in: "${DOLLAR}", want: "x${A}y$$z"},
		{name: "unclosed", in: "ab${A", err: "unclosed ${ at character 3"},
		{name: "empty name", in: "${}", err: "malformed ${…} at character 1"},
		{name: "name with a dash", in: "${A-B}", err: "malformed"},
		{name: "other operator", in: "${A:?oops}", err: "malformed"},
		{name: "name starting with a digit", in: "${1A}", err: "malformed"},
		{name: "nested default", in: "${A:-${B}}", err: "nested ${ in the default of ${A:-…}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, unset, err := expand(tt.in, getenv)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("expand(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want || !reflect.DeepEqual(unset, tt.unset) {
				t.Errorf("expand(%q) = %q, %v, %v; want %q, %v", tt.in, got, unset, err, tt.want, tt.unset)
			}
		})
	}
}

// Expansion happens on parsed scalars, so what a variable holds can never change the YAML
// structure, and quoting in the file is the only quoting that matters.
func TestParseExpandsScalarsAfterYAML(t *testing.T) {
	tests := []struct {
		name, secret string
		env          []string
		want         string
	}{
		{"variable", "${S}", []string{"S", "from-env"}, "from-env"},
		{"default", "${S:-fallback}", nil, "fallback"},
		{"empty default is allowed but then required", "${S:-}x", nil, "x"},
		{"secret from env with yaml syntax", "${S}", []string{"S", "a: b # {c} [d] \"e\" ${F}"}, "a: b # {c} [d] \"e\" ${F}"},
		{"literal $ escaped", "'pa$$word'", nil, "pa$word"},
		{"colon and hash in a quoted literal", "'a:b#c'", nil, "a:b#c"},
		{"unquoted scalar with : and #", "a:b#c", nil, "a:b#c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, bot("gh:\n        type: github\n        key: k\n        secret: "+tt.secret), tt.env...)
			if got := cfg.Bots[0].Providers[0].Secret; got != tt.want {
				t.Errorf("secret = %q, want %q", got, tt.want)
			}
		})
	}
}
