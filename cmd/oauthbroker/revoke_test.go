package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// unlink deletes an identity through the API and returns its last history event.
func (b *testBroker) unlink(bot, key string, id int64) store.Event {
	b.t.Helper()
	if st := b.api("DELETE", fmt.Sprintf("/bots/%s/identities/%d", bot, id), key, nil, nil); st != http.StatusNoContent {
		b.t.Fatalf("DELETE identity %d: %d", id, st)
	}
	if st := b.api("GET", fmt.Sprintf("/bots/%s/identities/%d/credentials", bot, id), key, nil, nil); st != http.StatusNotFound {
		b.t.Errorf("identity %d still answers after DELETE: %d", id, st)
	}
	evs, err := b.app.Store.Events(b.t.Context(), bot, id)
	if err != nil || len(evs) == 0 {
		b.t.Fatalf("history of %d: %v %v", id, evs, err)
	}
	ev := evs[len(evs)-1]
	if ev.Kind != store.EventUnlinked {
		b.t.Fatalf("last event %+v, want unlinked", ev)
	}
	for _, secret := range []string{"sbx_at_", "sbx_rt_"} {
		if strings.Contains(ev.Detail, secret) {
			b.t.Errorf("history holds a token: %q", ev.Detail)
		}
	}
	return ev
}

// TestUnlinkRevokesAtTheProvider: DELETE first revokes the grant where the provider offers a
// way (the right token, at the right endpoint), records the outcome, and deletes the identity
// whether or not the revocation worked.
func TestUnlinkRevokesAtTheProvider(t *testing.T) {
	t.Run("RFC 7009 (gitlab)", func(t *testing.T) {
		f := newTokenFake(t, false)
		b := startBroker(t, glBot(f.URL, ""))
		f.Register(t, b.URL+"/bots/alpha/gl/callback")
		id := b.linkOne("alpha", keyA, "gl", "slack", "U1")
		g := f.LastGrant(t)
		ev := b.unlink("alpha", keyA, id.ID)
		if ev.Outcome != "revoked" || f.Stats().Revocations != 1 {
			t.Fatalf("event %+v, %d revocations at the provider", ev, f.Stats().Revocations)
		}
		// The refresh token was revoked, and with it (RFC 7009 §2.1) the grant's access token.
		if f.Live(g.RefreshToken) || f.Live(g.AccessToken) {
			t.Error("the grant is still live at the provider")
		}
	})
	t.Run("a failing revocation still unlinks", func(t *testing.T) {
		f := newTokenFake(t, false)
		b := startBroker(t, glBot(f.URL, ""))
		f.Register(t, b.URL+"/bots/alpha/gl/callback")
		id := b.linkOne("alpha", keyA, "gl", "slack", "U1")
		f.RevokeFails.Store(true)
		ev := b.unlink("alpha", keyA, id.ID)
		if ev.Outcome != "revoke_failed" || !strings.Contains(ev.Detail, "HTTP 500") {
			t.Fatalf("event %+v, want revoke_failed naming the 500", ev)
		}
		if ids := b.identities("alpha", keyA, "slack", "U1"); len(ids) != 0 {
			t.Errorf("still listed: %+v", ids)
		}
	})
	t.Run("GitHub grant deletion", func(t *testing.T) {
		sb, sbURL := newSandbox(t)
		b := startBroker(t, fmt.Sprintf(`  alpha:
    api_keys: [%q]
    confirm: none
    providers:
      github:
        type: github
        key: gh-client
        secret: gh-secret-0123456789
        endpoints: {auth_url: %[2]s/login/oauth/authorize, token_url: %[2]s/login/oauth/access_token, profile_url: %[2]s/user, email_url: %[2]s/user/emails}
`, keyA, sbURL))
		if err := sb.AddClient(sandbox.Client{ID: "gh-client", Secret: "gh-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/github/callback"}}); err != nil {
			t.Fatal(err)
		}
		id := b.linkOne("alpha", keyA, "github", "slack", "U1")
		g := sb.Issued()[0]
		if ev := b.unlink("alpha", keyA, id.ID); ev.Outcome != "revoked" {
			t.Fatalf("event %+v", ev)
		}
		if sb.Live(g.AccessToken) || sb.Stats().Revocations != 1 || len(sb.Stats().Rejected) != 0 {
			t.Fatalf("after unlink: live %v, stats %+v", sb.Live(g.AccessToken), sb.Stats())
		}
	})
	t.Run("Twitter invalidate_token", func(t *testing.T) {
		b, tw := startTwitterBroker(t)
		id := b.linkOne("alpha", keyA, "twitter", "slack", "U1")
		token := tw.Issued()[0].Token
		if ev := b.unlink("alpha", keyA, id.ID); ev.Outcome != "revoked" {
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
			sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}},
				AutoApprove: "1001", Issuer: tc.issuer})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(sb)
			t.Cleanup(srv.Close)
			providertest.NewRewriteTransport(providertest.SandboxRewrites(tc.typ, srv.URL)...).Install(t)
			extra := ""
			if tc.typ == "openid-connect" {
				extra = ", discovery_url: " + srv.URL + "/.well-known/openid-configuration"
			}
			b := startBroker(t, fmt.Sprintf("  alpha:\n    api_keys: [%q]\n    confirm: none\n    providers:\n      p: {type: %s, key: p-client, secret: p-secret-0123456789%s}\n", keyA, tc.typ, extra))
			if err := sb.AddClient(sandbox.Client{ID: "p-client", Secret: "p-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/p/callback"}}); err != nil {
				t.Fatal(err)
			}
			id := b.linkOne("alpha", keyA, "p", "slack", "U1")
			g := sb.Issued()[0]
			if ev := b.unlink("alpha", keyA, id.ID); ev.Outcome != "revoked" {
				t.Fatalf("event %+v", ev)
			}
			if sb.Live(g.AccessToken) || sb.Stats().Revocations != 1 {
				t.Fatalf("after unlink: live %v, stats %+v", sb.Live(g.AccessToken), sb.Stats())
			}
		})
	}
	t.Run("Slack auth.revoke", func(t *testing.T) {
		sb, sbURL := newSandbox(t)
		providertest.NewRewriteTransport(providertest.SandboxRewrites("slack-classic", sbURL)...).Install(t)
		b := startBroker(t, fmt.Sprintf("  alpha:\n    api_keys: [%q]\n    confirm: none\n    providers:\n      slack: {type: slack-classic, key: sl-client, secret: sl-secret-0123456789}\n", keyA))
		if err := sb.AddClient(sandbox.Client{ID: "sl-client", Secret: "sl-secret-0123456789", RedirectURIs: []string{b.URL + "/bots/alpha/slack/callback"}}); err != nil {
			t.Fatal(err)
		}
		id := b.linkOne("alpha", keyA, "slack", "slack", "U1")
		g := sb.Issued()[0]
		if ev := b.unlink("alpha", keyA, id.ID); ev.Outcome != "revoked" {
			t.Fatalf("event %+v", ev)
		}
		if sb.Live(g.AccessToken) || sb.Stats().Revocations != 1 {
			t.Fatalf("after unlink: live %v, stats %+v", sb.Live(g.AccessToken), sb.Stats())
		}
	})
}
