package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The repository's Markdown is held to the code: links between documents resolve, the
// tests and files a document names exist, nothing points outside the repository, and the
// README's test command is the one CI runs.

const repoRoot = "../.."

// markdownFile is one *.md file of the repository, its text without fenced code blocks.
type markdownFile struct {
	path  string // relative to the repository root, slash-separated
	prose []string
}

// markdownFiles returns every *.md outside dot directories and testdata.
func markdownFiles(t *testing.T) []markdownFile {
	t.Helper()
	var out []markdownFile
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != repoRoot && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, markdownFile{path: filepath.ToSlash(rel), prose: proseLines(string(data))})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 5 {
		t.Fatalf("found %d Markdown files under %s; was the repository read?", len(out), repoRoot)
	}
	return out
}

// proseLines blanks the lines of fenced code blocks, keeping line numbers.
func proseLines(text string) []string {
	lines := strings.Split(text, "\n")
	inFence := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
			lines[i] = ""
			continue
		}
		if inFence {
			lines[i] = ""
		}
	}
	return lines
}

var (
	codeSpan    = regexp.MustCompile("`[^`]*`")
	mdLink      = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading   = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)
	citedTest   = regexp.MustCompile("`((?:Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]+)")
	citedPath   = regexp.MustCompile("`((?:cmd|internal|client|examples|templates|docs)/[A-Za-z0-9_.*/-]*)`")
	outsideRepo = regexp.MustCompile(`(?i)GOTH-NOTES|STYLE\.md|SPEC\.md|SPEC\s*§|/work/|\.\./shared|\bissues? #?\d+`)
	testFunc    = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark|Example)\w+)\(`)
)

// anchors returns the GitHub heading anchors of a Markdown file: lower case, punctuation
// dropped, spaces as hyphens, and -1, -2, … for repeats.
func anchors(f markdownFile) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range f.prose {
		m := mdHeading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			out[slug+"-"+strconv.Itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// TestDocsLinksResolve: every relative link in the repository's Markdown leads to a file
// or directory of the repository and, with a #fragment, to a heading of that document.
func TestDocsLinksResolve(t *testing.T) {
	files := markdownFiles(t)
	byPath := map[string]markdownFile{}
	for _, f := range files {
		byPath[f.path] = f
	}
	links := 0
	for _, f := range files {
		for i, l := range f.prose {
			for _, m := range mdLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(l, ""), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				file, fragment, _ := strings.Cut(target, "#")
				dest := f.path
				if file != "" {
					dest = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(f.path), file)))
					if dest == ".." || strings.HasPrefix(dest, "../") {
						t.Errorf("%s:%d: %s leads outside the repository", f.path, i+1, target)
						continue
					}
					if _, err := os.Stat(filepath.Join(repoRoot, dest)); err != nil {
						t.Errorf("%s:%d: %s: no such file or directory (%s)", f.path, i+1, target, dest)
						continue
					}
				}
				if fragment == "" {
					continue
				}
				doc, ok := byPath[dest]
				if !ok {
					t.Errorf("%s:%d: %s: a #fragment on a file that is not Markdown", f.path, i+1, target)
					continue
				}
				if !anchors(doc)[fragment] {
					t.Errorf("%s:%d: %s: %s has no heading #%s", f.path, i+1, target, dest, fragment)
				}
			}
		}
	}
	if links < 50 {
		t.Errorf("checked %d relative links; was the Markdown read?", links)
	}
}

// TestDocsStandAlone: no document points at notes outside the repository.
func TestDocsStandAlone(t *testing.T) {
	for _, f := range markdownFiles(t) {
		data, err := os.ReadFile(filepath.Join(repoRoot, f.path))
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(string(data), "\n") {
			if m := outsideRepo.FindString(l); m != "" {
				t.Errorf("%s:%d: %q points outside the repository: say it here instead", f.path, i+1, m)
			}
		}
	}
}

// definedTests returns the names of every test, fuzz target, benchmark and example of the
// repository.
func definedTests(t *testing.T) map[string]bool {
	t.Helper()
	defined := map[string]bool{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != repoRoot {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, "_test.go") {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range testFunc.FindAllStringSubmatch(string(data), -1) {
				defined[m[1]] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return defined
}

// TestDocsNameRealTestsAndFiles: every test and every repository path a document names in
// `code` exists, so a renamed test or a moved file cannot leave the docs behind.
func TestDocsNameRealTestsAndFiles(t *testing.T) {
	defined := definedTests(t)
	for _, f := range markdownFiles(t) {
		for i, l := range f.prose {
			for _, m := range citedTest.FindAllStringSubmatch(l, -1) {
				if !defined[m[1]] {
					t.Errorf("%s:%d: names %s, which no test file defines", f.path, i+1, m[1])
				}
			}
			for _, m := range citedPath.FindAllStringSubmatch(l, -1) {
				matches, err := filepath.Glob(filepath.Join(repoRoot, m[1]))
				if err != nil || len(matches) == 0 {
					t.Errorf("%s:%d: names %s, which is not in the repository", f.path, i+1, m[1])
				}
			}
		}
	}
}

// TestReadmeTestCommandIsCI: the README shows, in its first screen, exactly the test command
// .ci/run runs, and stays an overview.
func TestReadmeTestCommandIsCI(t *testing.T) {
	ci := readFile(t, filepath.Join(repoRoot, ".ci", "run"))
	command := regexp.MustCompile(`(?m)^go test -race .*\./\.\.\.$`).FindString(ci)
	if command == "" {
		t.Fatal(".ci/run has no `go test -race … ./...` line")
	}
	readme := readFile(t, filepath.Join(repoRoot, "README.md"))
	lines := strings.Split(readme, "\n")
	found := false
	for _, l := range lines[:min(len(lines), 40)] {
		if strings.HasPrefix(l, command+" ") || l == command {
			found = true
		}
	}
	if !found {
		t.Errorf("the first 40 lines of README.md do not show CI's test command %q", command)
	}
	if !strings.Contains(strings.Join(lines[:min(len(lines), 40)], "\n"), "go run ./cmd/oauthbroker demo") {
		t.Error("the first 40 lines of README.md do not show the demo command")
	}
	if len(readme) > 12*1024 {
		t.Errorf("README.md is %d bytes; it is an overview (at most 12 KiB): move reference material into docs/", len(readme))
	}
}
