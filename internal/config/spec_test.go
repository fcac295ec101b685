package config

import (
	"maps"
	"strings"
	"testing"
)

// specTypes adds the kinds of rule the provider catalog produces to testTypes.
var specTypes = func() map[string]TypeRule {
	m := maps.Clone(testTypes)
	m["oauth2"] = TypeRule{Spec: SpecWhole}
	m["oauth1"] = TypeRule{Spec: SpecWhole, OAuth1: true}
	m["zendesk"] = TypeRule{Spec: SpecOverride, Options: []string{"subdomain"}, RequiredOptions: []string{"subdomain"}}
	m["microsoft"] = TypeRule{Spec: SpecOverride, Options: []string{"tenant"}}
	return m
}()

// ownProvider is a valid `type: oauth2` entry as one flow map; own(…) adds fields.
const ownProvider = `own: {type: oauth2, key: k, secret: s, auth_url: "https://a.example/auth", token_url: "https://a.example/token", userinfo_url: "https://a.example/me", profile: {id: /id}%s}`

// ownWith is ownProvider with one of its fields replaced.
func ownWith(key, value string) string {
	fields := []string{"type: oauth2", "key: k", "secret: s", `auth_url: "https://a.example/auth"`, `token_url: "https://a.example/token"`,
		`userinfo_url: "https://a.example/me"`, "profile: {id: /id}"}
	for i, fl := range fields {
		if strings.HasPrefix(fl, key+":") {
			fields[i] = key + ": " + value
		}
	}
	return bot("own: {" + strings.Join(fields, ", ") + "}")
}

