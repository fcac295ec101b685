package config

import (
	"errors"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that every problem it reports can be
// shown to an operator: a file, a line > 0, a message. The seed corpus in
// testdata/fuzz/FuzzParse holds real files. Run: go test -fuzz=FuzzParse ./internal/config/
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimalFile))
	f.Add([]byte(bot("x: {type: openid-connect, key: '${A}', secret: '${B:-s}', endpoints: {auth_url: 'http://127.0.0.1:1/a'}}")))
	f.Add([]byte("a: &x {b: *x}\nbots: *x\n"))
	getenv := env("A", "a-value-0123456789", "SUPPORT_KEY", "support-key-0123456789", "EMPTY", "")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, types := range []map[string]TypeRule{nil, testTypes} {
			cfg, err := Parse("fuzz.yaml", data, LoadOptions{Getenv: getenv, Types: types})
			if err == nil {
				if cfg == nil || cfg.Server.PublicURL == "" || len(cfg.Bots) == 0 {
					t.Fatalf("no problems but an incomplete config: %+v", cfg)
				}
				for _, b := range cfg.Bots {
					if len(b.APIKeys) == 0 || len(b.Providers) == 0 || b.Line <= 0 {
						t.Fatalf("no problems but bot %+v is incomplete", b)
					}
				}
				continue
			}
			var ps *Problems
			if !errors.As(err, &ps) || len(*ps) == 0 {
				t.Fatalf("error %T %v, want non-empty *Problems", err, err)
			}
			for _, p := range *ps {
				if p.Line <= 0 || p.File != "fuzz.yaml" || p.Msg == "" {
					t.Fatalf("problem without a place or a message: %#v", p)
				}
			}
		}
	})
}
