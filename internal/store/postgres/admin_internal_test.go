package postgres

import (
	"testing"
	"unicode/utf8"
)

// prefixRange's upper bound must stay valid UTF-8 (PostgreSQL refuses anything else) and be
// the first string above every string that begins with the needle.
func TestPrefixRange(t *testing.T) {
	for _, tc := range []struct {
		needle, hi string
		ok         bool
	}{
		{"ada", "adb", true},
		{"zoë", "zoì", true},
		{"a\u00bf", "a\u00c0", true},       // the byte increment would give invalid UTF-8
		{"x\ud7ff", "x\ue000", true},       // skips the surrogates
		{"x\U0010ffff", "y", true},         // the last character has no successor
		{"\U0010ffff\U0010ffff", "", true}, // nothing above: no upper bound
		{"a\xff", "", false},               // not UTF-8: begins no stored text
		{"a\x00b", "", false},              // PostgreSQL text holds no NUL
	} {
		lo, hi, ok := prefixRange(tc.needle)
		if ok != tc.ok || (ok && (lo != tc.needle || hi != tc.hi || !utf8.ValidString(hi))) {
			t.Errorf("prefixRange(%q) = %q, %q, %v; want %q, %v", tc.needle, lo, hi, ok, tc.hi, tc.ok)
		}
	}
}