func TestOAuth2FieldProblems(t *testing.T) {
	if _, err := Parse("t.yaml", []byte(bot(strings.Replace(ownProvider, "%s", "", 1))), LoadOptions{Types: specTypes}); err != nil {
		t.Fatalf("the valid entry: %v", err)
	}
	own := func(extra string) string { return bot(strings.Replace(ownProvider, "%s", ", "+extra, 1)) }
	const f = "bots.b1.providers.own."
	for _, tc := range []struct {
		name, src, field, msg string
	}{
		{"no auth_url", bot(`own: {type: oauth2, key: k, secret: s, token_url: "https://a.example/t", userinfo_url: "https://a.example/me", profile: {id: /id}}`), "auth_url", "required: an absolute https URL"},
		{"token_url over http", ownWith("token_url", `"http://a.example/t"`), "token_url", "must use https"},
		{"no userinfo_url", bot(`own: {type: oauth2, key: k, secret: s, auth_url: "https://a.example/a", token_url: "https://a.example/t", profile: {id: /id}}`), "userinfo_url", "required"},
		{"no profile", bot(`own: {type: oauth2, key: k, secret: s, auth_url: "https://a.example/a", token_url: "https://a.example/t", userinfo_url: "https://a.example/me"}`), "profile", "required: where the account id is"},
		{"profile without id", bot(`own: {type: oauth2, key: k, secret: s, auth_url: "https://a.example/a", token_url: "https://a.example/t", userinfo_url: "https://a.example/me", profile: {name: /name}}`), "profile.id", "required: the JSON pointer to the account id"},
		{"id not a pointer", bot(`own: {type: oauth2, key: k, secret: s, auth_url: "https://a.example/a", token_url: "https://a.example/t", userinfo_url: "https://a.example/me", profile: {id: data.id}}`), "profile.id", "must be a JSON pointer (RFC 6901)"},
		{"profile from elsewhere", bot(`own: {type: oauth2, key: k, secret: s, auth_url: "https://a.example/a", token_url: "https://a.example/t", userinfo_url: "https://a.example/me", profile: {id: /id, from: cookie}}`), "profile.from", "must be userinfo, token or id_token"},
		{"token_auth", own("token_auth: header"), "token_auth", "must be basic, post or none"},
		{"pkce", own("pkce: plain"), "pkce", "must be true (S256) or false"},
		{"scope_separator", own(`scope_separator: "|"`), "scope_separator", `must be " ", "," or ";"`},
		{"scope_param", own("scope_param: redirect_uri"), "scope_param", "must be a parameter name like scope or user_scope"},
		{"auth_params sets client_id", own("auth_params: {client_id: other}"), "auth_params.client_id", "cannot be set here: the broker sends it itself"},
		{"token_params sets the secret", own("token_params: {client_secret: x}"), "token_params.client_secret", "cannot be set here"},
		{"headers sets Authorization", own("headers: {authorization: x}"), "headers.authorization", "cannot be set here: the broker sets it itself"},
		{"header name", own(`headers: {"Notion Version": x}`), "headers.Notion Version", "is not a valid HTTP header name"},
		{"token_path", own("token_path: authed_user"), "token_path", "must be a JSON pointer"},
		{"refresh", own("refresh: sometimes"), "refresh", "must be none, yes or rotating"},
		{"revocation form", own("revocation: magic"), "revocation", "must be rfc7009, bearer, bearer-delete, client-query, github-grant, oauth1 or oauth1-delete"},
		{"revocation without URL", own("revocation: bearer"), "revocation", "needs revocation_url"},
		{"revocation_url relative with a query", own(`revocation_url: "/revoke?x=1"`), "revocation_url", "must be a path like /oauth/revoke"},
		{"userinfo_method", own("userinfo_method: PUT"), "userinfo_method", "must be GET or POST"},
		{"userinfo_body", own(`userinfo_body: "{ viewer { id } }"`), "userinfo_body", "must be JSON"},
		{"body with GET", own(`userinfo_method: GET, userinfo_body: '{"query":"{ viewer { id } }"}'`), "userinfo_body", "a body is sent with POST only"},
		{"granted_scopes", own("granted_scopes: all"), "granted_scopes", "must be answer or requested"},
		{"token_header", own("token_header: Content-Type"), "token_header", "must be a header name like X-Shopify-Access-Token"},
		{"malformed placeholder", ownWith("auth_url", `"https://{Tenant}.example/a"`), "auth_url", "has a malformed {placeholder}"},
		{"placeholder without option", ownWith("auth_url", `"https://login.example/{tenant}/a"`), "options.tenant", "required: the provider's URLs contain {tenant}"},
		{"placeholder option escaping the host", ownWith("auth_url", `"https://{tenant}.example/a", options: {tenant: "evil.example/x?"}`), "options.tenant", "must be a host label, tenant id or domain"},
		{"option no URL uses", own("options: {tenant: contoso}"), "options.tenant", "type oauth2 takes no options: remove options"},
		{"catalog type without its option", bot("zd: {type: zendesk, key: k, secret: s}"), "", ""},
		{"goth type with a spec field", bot(`gh: {type: github, key: k, secret: s, auth_url: "https://x.example/a"}`), "", ""},
		{"oauth1 with pkce", bot(`tr: {type: oauth1, key: k, secret: s, request_token_url: "https://t.example/r", auth_url: "https://t.example/a", token_url: "https://t.example/t", userinfo_url: "https://t.example/me", profile: {id: /id}, pkce: true}`), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.src), LoadOptions{Types: specTypes})
			ps, ok := err.(*Problems)
			if !ok || len(*ps) != 1 {
				t.Fatalf("want exactly one problem, got %v", err)
			}
			p := (*ps)[0]
			field, msg := f+tc.field, tc.msg
			switch tc.name {
			case "catalog type without its option":
				field, msg = "bots.b1.providers.zd.options.subdomain", "required: the provider's URLs contain {subdomain}"
			case "goth type with a spec field":
				field, msg = "bots.b1.providers.gh.auth_url", "type github is built on goth and takes no auth_url"
			case "oauth1 with pkce":
				field, msg = "bots.b1.providers.tr.pkce", "does not apply to OAuth 1.0a"
			}
			if p.Line != 6 || p.Field != field || !strings.Contains(p.Msg, msg) {
				t.Errorf("problem %s\nwant t.yaml:6: %s: …%s…", p, field, msg)
			}
		})
	}
}
