// Package sandbox is a small, strict OAuth 2 authorization server: the "sandbox" provider.
//
// It has two jobs. `oauthbroker demo` mounts it in-process so that a new user with no
// secrets and no internet can link an account by clicking "Authorize" on a page clearly
// labelled "Sandbox OAuth provider — not a real service". And the broker's tests use it as
// the fake OAuth 2 provider behind goth's github, gitlab and google providers: it serves
// their profile endpoints in their JSON shapes and refuses what a real provider refuses
// (wrong client secret, unregistered or mismatched redirect_uri, reused or expired codes,
// PKCE failures, forged consent, expired or revoked tokens), so a test that passes against
// it proves something.
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
//	GET  /user                 GitHub's user (Bearer header only, as GitHub)
//	GET  /user/emails          GitHub's email list (needs scope user or user:email)
//	GET  /api/v4/user          GitLab's user (Bearer header or ?access_token=, as GitLab)
//	GET  /oauth2/v2/userinfo   Google's v2 userinfo, what goth's google provider reads
//	GET  /v1/userinfo          Google's OpenID Connect userinfo
//
// The same endpoints also answer at the real providers' paths (/login/oauth/authorize,
// /login/oauth/access_token, /oauth/authorize, /oauth/token, /oauth/revoke, /o/oauth2/auth,
// /o/oauth2/v2/auth), so a test that rewrites only the host of a provider's hard-coded URLs
// reaches the right handler.
//
// Everything lives in memory behind one mutex. The package imports only the standard
// library; it must not import anything from oauthbroker.
package sandbox
