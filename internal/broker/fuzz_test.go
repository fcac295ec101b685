package broker

import (
	"bufio"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
)

// The fuzz targets of the broker's input handling. Seeds: the cases below, the open-redirect
// corpus in testdata/redirect_urls.txt, and testdata/fuzz/<target>/ (findings become files
// there). Run one with: go test -run '^$' -fuzz '^FuzzRedirectURL$' -fuzztime 30s ./internal/broker/

// corpusURLs returns every URL of the open-redirect corpus, unescaped as its test does.
func corpusURLs(f *testing.F) []string {
	file, err := os.Open("testdata/redirect_urls.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	unescape := strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`)
	var out []string
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		_, raw, _ := strings.Cut(line, " ")
		out = append(out, unescape.Replace(raw))
	}
	return out
}

var fuzzOrigins = []string{"https://bot.example", "http://localhost:3978"}

// FuzzRedirectURL: a redirect_url the validator accepts means, to a browser too, a page on
// one of the allowed origins. The check here is independent of url.Parse: the accepted text
// must itself begin with an allowed origin (any case, the scheme's default port allowed)
// followed by its end, '/', '?' or '#' — so userinfo, backslashes, other hosts, ports or
// schemes can never be accepted, however they are spelled.
func FuzzRedirectURL(f *testing.F) {
	for _, u := range corpusURLs(f) {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := ValidateRedirectURL(raw, fuzzOrigins)
		if err != nil {
			if ErrorCode(err) != CodeRedirectRejected {
				t.Fatalf("%q: error code %s", raw, ErrorCode(err))
			}
			return
		}
		if len(raw) > 2048 {
			t.Fatalf("accepted %d bytes", len(raw))
		}
		for _, r := range raw {
			if r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) {
				t.Fatalf("accepted %q with %q in it", raw, r)
			}
		}
		if !onAllowedOrigin(strings.ToLower(raw)) {
			t.Fatalf("accepted %q, which does not begin with an allowed origin", raw)
		}
		if u, err := url.Parse(raw); err != nil || u.User != nil {
			t.Fatalf("accepted %q: parse %v, userinfo %v", raw, err, u.User)
		}
	})
}

// onAllowedOrigin is the browser's reading of fuzzOrigins, written without url.Parse.
func onAllowedOrigin(lower string) bool {
	for _, o := range []struct{ prefix, port, defaultPort string }{
		{"https://bot.example", "", "443"},
		{"http://localhost", "3978", ""},
	} {
		rest, ok := strings.CutPrefix(lower, o.prefix)
		if !ok {
			continue
		}
		port := ""
		if strings.HasPrefix(rest, ":") {
			end := 1
			for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
				end++
			}
			port, rest = rest[1:end], rest[end:]
			if port == "" && o.port == "" {
				port = o.defaultPort // "https://bot.example:/" is the default port
			}
		}
		if port != o.port && !(o.port == "" && port == o.defaultPort) {
			continue
		}
		if rest == "" || strings.ContainsRune("/?#", rune(rest[0])) {
			return true
		}
	}
	return false
}

// FuzzLinkToken: a link token opens its own link and nothing else. Any other string — a
// near miss, another length, bytes a URL decoder produces — is "not found", never an internal
// error, another link, or a panic.
func FuzzLinkToken(f *testing.F) {
	st, err := sqlite.Open(f.Context(), ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	b := &Broker{store: st, now: time.Now, log: slog.New(slog.DiscardHandler)}
	now := time.Now().UTC()
	token := randomToken(32) // as links were made before tokens were ordered
	ordered := newOrderedToken(now)
	// Live links of bot b for provider p, and live links of another bot and another provider.
	for i, l := range []struct {
		token, bot, provider string
		used                 bool
	}{
		{token, "b", "p", false},
		{token + "x", "b", "p", false}, // a longer token's link must not match a prefix
		{randomToken(32), "other", "p", false},
		{randomToken(32), "b", "other", false},
		{ordered, "b", "p", false},
		{newOrderedToken(now), "b", "p", false}, // the same time, another secret
	} {
		link, err := st.CreateLink(f.Context(), store.Link{TokenHash: tokenKey(l.token), Bot: l.bot,
			Providers: []store.LinkProvider{{Provider: l.provider}}, Channel: "c", User: "u", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
		if err != nil || link.ID != int64(i+1) {
			f.Fatalf("CreateLink: %v", err)
		}
	}
	for _, s := range []string{token, token[:42], token + "=", strings.ToUpper(token), url.QueryEscape(token + "/+"),
		"", "x", strings.Repeat("A", 43), strings.Repeat("\x00", 43), strings.Repeat("é", 22)[:43], "%00'--", token[1:] + token[:1],
		ordered[:11] + token, ordered[:53] + "A", strings.Repeat("A", 54), ordered[:53] + "!", ordered + "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		link, err := b.liveLink(t.Context(), "b", s)
		if want := map[string]int64{token: 1, ordered: 5}[s]; want != 0 {
			if err != nil || link.ID != want {
				t.Fatalf("the link's own token: link %d, %v; want link %d", link.ID, err, want)
			}
			return
		}
		if ErrorCode(err) != CodeLinkNotFound || link.ID != 0 {
			t.Fatalf("token %q: link %d, %v; want link_not_found", s, link.ID, err)
		}
	})
}
