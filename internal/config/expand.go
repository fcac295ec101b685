package config

import (
	"fmt"
	"slices"
	"strings"
)

// expand substitutes environment variables in one scalar value:
//
//	${NAME}          the variable's value; an unset variable is returned in unset
//	${NAME:-default} the value, or default when the variable is unset or empty (as in sh)
//	$$               a literal $
//
// Any other $ stays as it is, so a bcrypt hash ($2b$10$…) needs no escaping. The default is
// taken verbatim up to the first }, and values from the environment are never expanded again:
// a secret may contain $, : or # without consequence. Expansion runs after YAML parsing for the
// same reason.
//
// err describes malformed syntax by position only; it never quotes s, which may hold a secret.
func expand(s string, getenv func(string) (string, bool)) (out string, unset []string, err error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", unset, fmt.Errorf("unclosed ${ at character %d: write ${NAME} or ${NAME:-default}, or $$ for a literal $", i+1)
		}
		name, def, hasDef := strings.Cut(s[i+2:i+2+end], ":-")
		if !isEnvName(name) {
			return "", unset, fmt.Errorf("malformed ${…} at character %d: write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, or $$ for a literal $", i+1)
		}
		if hasDef && strings.Contains(def, "${") {
			return "", unset, fmt.Errorf("nested ${ in the default of ${%s:-…} at character %d: defaults are literal text", name, i+1)
		}
		val, ok := getenv(name)
		switch {
		case ok && (val != "" || !hasDef):
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		case !slices.Contains(unset, name):
			unset = append(unset, name)
		}
		i += 2 + end + 1
	}
	return b.String(), unset, nil
}

// isEnvName reports whether s is a portable environment variable name ([A-Za-z_][A-Za-z0-9_]*).
func isEnvName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
