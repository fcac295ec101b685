package broker

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRedirectURLCorpus feeds the open-redirect corpus in testdata to the validator.
func TestRedirectURLCorpus(t *testing.T) {
	f, err := os.Open("testdata/redirect_urls.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	origins := []string{"https://bot.example", "http://localhost:3978"}
	unescape := strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`)
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verdict, raw, ok := strings.Cut(line, " ")
		if !ok || (verdict != "allow" && verdict != "deny") {
			t.Fatalf("bad corpus line %q", line)
		}
		raw = unescape.Replace(raw)
		n++
		err := ValidateRedirectURL(raw, origins)
		if verdict == "allow" && err != nil {
			t.Errorf("refused %q: %v", raw, err)
		}
		if verdict == "deny" {
			if err == nil {
				t.Errorf("allowed %q", raw)
			} else if ErrorCode(err) != CodeRedirectRejected {
				t.Errorf("%q: code %s", raw, ErrorCode(err))
			}
		}
	}
	if n < 40 {
		t.Fatalf("corpus has %d cases; it was not read right", n)
	}
}

func TestRedirectURLWithoutOrigins(t *testing.T) {
	if err := ValidateRedirectURL("https://bot.example/", nil); ErrorCode(err) != CodeRedirectRejected {
		t.Errorf("a bot without redirect_origins accepted a redirect_url: %v", err)
	}
}

func TestValidateChannelUser(t *testing.T) {
	for _, c := range []struct {
		channel, user string
		ok            bool
	}{
		{"telegram", "12345", true},
		{"slack:T01", "U02 with spaces é", true},
		{"c", strings.Repeat("x", 256), true},
		{"c", strings.Repeat("x", 257), false},
		{"c", "", false},
		{"c", "a\x00b", false},
		{"c", "a\u0085b", false},
		{"c", string([]byte{0xff}), false},
		{"", "u", false},
		{strings.Repeat("c", 65), "u", false},
		{"a/b", "u", false},
		{"a b", "u", false},
	} {
		err := validateChannelUser(c.channel, c.user)
		if (err == nil) != c.ok {
			t.Errorf("channel %q user %q (%d bytes, valid UTF-8 %v): err %v", c.channel, c.user, len(c.user), utf8.ValidString(c.user), err)
		}
	}
}

// TestUserLabel: the connect page shows user_label as the chat user's name, so it is one short
// line of visible text: nothing that breaks the line or hides what the page says.
func TestUserLabel(t *testing.T) {
	for label, ok := range map[string]bool{
		"":                        true,
		"Ada (@ada)":              true,
		"Zoë 🚀 O'Brien":           true,
		strings.Repeat("é", 64):   true,
		strings.Repeat("é", 65):   false,
		"Ada\nAdmin":              false,
		"Ada\u202eevil":           false, // right-to-left override
		"Ada\u200b":               false, // zero-width space
		"Ada\x00":                 false,
		string([]byte{0xff, 'a'}): false,
	} {
		if err := validateUserLabel(label); (err == nil) != ok {
			t.Errorf("user_label %q: %v, want ok=%v", label, err, ok)
		}
	}
}
