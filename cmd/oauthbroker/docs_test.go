package main

import (
	"io/fs"
	"os"
	"path"
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
	codeSpan  = regexp.MustCompile("`[^`]*`")
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)
	citedTest = regexp.MustCompile("`((?:Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]+)")
	citedPath = regexp.MustCompile("`((?:cmd|internal|client|examples|templates|docs)/[A-Za-z0-9_.*/-]*)`")
	// What points a reader at notes they do not have: a document name (the repository's are
	// upper case, as README.md and docs/API.md) that no Markdown file here has, a section sign
	// right after an upper-case name (an RFC's number stands in between), an issue number, and
	// a relative path that climbs out of the repository.
	docName    = regexp.MustCompile(`(?:[\w.-]+/)*[A-Z][A-Z0-9_-]*\.md\b`)
	docSection = regexp.MustCompile(`\b[A-Z]{3,}(?:\.md)?\s*§`)
	issueRef   = regexp.MustCompile(`(?i)\bissues? #?\d+\b`)
	parentPath = regexp.MustCompile(`(?:\.\./)+[\w.-]+`)
	webURL     = regexp.MustCompile(`[a-z][a-z0-9+.-]*://\S+`)
	testFunc   = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark|Example)\w+)\(`)
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

// TestDocsStandAlone: no document, comment or file of the repository points at notes outside
// it. Every text file is read but this one, whose examples are such references.
func TestDocsStandAlone(t *testing.T) {
	mdNames := map[string]bool{} // the base names of the repository's Markdown files
	var texts []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != repoRoot && strings.HasPrefix(d.Name(), ".") && d.Name() != ".ci" {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() || rel == "cmd/oauthbroker/docs_test.go" {
			return nil
		}
		if strings.HasSuffix(rel, ".md") {
			mdNames[d.Name()] = true
		}
		switch filepath.Ext(rel) {
		case ".go", ".md", ".yaml", ".yml", ".html", ".css", ".js", ".py", ".sh", ".mod":
			texts = append(texts, rel)
		case "":
			if strings.HasPrefix(rel, ".ci/") {
				texts = append(texts, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range texts {
		data, err := os.ReadFile(filepath.Join(repoRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(string(data), "\n") {
			for _, m := range outsideRefs(l, path.Dir(rel), mdNames) {
				t.Errorf("%s:%d: %q points outside the repository: say it here instead", rel, i+1, m)
			}
		}
	}
	if len(texts) < 100 {
		t.Errorf("read %d text files; was the repository found?", len(texts))
	}
}

// outsideRefs returns what line, in a file of directory dir, names outside the repository.
func outsideRefs(line, dir string, mdNames map[string]bool) []string {
	line = webURL.ReplaceAllString(line, "")
	var out []string
	for _, m := range docName.FindAllString(line, -1) {
		if !mdNames[path.Base(m)] {
			out = append(out, m)
		}
	}
	out = append(out, docSection.FindAllString(line, -1)...)
	out = append(out, issueRef.FindAllString(line, -1)...)
	if trimmed := strings.TrimSpace(line); strings.HasPrefix(trimmed, "//") || strings.HasPrefix(trimmed, "#") || !strings.Contains(line, `"`) {
		// A comment or prose: a relative path in it must stay inside the repository. (Code
		// holds "../" in attack strings, which are not references.)
		for _, m := range parentPath.FindAllString(line, -1) {
			if p := path.Join(dir, m); p == ".." || strings.HasPrefix(p, "../") {
				out = append(out, m)
			}
		}
	}
	return out
}

// TestOutsideRefs: each kind of reference to notes outside the repository is found, and the
// repository's own names are not.
func TestOutsideRefs(t *testing.T) {
	mdNames := map[string]bool{"API.md": true, "README.md": true}
	for _, c := range []struct {
		line string
		want int
	}{
		{"see docs/API.md and README.md", 0},
		{"// RFC 6749 §10.5 and RFC 5849 §3.4.1", 0},
		{"https://github.com/o/r/blob/main/docs/GUIDE.md", 0},
		{"see NOTES.md for why", 1},
		{"see docs/GUIDE.md", 1},
		{"as the CONTRACT §3.1 says", 1},
		{"fixed in issue #12", 1},
		{"// from ../../../notes/x.txt", 1},
		{"// the fixture at ../testdata/x.json", 0},
	} {
		if got := outsideRefs(c.line, "cmd/oauthbroker", mdNames); len(got) != c.want {
			t.Errorf("%q: found %q, want %d", c.line, got, c.want)
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
