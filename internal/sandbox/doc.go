// Package sandbox is a small, strict OAuth 2 authorization server: the "sandbox" provider.
//
// It has two jobs. `oauthbroker demo` mounts it in-process so that a new user with no
// secrets and no internet can link an account by clicking "Authorize" on a page clearly
// labelled "Sandbox OAuth provider — not a real service". And the broker's tests use it as
// the one fake OAuth 2 and OpenID Connect provider behind goth's github, gitlab, google,
// slack, discord, spotify, uber and openid-connect providers: it serves their profile
// endpoints at their real paths in their JSON shapes, issues signed ID tokens, and refuses
// what a real provider refuses (wrong client secret, unregistered or mismatched
// redirect_uri, reused or expired codes, PKCE failures, forged consent, expired or revoked
// tokens, too narrow a scope), so a test that passes against it proves something.
//
// Mount it under a prefix and tell it the prefix (used for the consent form and cookie):
//
//	sb, err := sandbox.New(sandbox.Options{Prefix: "/sandbox", Clients: …, Users: …})
//	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", sb))
//
// Routes, relative to the mount point:
//
//	GET  /authorize            consent page (or, with AutoApprove, a redirect with a code)
//	POST /authorize            the consent decision: form_token, user, decision=authorize|deny
//	POST /token                grant_type=authorization_code | refresh_token (RFC 6749 §4.1.3, §6)
//	POST /revoke               RFC 7009, client-authenticated
//	GET  /.well-known/openid-configuration   OpenID Connect Discovery metadata
//	GET  /jwks                 the RS256 key that signs ID tokens (RFC 7517)
//	GET  /user                 GitHub's user (Bearer header only, as GitHub)
//	GET  /user/emails          GitHub's email list (needs scope user or user:email)
//	GET  /api/v4/user          GitLab's user (Bearer header or ?access_token=, as GitLab)
//	GET  /oauth2/v2/userinfo   Google's v2 userinfo
//	GET  /v1/userinfo          Google's OpenID Connect userinfo, also the discovered one
//	GET  /api/auth.test        Slack's token owner
//	GET  /api/users.info       Slack's user (needs users:read; email needs users:read.email)
//	GET  /api/users/@me        Discord's user (needs identify; email needs email)
//	GET  /v1/me                Spotify's user for host api.spotify.com, Uber's for api.uber.com
//	DELETE /applications/{client_id}/grant   GitHub's grant deletion (Basic client auth, JSON token)
//	POST /api/auth.revoke      Slack's revocation of the bearer token
//
// The same endpoints also answer at the real providers' paths (GitHub /login/oauth/…,
// GitLab, Slack and Uber /oauth/authorize, /oauth/token, Google /o/oauth2/v2/auth, Slack
// /api/oauth.access, Discord /api/oauth2/…, Spotify /api/token, Uber /oauth/v2/revoke), so
// a test that rewrites only the host of a provider's hard-coded URLs reaches the right
// handler.
//
// With `openid` in the granted scope, the token answer (of the exchange and of a refresh)
// carries an ID token signed with RS256: iss is Options.Issuer, or else the base URL the
// request reached (scheme, Host, Prefix); aud and azp the client; nonce the authorization
// request's; at_hash; and email or profile claims as the scope allows. Its key is made on
// the first use. The discovery document names the endpoints at the URL it was fetched from.
//
// Everything lives in memory behind one mutex. The package imports only the standard
// library; it must not import anything from oauthbroker.
package sandbox
