package broker_test

import (
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestUnlinkRevokesAtTheProvider: DELETE first revokes the grant where the provider offers a
// way (the right token, at the right endpoint), records the outcome, and deletes the identity
// whether or not the revocation worked.
func TestUnlinkRevokesAtTheProvider(t *testing.T) {
	t.Run("RFC 7009 (gitlab)", func(t *testing.T) {
		f := testenv.NewTokenFake(t, false)
		b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Gitlab(f.URL)}})
		f.Register(t, b.URL+"/bots/alpha/gl/callback")
		id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")
		g := f.LastGrant(t)
		ev := b.Unlink("alpha", testenv.KeyA, id.ID)
		if ev.Outcome != "revoked" || f.Stats().Revocations != 1 {
			t.Fatalf("event %+v, %d revocations at the provider", ev, f.Stats().Revocations)
		}
		// The refresh token was revoked, and with it (RFC 7009 §2.1) the grant's access token.
		if f.Live(g.RefreshToken) || f.Live(g.AccessToken) {
			t.Error("the grant is still live at the provider")
		}
	})
	t.Run("a failing revocation still unlinks", func(t *testing.T) {
		f := testenv.NewTokenFake(t, false)
		b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").Gitlab(f.URL)}})
		f.Register(t, b.URL+"/bots/alpha/gl/callback")
		id := b.LinkOne("alpha", testenv.KeyA, "gl", "slack", "U1")
		f.RevokeFails.Store(true)
		ev := b.Unlink("alpha", testenv.KeyA, id.ID)
		if ev.Outcome != "revoke_failed" || !strings.Contains(ev.Detail, "HTTP 500") {
			t.Fatalf("event %+v, want revoke_failed naming the 500", ev)
		}
		if ids := b.Identities("alpha", testenv.KeyA, "slack", "U1"); len(ids) != 0 {
			t.Errorf("still listed: %+v", ids)
		}
	})
	t.Run("GitHub grant deletion", func(t *testing.T) {
		sb, sbURL := testenv.NewSandbox(t)
		b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
			Provider("github", "github", "gh-client", "gh-secret-0123456789", testenv.At(testenv.GithubAt(sbURL)))}})
		if err := sb.AddClient(sandbox.Client{ID: "gh-client", Secret: "gh-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/github/callback"}}); err != nil {
			t.Fatal(err)
		}
		id := b.LinkOne("alpha", testenv.KeyA, "github", "slack", "U1")
		g := sb.Issued()[0]
		if ev := b.Unlink("alpha", testenv.KeyA, id.ID); ev.Outcome != "revoked" {
			t.Fatalf("event %+v", ev)
		}
		if sb.Live(g.AccessToken) || sb.Stats().Revocations != 1 || len(sb.Stats().Rejected) != 0 {
			t.Fatalf("after unlink: live %v, stats %+v", sb.Live(g.AccessToken), sb.Stats())
		}
	})
	t.Run("Twitter invalidate_token", func(t *testing.T) {
		b, tw := testenv.StartTwitterBroker(t)
		id := b.LinkOne("alpha", testenv.KeyA, "twitter", "slack", "U1")
		token := tw.Issued()[0].Token
		if ev := b.Unlink("alpha", testenv.KeyA, id.ID); ev.Outcome != "revoked" {
			t.Fatalf("event %+v", ev)
		}
		var seen bool
		for _, c := range tw.Calls() {
			if c.Path == "/1.1/oauth/invalidate_token" {
				seen = true
				if c.Rejected != "" || c.Token != token || c.ConsumerKey != "ck-alpha" {
					t.Errorf("invalidate_token call %+v, want it accepted, signed with the user's token", c)
				}
			}
		}
		if !seen {
			t.Fatalf("no invalidate_token call: %+v", tw.Calls())
		}
	})
	// RFC 7009 at the real hosts of types whose URLs goth hard-codes, and at the
	// revocation_endpoint an OpenID Connect discovery document names.
	for _, tc := range []struct{ typ, issuer string }{
		{"discord", ""}, {"google", "https://accounts.google.com"}, {"uber", ""}, {"openid-connect", ""},
	} {
		t.Run(tc.typ+" (RFC 7009)", func(t *testing.T) {
			sb, opts := testenv.TypeSandbox(t, tc.typ, tc.issuer)
			b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
				Provider("p", tc.typ, "p-client", "p-secret-0123456789", opts...)}})
			if err := sb.AddClient(sandbox.Client{ID: "p-client", Secret: "p-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/p/callback"}}); err != nil {
				t.Fatal(err)
			}
			id := b.LinkOne("alpha", testenv.KeyA, "p", "slack", "U1")
			g := sb.Issued()[0]
			if ev := b.Unlink("alpha", testenv.KeyA, id.ID); ev.Outcome != "revoked" {
				t.Fatalf("event %+v", ev)
			}
			if sb.Live(g.AccessToken) || sb.Stats().Revocations != 1 {
				t.Fatalf("after unlink: live %v, stats %+v", sb.Live(g.AccessToken), sb.Stats())
			}
		})
	}
	t.Run("Slack auth.revoke", func(t *testing.T) {
		sb, sbURL := testenv.NewSandbox(t)
		providertest.NewRewriteTransport(providertest.SandboxRewrites("slack-classic", sbURL)...).Install(t)
		b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
			Provider("slack", "slack-classic", "sl-client", "sl-secret-0123456789")}})
		if err := sb.AddClient(sandbox.Client{ID: "sl-client", Secret: "sl-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/slack/callback"}}); err != nil {
			t.Fatal(err)
		}
		id := b.LinkOne("alpha", testenv.KeyA, "slack", "slack", "U1")
		g := sb.Issued()[0]
		if ev := b.Unlink("alpha", testenv.KeyA, id.ID); ev.Outcome != "revoked" {
			t.Fatalf("event %+v", ev)
		}
		if sb.Live(g.AccessToken) || sb.Stats().Revocations != 1 {
			t.Fatalf("after unlink: live %v, stats %+v", sb.Live(g.AccessToken), sb.Stats())
		}
	})
}
