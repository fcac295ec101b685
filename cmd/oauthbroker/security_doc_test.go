package main

import (
	"regexp"
	"testing"
)

// TestSecurityDocNamesRealTests: every test docs/SECURITY.md cites as the proof of a
// mitigation exists, so the threat model cannot drift away from the suite.
func TestSecurityDocNamesRealTests(t *testing.T) {
	doc := readFile(t, "../../docs/SECURITY.md")
	defined := definedTests(t)
	cited := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9]+)").FindAllStringSubmatch(doc, -1)
	if len(cited) < 40 {
		t.Fatalf("SECURITY.md cites %d tests; was it read?", len(cited))
	}
	for _, m := range cited {
		if !defined[m[1]] {
			t.Errorf("docs/SECURITY.md cites %s, which no test file defines", m[1])
		}
	}
}
