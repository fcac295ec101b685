package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	for _, tc := range []struct {
		rest, decoded string // decoded "" with refused set: refused
		refused       string // part of the reason
	}{
		{rest: "user/repos", decoded: "user/repos"},
		{rest: "1.1/statuses/update.json", decoded: "1.1/statuses/update.json"},
		{rest: "users/@me", decoded: "users/@me"},                                   // Discord
		{rest: "repos/o/r/contents/a%20b.md", decoded: "repos/o/r/contents/a b.md"}, // an encoded space is a name
		{rest: "v1/x:batchGet", decoded: "v1/x:batchGet"},                           // Google's custom methods
		{rest: "user/", decoded: "user/"},
		{rest: "", decoded: ""},
		{rest: "a/.../b", decoded: "a/.../b"}, // three dots are a name
		{rest: "http://evil/", refused: "first segment"},
		{rest: "/evil.com/x", refused: "empty segment"},
		{rest: "a//b", refused: "empty segment"},
		{rest: "%2e%2e/%2e%2e/admin", refused: ". or .."},
		{rest: "..%2f..%2f", refused: "encoded slash"},
		{rest: "../admin", refused: ". or .."},
		{rest: "user/..", refused: ". or .."},
		{rest: "./user", refused: ". or .."},
		{rest: ".%2E/x", refused: ". or .."},
		{rest: "..;x/admin", refused: ". or .."},
		{rest: "@evil.com", refused: "first segment"},
		{rest: "%40evil.com/x", refused: "first segment"},
		{rest: "user:pass@evil.com", refused: "first segment"},
		{rest: `a\b`, refused: "backslash"},
		{rest: "a%5cb", refused: "encoded slash or backslash"},
		{rest: "a%2Fb", refused: "encoded slash"},
		{rest: "a%00b", refused: "control character"},
		{rest: "a%0d%0aHost:%20evil", refused: "control character"},
		{rest: "a%zzb", refused: "percent-encoding"},
		{rest: strings.Repeat("a/", 2049), refused: "longer than"},
	} {
		got, err := checkPath(tc.rest)
		switch {
		case tc.refused == "" && (err != nil || got != tc.decoded):
			t.Errorf("checkPath(%q) = %q, %v; want %q", tc.rest, got, err, tc.decoded)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("checkPath(%q) = %q, %v; want refused: %s", tc.rest, got, err, tc.refused)
		}
	}
}

func TestSplitPath(t *testing.T) {
	prefix, rest, ok := splitPath("/api/v1/bots/identities/identities/7/proxy/a/b", "7")
	if !ok || prefix != "/api/v1/bots/identities/identities/7/proxy" || rest != "a/b" {
		t.Errorf("splitPath = %q, %q, %v", prefix, rest, ok)
	}
	if _, _, ok := splitPath("/api/v1/bots/b/identities/7/credentials", "7"); ok {
		t.Error("splitPath found a proxy path in a credentials path")
	}
}

func TestTargetURLAndLocal(t *testing.T) {
	tg, err := newTarget("https://ghe.example.com/api/v3", "/api/v1/bots/b/identities/7/proxy", "repos/o/r%20x/issues", "repos/o/r x/issues", "page=2&q=a%26b")
	if err != nil {
		t.Fatal(err)
	}
	if got := tg.url.String(); got != "https://ghe.example.com/api/v3/repos/o/r%20x/issues?page=2&q=a%26b" {
		t.Errorf("url = %s", got)
	}
	for raw, want := range map[string]string{
		"https://ghe.example.com/api/v3/repos/o/r/issues?page=3": "/api/v1/bots/b/identities/7/proxy/repos/o/r/issues?page=3",
		"https://GHE.example.com:443/api/v3/user":                "/api/v1/bots/b/identities/7/proxy/user",
		"/api/v3/user/repos":                                     "/api/v1/bots/b/identities/7/proxy/user/repos",
		"comments":                                               "/api/v1/bots/b/identities/7/proxy/repos/o/r%20x/comments",
		"https://ghe.example.com/api/v3":                         "/api/v1/bots/b/identities/7/proxy/",
		"https://evil.example/api/v3/user":                       "",
		"http://ghe.example.com/api/v3/user":                     "",
		"https://ghe.example.com:8443/api/v3/user":               "",
		"https://ghe.example.com/api/v31/user":                   "",
		"https://ghe.example.com/other":                          "",
		"https://u:p@ghe.example.com/api/v3/user":                "",
		"//evil.example/api/v3/user":                             "",
	} {
		got, ok := tg.local(raw)
		if got != want || ok != (want != "") {
			t.Errorf("local(%q) = %q, %v; want %q", raw, got, ok, want)
		}
	}
}

