package config

import "testing"

// defaultProxy is server.proxy when the file says nothing about it.
var defaultProxy = Proxy{MaxRequestBody: DefaultProxyMaxBody, MaxResponseBody: DefaultProxyMaxBody, RateLimit: DefaultProxyRateLimit}

func TestProxySettings(t *testing.T) {
	cfg := mustParse(t, `server:
  public_url: https://broker.example.com
  proxy:
    max_request_body: 512KiB
    max_response_body: "2097152"
    rate_limit: 0
`+botsWith(`gh: {type: github, key: k, secret: s, api_base_url: "https://ghe.example.com/api/v3/"}`)+
		`      local: {type: github, key: k, secret: s, api_base_url: "http://127.0.0.1:8081"}
`)
	if want := (Proxy{MaxRequestBody: 512 << 10, MaxResponseBody: 2 << 20, RateLimit: 0}); cfg.Server.Proxy != want {
		t.Errorf("Proxy = %+v, want %+v", cfg.Server.Proxy, want)
	}
	b := cfg.Bot("b1")
	if got := b.Provider("gh").APIBaseURL; got != "https://ghe.example.com/api/v3" {
		t.Errorf("api_base_url = %q, want it without the trailing slash", got)
	}
	if got := b.Provider("local").APIBaseURL; got != "http://127.0.0.1:8081" {
		t.Errorf("loopback api_base_url = %q", got)
	}
}

func TestProxyProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want want
	}{
		{"plain http to a real host", bot(`gh: {type: github, key: k, secret: s, api_base_url: "http://api.github.com"}`),
			want{6, "bots.b1.providers.gh.api_base_url", "must use https"}},
		{"a query", bot(`gh: {type: github, key: k, secret: s, api_base_url: "https://api.github.com/?x=1"}`),
			want{6, "bots.b1.providers.gh.api_base_url", "must not have a ?query"}},
		{"credentials", bot(`gh: {type: github, key: k, secret: s, api_base_url: "https://u:p@api.github.com"}`),
			want{6, "bots.b1.providers.gh.api_base_url", "user:password@"}},
		{"dot segments", bot(`gh: {type: github, key: k, secret: s, api_base_url: "https://api.github.com/a/../b"}`),
			want{6, "bots.b1.providers.gh.api_base_url", "plain path"}},
		{"empty segment", bot(`gh: {type: github, key: k, secret: s, api_base_url: "https://api.github.com//b"}`),
			want{6, "bots.b1.providers.gh.api_base_url", "plain path"}},
		{"encoded path", bot(`gh: {type: github, key: k, secret: s, api_base_url: "https://api.github.com/a%2Fb"}`),
			want{6, "bots.b1.providers.gh.api_base_url", "percent-encoded"}},
		{"not a URL", bot(`gh: {type: github, key: k, secret: s, api_base_url: "api.github.com"}`),
			want{6, "bots.b1.providers.gh.api_base_url", "absolute URL"}},
		{"body cap without a number", "server:\n  public_url: https://broker.example.com\n  proxy: {max_request_body: lots}\n" + botsWith("gh: {type: github, key: k, secret: s}"),
			want{3, "server.proxy.max_request_body", "1KiB to 1GiB"}},
		{"body cap too big", "server:\n  public_url: https://broker.example.com\n  proxy: {max_response_body: 2GiB}\n" + botsWith("gh: {type: github, key: k, secret: s}"),
			want{3, "server.proxy.max_response_body", "1KiB to 1GiB"}},
		{"body cap too small", "server:\n  public_url: https://broker.example.com\n  proxy: {max_response_body: 100}\n" + botsWith("gh: {type: github, key: k, secret: s}"),
			want{3, "server.proxy.max_response_body", "1KiB to 1GiB"}},
		{"negative rate limit", "server:\n  public_url: https://broker.example.com\n  proxy: {rate_limit: -1}\n" + botsWith("gh: {type: github, key: k, secret: s}"),
			want{3, "server.proxy.rate_limit", "whole number"}},
		{"unknown proxy key", "server:\n  public_url: https://broker.example.com\n  proxy: {timeout: 5s}\n" + botsWith("gh: {type: github, key: k, secret: s}"),
			want{3, "server.proxy.timeout", "unknown key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := parse(t, tc.src)
			checkProblems(t, ps, tc.want)
		})
	}
}
