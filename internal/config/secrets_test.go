package config

import (
	"strings"
	"testing"
)

// Start-up errors go to logs and CI output. Every value below is wrong in some way and marked
// with "s3kr1t"; the problems must name fields and variables, never repeat a value.
func TestProblemsNeverQuoteValues(t *testing.T) {
	const src = `server:
  public_url: https://admin:s3kr1t-pw@broker.example.com/?s3kr1t
  listen: s3kr1t
  link_ttl: s3kr1t
storage:
  driver: postgres
  dsn: mysql://root:s3kr1t-db@db/ob
admin:
  password_hash: s3kr1t-not-a-hash
bots:
  b1:
    api_keys: ["${SHORT_KEY}", "s3kr1t-dup-key-0123", "s3kr1t-dup-key-0123", "s3kr1t key with spaces"]
    webhook_url: "s3kr1t://hook"
    webhook_secret: ${SHORT_HOOK}
    redirect_origins: ["https://u:s3kr1t@bot.example", "https://bot.example/s3kr1t"]
    confirm: s3kr1t
    providers:
      gh:
        type: s3kr1t-type
        key: "s3kr1t-lit-${UNSET_VAR}"
        secret: "s3kr1t${oops"
        scopes: ["s3kr1t scope"]
      sso:
        type: openid-connect
        key: k
        secret: "s3kr1t${A:-${B}}"
        discovery_url: "http://s3kr1t.example/x"
        endpoints: {auth_url: "s3kr1t"}
        options: {s3kr1t: x}
  b2:
    api_keys: ["s3kr1t-dup-key-0123"]
    providers: {p: {type: sandbox, key: {s3kr1t: 1}}}
`
	_, ps := parse(t, src, "SHORT_KEY", "s3kr1t", "SHORT_HOOK", "s3kr1t-hook")
	if ps == nil || len(*ps) < 20 {
		t.Fatalf("expected a problem for each bad value, got:\n%v", ps)
	}
	for _, p := range *ps {
		// Keys (field names) may be echoed; values never.
		msg := strings.Replace(p.String(), "options.s3kr1t", "options.KEY", 1)
		if strings.Contains(msg, "s3kr1t") {
			t.Errorf("a problem quotes a value: %s", p)
		}
	}
}