func TestHeaders(t *testing.T) {
	in := http.Header{}
	for k, v := range map[string]string{
		"Authorization": "Bearer the-bots-key", "Cookie": "s=1", "X-Forwarded-For": "10.0.0.1",
		"X-Forwarded-Host": "evil", "Forwarded": "for=1", "Accept": "application/json",
		"If-None-Match": `"abc"`, "Content-Type": "application/json", "X-GitHub-Api-Version": "2022-11-28",
		"Proxy-Authorization": "Basic x", "Connection": "close",
	} {
		in.Set(k, v)
	}
	out := http.Header{}
	copyRequestHeaders(out, in)
	for _, k := range []string{"Authorization", "Cookie", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "Proxy-Authorization", "Connection"} {
		if out.Get(k) != "" {
			t.Errorf("the bot's %s reached the provider", k)
		}
	}
	for _, k := range []string{"Accept", "If-None-Match", "Content-Type", "X-GitHub-Api-Version"} {
		if out.Get(k) != in.Get(k) {
			t.Errorf("%s = %q, want the bot's %q", k, out.Get(k), in.Get(k))
		}
	}
	if out.Get("User-Agent") != userAgent {
		t.Errorf("User-Agent = %q", out.Get("User-Agent"))
	}

	tg, _ := newTarget("https://api.github.com", "/api/v1/bots/b/identities/7/proxy", "user/repos", "user/repos", "")
	up := http.Header{}
	for k, v := range map[string]string{
		"Set-Cookie": "sid=1", "Www-Authenticate": "Bearer", "Strict-Transport-Security": "max-age=1",
		"Access-Control-Allow-Origin": "*", "Content-Type": "application/json", "Etag": `"e"`,
		"X-Ratelimit-Remaining": "4999", "X-Rate-Limit-Reset": "1", "Retry-After": "30", "X-Github-Request-Id": "AB:CD",
		"X-Request-Id": "upstream-id",
	} {
		up.Set(k, v)
	}
	up.Add("Link", `<https://api.github.com/user/repos?page=2>; rel="next", <https://elsewhere.example/x>; rel="help"`)
	got := http.Header{}
	copyResponseHeaders(got, up, tg, 7)
	for _, k := range []string{"Set-Cookie", "Www-Authenticate", "Strict-Transport-Security", "Access-Control-Allow-Origin", "X-Request-Id"} {
		if got.Get(k) != "" {
			t.Errorf("the provider's %s reached the bot", k)
		}
	}
	for _, k := range []string{"Content-Type", "Etag", "X-Ratelimit-Remaining", "X-Rate-Limit-Reset", "Retry-After"} {
		if got.Get(k) != up.Get(k) {
			t.Errorf("%s = %q, want the provider's %q", k, got.Get(k), up.Get(k))
		}
	}
	if got.Get(HeaderIdentity) != "7" || got.Get(HeaderUpstreamRequest) != "upstream-id" {
		t.Errorf("identity %q, upstream request id %q", got.Get(HeaderIdentity), got.Get(HeaderUpstreamRequest))
	}
	if want := `</api/v1/bots/b/identities/7/proxy/user/repos?page=2>; rel="next", <https://elsewhere.example/x>; rel="help"`; got.Get("Link") != want {
		t.Errorf("Link = %s\nwant %s", got.Get("Link"), want)
	}
}
