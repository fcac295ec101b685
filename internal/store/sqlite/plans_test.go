package sqlite

import (
	"slices"
	"strings"
	"testing"
)

// No statement the store prepares is compiled again when it runs, however often and with
// whatever values: each keeps the plan it was prepared with. With SQLite's stability
// guarantee switched off, the link reads are compiled again on every run — what the setting
// is there for; if that half fails after an SQLite upgrade, the setting may no longer be
// needed.
func TestStatementsKeepTheirPlans(t *testing.T) {
	s := openWriterTest(t)
	queries := append(statementTexts(), selectIdentityTokens)
	for _, r := range s.hotReads() {
		queries = append(queries, r.query)
	}
	const runs = 3
	recompiledWithout := map[string]bool{}
	for _, q := range queries {
		if q == savepointOp || q == releaseOp || q == rollbackToOp {
			continue // no plan; and RELEASE needs a savepoint
		}
		n, err := recompiles(s.uri, q, false, runs)
		if err != nil {
			t.Fatalf("%s\n%v", q, err)
		}
		if n != 0 {
			t.Errorf("compiled again %d times in %d runs:\n%s", n, runs, q)
		}
		if n, err = recompiles(s.uri, q, true, runs); err != nil {
			t.Fatalf("%s (guarantee off)\n%v", q, err)
		}
		if n > 0 {
			recompiledWithout[q] = true
		}
	}
	var names []string
	for q := range recompiledWithout {
		line, _, _ := strings.Cut(strings.TrimSpace(q), "\n")
		names = append(names, line)
	}
	slices.Sort(names)
	t.Logf("%d statements; without the guarantee, %d are compiled again on every run: %q", len(queries), len(names), names)
	// Both link reads begin with the same line: each is looked up by its whole text.
	for _, want := range []string{selectLinkByTokenHash, selectLinkByID} {
		if !recompiledWithout[want] {
			t.Errorf("without the guarantee, the link read %q was not compiled again; the setting may no longer be needed", want)
		}
	}
}
