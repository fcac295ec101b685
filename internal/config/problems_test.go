package config

import (
	"fmt"
	"strings"
	"testing"
)

// want is one expected problem: its exact `t.yaml:line: field: ` prefix and part of its message.
type want struct {
	line  int
	field string
	msg   string
}

func (w want) prefix() string {
	if w.field == "" {
		return fmt.Sprintf("t.yaml:%d: ", w.line)
	}
	return fmt.Sprintf("t.yaml:%d: %s: ", w.line, w.field)
}

// checkProblems asserts ps holds exactly wants, in order.
func checkProblems(t *testing.T, ps *Problems, wants ...want) {
	t.Helper()
	if ps == nil {
		t.Fatalf("no problems, want %d", len(wants))
	}
	lines := strings.Split(ps.Error(), "\n")
	if len(lines) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(wants), ps)
	}
	for i, w := range wants {
		if !strings.HasPrefix(lines[i], w.prefix()) || !strings.Contains(lines[i], w.msg) {
			t.Errorf("problem %d = %q\nwant prefix %q containing %q", i, lines[i], w.prefix(), w.msg)
		}
	}
}

// head is a valid start of a file (lines 1-2); cases write their own bots from line 3.
const head = "server: {public_url: https://broker.example.com}\nbots:\n"

// botsWith is a valid 4-line `bots:` section with one bot b1, whose one provider entry is p
// (on the section's 5th line).
func botsWith(p string) string {
	return "bots:\n  b1:\n    api_keys: [key-0123456789abcdef]\n    providers:\n      " + p + "\n"
}

