package config

import (
	"testing"
	"time"
)

// TestWebhookURLMustBeHTTPS: webhook bodies carry chat user ids and account names, so a
// webhook_url is https, or plain http only to this machine. Each bad one is a check error on
// its line.
func TestWebhookURLMustBeHTTPS(t *testing.T) {
	hook := func(u string) string {
		return head + "  b1:\n    api_keys: [key-0123456789abcdef]\n    webhook_url: '" + u + "'\n    webhook_secret: s-0123456789abcdef\n    providers: {p: {type: sandbox}}\n"
	}
	for _, u := range []string{
		"http://bot.example/hooks", "http://10.0.0.5/hooks", "http://192.168.1.20:8080/h", "http://169.254.169.254/",
		"http://localhost.evil.example/h", "http://127.0.0.1.nip.io/h", "http://[::ffff:10.0.0.1]/h", "HTTP://bot.example/h",
	} {
		t.Run(u, func(t *testing.T) {
			_, ps := parse(t, hook(u))
			checkProblems(t, ps, want{5, "bots.b1.webhook_url", "must use https (http is allowed only for localhost, 127.0.0.1 and [::1])"})
		})
	}
	for _, u := range []string{"ftp://bot.example/h", "bot.example/h"} {
		t.Run(u, func(t *testing.T) {
			_, ps := parse(t, hook(u))
			checkProblems(t, ps, want{5, "bots.b1.webhook_url", "must be an absolute URL starting with https://"})
		})
	}
	for _, u := range []string{"https://bot.example/hooks", "http://127.0.0.1:3978/hooks", "http://localhost/h", "http://[::1]:9/h", "http://127.9.9.9/h"} {
		t.Run(u, func(t *testing.T) {
			if cfg, ps := parse(t, hook(u)); ps != nil || cfg.Bots[0].WebhookURL != u {
				t.Errorf("refused: %v", ps)
			}
		})
	}
}

// TestAdminHashBelowCostTenIsRefused: a cost-4 bcrypt hash stops start-up with file:line and
// how to make a new one; cost 10 and up are accepted.
func TestAdminHashBelowCostTenIsRefused(t *testing.T) {
	const cost4 = "$2a$04$8ESVKUyVZjbLFa4h04PE/.E43rNQuBRkhXajiSQrv9cj.sTBOaGFW"
	const cost10 = "$2a$10$Cmu3pcezTKSUgz2jev4f4.CFXt7ICr222En0fjnOIlywN5HtWx866"
	_, ps := parse(t, bot("p: {type: sandbox}")+"admin:\n  password_hash: '"+cost4+"'\n")
	checkProblems(t, ps, want{8, "admin.password_hash", "has bcrypt cost 4, below 10: such a hash is cheap to crack if it leaks; make a new one with htpasswd -nbBC 12 '' 'PASSWORD' | cut -d: -f2"})
	if cfg, ps := parse(t, bot("p: {type: sandbox}")+"admin:\n  password_hash: '"+cost10+"'\n"); ps != nil || cfg.Admin.PasswordHash != cost10 {
		t.Errorf("cost 10 refused: %v", ps)
	}
}

func TestMetricsSettings(t *testing.T) {
	server := func(lines string) string {
		return "server:\n  public_url: https://broker.example.com\n  listen: 127.0.0.1:8080\n" + lines + botsWith("p: {type: sandbox}")
	}
	cfg, ps := parse(t, server("  metrics_listen: 127.0.0.1:9090\n  metrics_token: '${METRICS_TOKEN}'\n"), "METRICS_TOKEN", "m-0123456789abcdef")
	if ps != nil {
		t.Fatalf("valid metrics settings: %v", ps)
	}
	if cfg.Server.MetricsListen != "127.0.0.1:9090" || cfg.Server.MetricsToken != "m-0123456789abcdef" {
		t.Fatalf("valid metrics settings: %+v", cfg.Server)
	}
	if cfg, ps := parse(t, server("")); ps != nil || cfg.Server.MetricsListen != "" || cfg.Server.MetricsToken != "" {
		t.Fatalf("defaults: %+v %v", cfg.Server, ps)
	}
	for _, c := range []struct {
		name, lines string
		want        want
	}{
		{"listen twice", "  metrics_listen: 127.0.0.1:8080\n", want{4, "server.metrics_listen", "must differ from listen"}},
		{"not host:port", "  metrics_listen: localhost\n", want{4, "server.metrics_listen", "must be host:port"}},
		{"bad port", "  metrics_listen: ':99999'\n", want{4, "server.metrics_listen", "invalid port"}},
		{"short token", "  metrics_token: secret\n", want{4, "server.metrics_token", "too short"}},
		{"token with a space", "  metrics_token: 'abc def ghi jkl mno'\n", want{4, "server.metrics_token", "must not contain spaces"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, ps := parse(t, server(c.lines))
			checkProblems(t, ps, c.want)
		})
	}
}

func TestRetentionSetting(t *testing.T) {
	if cfg, ps := parse(t, bot("p: {type: sandbox}")+"storage: {retention: 48h}\n"); ps != nil || cfg.Storage.Retention != 48*time.Hour {
		t.Fatalf("retention 48h: %+v %v", cfg.Storage, ps)
	}
	for _, v := range []string{"10m", "forever", "-1h", "87600h1s"} {
		_, ps := parse(t, bot("p: {type: sandbox}")+"storage: {retention: '"+v+"'}\n")
		if ps == nil {
			t.Errorf("retention %q accepted", v)
			continue
		}
		checkProblems(t, ps, want{7, "storage.retention", "must be"})
	}
}
