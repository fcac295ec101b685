package config

import (
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a providers.yaml, located precisely enough for an operator
// to fix it without reading our code.
//
// Msg never contains a value from the file or the environment: values may be secrets, and
// start-up errors end up in logs. It names the field, the variable or the allowed choices instead.
type Problem struct {
	File  string
	Line  int    // 1-based; always > 0 (problems without a better place are on line 1)
	Field string // dotted path such as bots.supportbot.providers.github.secret; empty for the file as a whole
	Msg   string // what is wrong and what to do about it
}

// String formats the problem as `file:line: field: msg`, the shape editors and CI annotate.
func (p Problem) String() string {
	if p.Field == "" {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Field, p.Msg)
}

// Problems is every problem found in one file, sorted by line. Parse and Load return it as
// *Problems, so callers can errors.As it to annotate lines or print them one per row.
type Problems []Problem

// Error gives one line per problem, so an operator fixes the whole file in one pass instead of
// restarting once per mistake.
func (ps *Problems) Error() string {
	if ps == nil || len(*ps) == 0 {
		return "config: no problems"
	}
	lines := make([]string, len(*ps))
	for i, p := range *ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sort orders problems by line; problems on one line keep the order they were found in, which
// follows the file from left to right.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
}
