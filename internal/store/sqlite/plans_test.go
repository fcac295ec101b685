package sqlite

import (
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
	var recompiledWithout []string
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
			recompiledWithout = append(recompiledWithout, firstLine(q))
		}
	}
	t.Logf("%d statements; without the guarantee, %d are compiled again on every run: %q", len(queries), len(recompiledWithout), recompiledWithout)
	for _, want := range []string{selectLink + ` WHERE token_hash = ?`, selectLinkByID} {
		if !strings.Contains(strings.Join(recompiledWithout, "\n"), firstLine(want)) {
			t.Errorf("without the guarantee, the link read %q was not compiled again; the setting may no longer be needed", want)
		}
	}
}

func firstLine(q string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(q), "\n")
	return line
}