// bot is a valid file of one line of server and botsWith(p): p is on line 6.
func bot(p string) string {
	return "server: {public_url: https://broker.example.com}\n" + botsWith(p)
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		env   []string
		wants []want
	}{
		{"unknown key with a suggestion",
			"server:\n  public_url: https://b.example\n  listn: :80\n" + botsWith("gh: {type: github, key: k, secret: s}"),
			nil, []want{{3, "server.listn", `unknown key "listn" (did you mean listen?); allowed: public_url, listen, outbound_timeout, link_ttl, max_link_ttl`}}},
		{"unknown provider key", bot("gh: {type: github, key: k, secret: s, scope: [repo]}"),
			nil, []want{{6, "bots.b1.providers.gh.scope", `unknown key "scope" (did you mean scopes?)`}}},
		{"unknown top-level key", "logging: debug\n" + bot("gh: {type: github, key: k, secret: s}"),
			nil, []want{{1, "logging", `unknown key "logging"; allowed: server, storage, admin, bots`}}},
		{"map where a list is expected", head + "  b1:\n    api_keys: {a: b}\n    providers: {gh: {type: sandbox}}\n",
			nil, []want{{4, "bots.b1.api_keys", "must be a list like [a, b], not a map"}}},
		{"list where a map is expected", "server: [a]\nbots: {b1: {api_keys: [key-0123456789abcdef], providers: {p: {type: sandbox}}}}\n",
			nil, []want{{1, "server", "must be a map (key: value lines), not a list"}}},
		{"map where a string is expected", bot("gh:\n        type: github\n        key: {id: x}\n        secret: s"),
			nil, []want{{8, "bots.b1.providers.gh.key", "must be a single value, not a map"}}},
		{"missing public_url", "server:\n  listen: :80\nbots: {b1: {api_keys: [key-0123456789abcdef], providers: {p: {type: sandbox}}}}\n",
			nil, []want{{1, "server.public_url", "required: the URL browsers and providers use"}}},
		{"missing server and bots", "admin: {}\n",
			nil, []want{{1, "server.public_url", "required"}, {1, "bots", "required: at least one bot"}}},
		{"missing secret", bot("gh:\n        type: github\n        key: k"),
			nil, []want{{6, "bots.b1.providers.gh.secret", "required: the client secret issued by the provider, like ${GH_SECRET}"}}},
		{"missing api_keys and providers", head + "  b1: {confirm: none}\n",
			nil, []want{{3, "bots.b1.api_keys", "required: at least one key"}, {3, "bots.b1.providers", "required: at least one provider"}}},
		{"unset variable", bot("gh: {type: github, key: k, secret: '${GH_SECRET}'}"),
			nil, []want{{6, "bots.b1.providers.gh.secret", "unset environment variable GH_SECRET: export it or write ${GH_SECRET:-default}"}}},
		{"two unset variables in one value", bot("gh: {type: github, key: '${A}-${B}-${A}', secret: s}"),
			nil, []want{{6, "bots.b1.providers.gh.key", "unset environment variable A:"}, {6, "bots.b1.providers.gh.key", "unset environment variable B:"}}},
		{"default without dash", bot("gh: {type: github, key: k, secret: '${GH_SECRET:x}'}"),
			nil, []want{{6, "bots.b1.providers.gh.secret", "malformed ${…} at character 1: write ${NAME} or ${NAME:-default}"}}},
		{"unclosed ${", bot("gh: {type: github, key: k, secret: 'ab${GH_SECRET'}"),
			nil, []want{{6, "bots.b1.providers.gh.secret", "unclosed ${ at character 3"}}},
		{"empty ${}", bot("gh: {type: github, key: '${}', secret: s}"),
			nil, []want{{6, "bots.b1.providers.gh.key", "malformed ${…}"}}},
		{"nested default", bot("gh: {type: github, key: k, secret: '${A:-${B}}'}"),
			nil, []want{{6, "bots.b1.providers.gh.secret", "nested ${ in the default of ${A:-…}"}}},
		{"public_url not absolute", "server: {public_url: 'localhost:8080'}\n" + botsWith("p: {type: sandbox}"),
			nil, []want{{1, "server.public_url", "must be an absolute URL starting with https:// or http://"}}},
		{"public_url with a query", "server: {public_url: 'https://b.example/?x=1'}\n" + botsWith("p: {type: sandbox}"),
			nil, []want{{1, "server.public_url", "must not have a ?query"}}},
		{"webhook_url with credentials", head + "  b1:\n    api_keys: [key-0123456789abcdef]\n    webhook_url: https://u:p@bot.example/h\n    webhook_secret: s-0123456789abcdef\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{5, "bots.b1.webhook_url", "must not contain user:password@"}}},
		{"discovery_url over plain http", bot("sso: {type: openid-connect, key: k, secret: s, discovery_url: 'http://id.example/.well-known/openid-configuration'}"),
			nil, []want{{6, "bots.b1.providers.sso.discovery_url", "must use https (http is allowed only for localhost"}}},
		{"endpoint not absolute", bot("gh: {type: github, key: k, secret: s, endpoints: {auth_url: /login}}"),
			nil, []want{{6, "bots.b1.providers.gh.endpoints.auth_url", "must be an absolute URL starting with"}}},
		{"redirect origin with a path and one over http", head + "  b1:\n    api_keys: [key-0123456789abcdef]\n    redirect_origins: [https://bot.example/cb, http://bot.example]\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{5, "bots.b1.redirect_origins[0]", "must be an origin, scheme://host[:port], without a path or query"}, {5, "bots.b1.redirect_origins[1]", "must use https"}}},
		{"bad bot name", head + "  Support Bot:\n    api_keys: [key-0123456789abcdef]\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{3, "bots.Support Bot", "invalid bot name: use 1-63 lowercase letters"}}},
		{"bad provider name", bot("-gh: {type: sandbox}"),
			nil, []want{{6, "bots.b1.providers.-gh", "invalid provider name"}}},
		{"duplicate bot", bot("p: {type: sandbox}") + "  b1:\n    api_keys: [key-0123456789abcdeX]\n",
			nil, []want{{7, "bots.b1", "defined twice (first on line 3)"}}},
		{"duplicate provider", bot("p: {type: sandbox}") + "      p: {type: sandbox}\n",
			nil, []want{{7, "bots.b1.providers.p", "defined twice (first on line 6)"}}},
		{"duplicate api key across bots", bot("p: {type: sandbox}") + "  b2:\n    api_keys: [other-key-0123456789, key-0123456789abcdef]\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{8, "bots.b2.api_keys[1]", "this key is already an API key of bot b1 (line 4): a key must open one bot only"}}},
		{"duplicate api key in one bot", head + "  b1:\n    api_keys: [key-0123456789abcdef, key-0123456789abcdef]\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{4, "bots.b1.api_keys[1]", "the same key is listed twice (first on line 4)"}}},
		{"short api key", head + "  b1:\n    api_keys: [short]\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{4, "bots.b1.api_keys[0]", "too short: use at least 16 random characters"}}},
		{"unknown provider type", bot("gh: {type: githb, key: k, secret: s}"),
			nil, []want{{6, "bots.b1.providers.gh.type", "unknown provider type (did you mean github?); known types: discord, github, gitlab, google, openid-connect, sandbox, slack, spotify, twitter, uber"}}},
		{"endpoint not allowed for type", bot("tw: {type: twitter, key: k, secret: s, endpoints: {email_url: 'https://x.example/e'}}"),
			nil, []want{{6, "bots.b1.providers.tw.endpoints.email_url", "not allowed for type twitter; allowed: request_token_url, auth_url, token_url, profile_url"}}},
		{"type without endpoints", bot("g: {type: google, key: k, secret: s, endpoints: {auth_url: 'https://x.example/a'}}"),
			nil, []want{{6, "bots.b1.providers.g.endpoints.auth_url", "type google takes no endpoint overrides"}}},
		{"unknown endpoint key", bot("gh: {type: github, key: k, secret: s, endpoints: {authurl: 'https://x.example/a'}}"),
			nil, []want{{6, "bots.b1.providers.gh.endpoints.authurl", `unknown key "authurl" (did you mean auth_url?)`}}},
		{"missing discovery_url", bot("sso: {type: openid-connect, key: k, secret: s, endpoints: {auth_url: 'https://id.example/a'}}"),
			nil, []want{{6, "bots.b1.providers.sso.discovery_url", "required for type openid-connect"}}},
		{"discovery_url for a type without it", bot("gh: {type: github, key: k, secret: s, discovery_url: 'https://x.example/d'}"),
			nil, []want{{6, "bots.b1.providers.gh.discovery_url", "type github does not use discovery_url"}}},
		{"option not allowed", bot("g: {type: google, key: k, secret: s, options: {promt: consent}}"),
			nil, []want{{6, "bots.b1.providers.g.options.promt", `unknown key "promt" (did you mean prompt?); allowed: prompt, access_type, hd (type google)`}}},
		{"scope with a space", bot("gh: {type: github, key: k, secret: s, scopes: ['read:user repo']}"),
			nil, []want{{6, "bots.b1.providers.gh.scopes[0]", "must be one scope without spaces"}}},
		{"display_name too long", head + "  b1:\n    api_keys: [key-0123456789abcdef]\n    display_name: " + strings.Repeat("x", 65) + "\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{5, "bots.b1.display_name", "at most 64 printable characters"}}},
		{"display_name with a control character", head + "  b1:\n    api_keys: [key-0123456789abcdef]\n    display_name: \"Bot\\u0007\"\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{5, "bots.b1.display_name", "at most 64 printable characters"}}},
		{"confirm value", head + "  b1:\n    api_keys: [key-0123456789abcdef]\n    confirm: yes\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{5, "bots.b1.confirm", "must be none or code"}}},
		{"webhook without secret", head + "  b1:\n    api_keys: [key-0123456789abcdef]\n    webhook_url: https://bot.example/h\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{3, "bots.b1.webhook_secret", "required: webhook_url is set"}}},
		{"durations", "server:\n  public_url: https://b.example\n  outbound_timeout: 1ms\n  link_ttl: 2h\n  max_link_ttl: 1h\n  listen: localhost\n" + botsWith("p: {type: sandbox}"),
			nil, []want{{3, "server.outbound_timeout", "must be between 1s and 5m0s"}, {5, "server.max_link_ttl", "must be at least link_ttl (2h0m0s)"}, {6, "server.listen", "must be host:port"}}},
		{"duration without unit", "server: {public_url: https://b.example, link_ttl: 600}\n" + botsWith("p: {type: sandbox}"),
			nil, []want{{1, "server.link_ttl", "must be a duration like 30s, 10m or 24h"}}},
		{"storage driver", bot("p: {type: sandbox}") + "storage: {driver: mysql}\n",
			nil, []want{{7, "storage.driver", "must be sqlite or postgres"}}},
		{"postgres without dsn", bot("p: {type: sandbox}") + "storage:\n  driver: postgres\n",
			nil, []want{{7, "storage.dsn", "required: a URL like postgres://"}}},
		{"postgres dsn not a URL", bot("p: {type: sandbox}") + "storage: {driver: postgres, dsn: 'host=db user=ob'}\n",
			nil, []want{{7, "storage.dsn", "must be a postgres:// or postgresql:// URL"}}},
		{"postgres pool size", bot("p: {type: sandbox}") + "storage: {driver: postgres, dsn: 'postgres://db/ob', max_conns: 0}\n",
			nil, []want{{7, "storage.max_conns", "must be a whole number of connections from 1 to 1000"}}},
		{"pool size for sqlite", bot("p: {type: sandbox}") + "storage: {max_conns: 5}\n",
			nil, []want{{7, "storage.max_conns", "applies to driver postgres only"}}},
		{"admin hash", bot("p: {type: sandbox}") + "admin: {password_hash: hunter2}\n",
			nil, []want{{7, "admin.password_hash", "must be a bcrypt hash"}}},
		{"yaml syntax error", "server:\n  public_url: [x\nbots: {}\n",
			nil, []want{{2, "", "invalid YAML: did not find expected ',' or ']'"}}},
		{"yaml mapping value in the wrong place", "server:\n  public_url: https://b.example\n  listen: a: b\nbots: {}\n",
			nil, []want{{3, "", "invalid YAML: mapping values are not allowed in this context"}}},
		{"yaml unclosed flow map", "server: {public_url: https://b.example\nbots: {}\n",
			nil, []want{{2, "", "invalid YAML: did not find expected ',' or '}'"}}},
		{"yaml tab indentation", "server:\n\tpublic_url: https://b.example\n",
			nil, []want{{2, "", "invalid YAML: found character that cannot start any token"}}},
		{"empty file", "# nothing\n", nil, []want{{1, "", "the file is empty"}}},
		{"second document", bot("p: {type: sandbox}") + "---\nserver: {}\n",
			nil, []want{{7, "", "a second YAML document (---)"}}},
		{"merge key", head + "  b1:\n    <<: {confirm: none}\n    api_keys: [key-0123456789abcdef]\n    providers: {p: {type: sandbox}}\n",
			nil, []want{{4, "bots.b1", "YAML merge keys (<<) are not supported"}}},
		{"many problems at once, sorted by line",
			"bots:\n  b1:\n    api_keys: [short]\n    confirm: maybe\n    providers:\n      gh: {type: nope}\n      x: {type: github, key: '${X_KEY}'}\nserver: {public_url: ftp://x, listn: 1}\n",
			nil, []want{
				{3, "bots.b1.api_keys[0]", "too short"},
				{4, "bots.b1.confirm", "must be none or code"},
				{6, "bots.b1.providers.gh.type", "unknown provider type; known types:"},
				{7, "bots.b1.providers.x.key", "unset environment variable X_KEY"},
				{7, "bots.b1.providers.x.secret", "required"},
				{8, "server.listn", `unknown key "listn"`},
				{8, "server.public_url", "must be an absolute URL starting with https:// or http://"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parse(t, tt.src, tt.env...)
			checkProblems(t, ps, tt.wants...)
		})
	}
}

// A broken value must not also be reported as missing: an operator fixes the unset variable
// and is then not surprised by a second, already fixed, complaint.
func TestProblemsDoNotCascade(t *testing.T) {
	src := bot("sso: {type: openid-connect, key: '${K}', secret: '${S}', discovery_url: '${D}'}")
	_, ps := parse(t, src)
	checkProblems(t, ps,
		want{6, "bots.b1.providers.sso.key", "unset environment variable K"},
		want{6, "bots.b1.providers.sso.secret", "unset environment variable S"},
		want{6, "bots.b1.providers.sso.discovery_url", "unset environment variable D"})
}

func TestProblemsErrorFormat(t *testing.T) {
	ps := &Problems{{File: "p.yaml", Line: 3, Field: "server.listen", Msg: "bad"}, {File: "p.yaml", Line: 1, Msg: "empty"}}
	if got, want := ps.Error(), "p.yaml:3: server.listen: bad\np.yaml:1: empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
