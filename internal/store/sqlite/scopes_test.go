package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
)

// parseScopes' hand-split fast path answers exactly what encoding/json answers, and leaves
// to it everything that is not plain.
func TestParseScopesMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`[]`, `["repo"]`, `["read:user","repo"]`, `[""]`, `["a",""]`, `["é","日本"]`, `null`,
		`["a\"b"]`, `["a\\b"]`, `["\u0041"]`, `[ "a" ]`, `["a", "b"]`, "[\"bad\xff\"]", `["a",]`, `["a"`,
		`["a"]x`, `[1]`, "[\"tab\t\"]", `["<&>"]`,
	} {
		var want []string
		wantErr := json.Unmarshal([]byte(s), &want)
		if len(want) == 0 || wantErr != nil {
			want = nil
		}
		got, err := parseScopes(s)
		if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("parseScopes(%q) = %q, %v; encoding/json: %q, %v", s, got, err, want, wantErr)
		}
	}
}

func BenchmarkParseScopes(b *testing.B) {
	for b.Loop() {
		if _, err := parseScopes(`["read:user","repo"]`); err != nil {
			b.Fatal(err)
		}
	}
}
