package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The repository's example providers.yaml must stay loadable: it is what a new operator copies.
const exampleFile = "../../providers.yaml"

// dummyEnv sets every variable to a value its field accepts.
func dummyEnv(name string) (string, bool) {
	switch {
	case strings.HasSuffix(name, "_URL"):
		return "https://id.example.com/.well-known/openid-configuration", true
	case strings.HasSuffix(name, "_HASH"):
		return "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", true
	}
	return "dummy-value-0123456789", true
}

func TestExampleProvidersYAML(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("every variable set", func(t *testing.T) {
		for _, types := range []map[string]TypeRule{nil, testTypes} {
			cfg, err := Parse(exampleFile, data, LoadOptions{Getenv: dummyEnv, Types: types})
			if err != nil {
				t.Fatalf("Types %v:\n%v", types != nil, err)
			}
			if b := cfg.Bot("supportbot"); b == nil || len(b.Providers) != 8 {
				t.Errorf("supportbot = %+v, want 8 providers", b)
			}
		}
	})

	t.Run("empty environment", func(t *testing.T) {
		// The variables without a default, found independently of the parser: every ${NAME}
		// outside a comment line.
		type use struct {
			name string
			line int
		}
		var wants []use
		ref := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range ref.FindAllStringSubmatch(line, -1) {
				wants = append(wants, use{m[1], i + 1})
			}
		}
		if len(wants) < 18 {
			t.Fatalf("found only %d variables in %s", len(wants), exampleFile)
		}

		_, err := Parse(exampleFile, data, LoadOptions{})
		ps, ok := err.(*Problems)
		if !ok {
			t.Fatalf("Parse error = %v, want *Problems", err)
		}
		if len(*ps) != len(wants) {
			t.Fatalf("%d problems, want one per variable (%d):\n%v", len(*ps), len(wants), ps)
		}
		for i, w := range wants {
			p := (*ps)[i]
			if p.Line != w.line || !strings.HasPrefix(p.Msg, "unset environment variable "+w.name+":") {
				t.Errorf("problem %d = %s\nwant line %d: unset environment variable %s", i, p, w.line, w.name)
			}
		}
	})
}
