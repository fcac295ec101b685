package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDisplayName bounds a bot's display_name: a heading on a phone's screen.
const maxDisplayName = 64

// minSecretLen is the shortest API key or webhook secret accepted: 16 random characters are
// out of reach of online guessing, and a shorter value is usually a placeholder left in.
const minSecretLen = 16

// endpointKeys are the keys Endpoints can hold, in the order messages list them.
var endpointKeys = []string{"auth_url", "token_url", "profile_url", "email_url", "request_token_url"}

// keyUse is where an API key was first seen, to refuse it elsewhere: a bearer key is the
// only thing that tells bots apart on the API, so it must open exactly one bot.
type keyUse struct {
	bot  string
	line int
}

func (p *parser) bots(top *object) []*Bot {
	e, ok := top.keys["bots"]
	if !ok {
		if !top.bad {
			p.problem(top.line, "bots", "required: at least one bot, each with api_keys and providers")
		}
		return nil
	}
	entries, ok := p.mapping(e.value, "bots")
	if ok && len(entries) == 0 {
		p.problem(e.line, "bots", "required: at least one bot, each with api_keys and providers")
	}
	keys := map[string]keyUse{}
	var bots []*Bot
	for _, be := range entries {
		bots = append(bots, p.bot(be, keys))
	}
	return bots
}

func (p *parser) bot(e entry, keys map[string]keyUse) *Bot {
	field := join("bots", e.key)
	p.name(e.line, field, "bot", e.key)
	o := p.object(e.value, field, e.line, "api_keys", "webhook_url", "webhook_secret", "redirect_origins", "display_name", "confirm", "providers")
	b := &Bot{Name: e.key, Line: e.line, Confirm: ConfirmCode}

	vals, line, ok := p.list(o, "api_keys")
	if ok && len(vals) == 0 {
		p.problem(line, join(field, "api_keys"), "required: at least one key of %d+ random characters, like [\"${%s_API_KEY}\"]", minSecretLen, envHint(e.key))
	}
	for _, v := range vals {
		if !p.required(v, "an API key (or remove the empty item)") || !p.secretShape(v, "openssl rand -hex 24") {
			continue
		}
		if first, dup := keys[v.s]; dup {
			if first.bot == e.key {
				p.problem(v.line, v.field, "the same key is listed twice (first on line %d): remove one", first.line)
			} else {
				p.problem(v.line, v.field, "this key is already an API key of bot %s (line %d): a key must open one bot only, generate another", first.bot, first.line)
			}
			continue
		}
		keys[v.s] = keyUse{bot: e.key, line: v.line}
		b.APIKeys = append(b.APIKeys, v.s)
	}

	// Webhook bodies carry chat user ids and account names: https, or http to this machine.
	webhook := p.str(o, "webhook_url")
	if given(webhook) {
		if _, ok := p.httpURL(webhook, true); ok {
			b.WebhookURL = webhook.s
		}
	}
	// A secret without a URL is allowed, so `webhook_url: ${X_WEBHOOK_URL:-}` can switch
	// webhooks on from the environment alone.
	secret := p.str(o, "webhook_secret")
	if webhook.bad || given(webhook) {
		p.required(secret, fmt.Sprintf("webhook_url is set, so events need a signing secret of %d+ random characters, like ${%s_WEBHOOK_SECRET}", minSecretLen, envHint(e.key)))
	}
	if given(secret) && p.secretShape(secret, "openssl rand -hex 32") {
		b.WebhookSecret = secret.s
	}

	origins, _, _ := p.list(o, "redirect_origins")
	for _, v := range origins {
		if p.required(v, "an origin like https://bot.example.com (or remove the empty item)") {
			if s, ok := p.origin(v); ok {
				b.RedirectOrigins = append(b.RedirectOrigins, s)
			}
		}
	}

	if v := p.str(o, "display_name"); given(v) {
		if n := utf8.RuneCountInString(v.s); n > maxDisplayName || strings.ContainsFunc(v.s, func(r rune) bool { return !unicode.IsPrint(r) }) {
			p.problem(v.line, v.field, "must be at most %d printable characters (the connect page names the bot with it)", maxDisplayName)
		} else {
			b.DisplayName = v.s
		}
	}

	if v := p.str(o, "confirm"); given(v) {
		switch v.s {
		case ConfirmNone, ConfirmCode:
			b.Confirm = v.s
		default:
			p.problem(v.line, v.field, "must be none or code (code: the user types a code shown after linking into the chat)")
		}
	}

	pfield := join(field, "providers")
	pe, ok := o.keys["providers"]
	if !ok {
		if !o.bad {
			p.problem(e.line, pfield, "required: at least one provider, like github: {type: github, key: ${GITHUB_KEY}, secret: ${GITHUB_SECRET}}")
		}
		return b
	}
	entries, ok := p.mapping(pe.value, pfield)
	if ok && len(entries) == 0 {
		p.problem(pe.line, pfield, "required: at least one provider, like github: {type: github, key: ${GITHUB_KEY}, secret: ${GITHUB_SECRET}}")
	}
	for _, ce := range entries {
		b.Providers = append(b.Providers, p.provider(ce, pfield))
	}
	return b
}

// secretShape checks the length and characters of an API key or webhook secret. Whitespace is
// refused because a key pasted with a trailing newline would never match a bearer header.
func (p *parser) secretShape(v value, howto string) bool {
	switch {
	case utf8.RuneCountInString(v.s) < minSecretLen:
		p.problem(v.line, v.field, "too short: use at least %d random characters (for example from %s)", minSecretLen, howto)
	case strings.ContainsFunc(v.s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		p.problem(v.line, v.field, "must not contain spaces, line breaks or control characters")
	default:
		return true
	}
	return false
}

func (p *parser) provider(e entry, parent string) *Provider {
	field := join(parent, e.key)
	p.name(e.line, field, "provider", e.key)
	o := p.object(e.value, field, e.line, append([]string{"type", "key", "secret", "scopes", "discovery_url", "endpoints", "options", "api_base_url"}, specKeys...)...)
	pr := &Provider{Name: e.key, Line: e.line}
	rule := p.providerType(p.str(o, "type"), pr)

	key, secret := p.str(o, "key"), p.str(o, "secret")
	if rule != nil && !rule.NoCredentials {
		p.required(key, fmt.Sprintf("the client id (OAuth 1.0a: consumer key) issued by the provider, like ${%s_KEY}", envHint(e.key)))
		p.required(secret, fmt.Sprintf("the client secret issued by the provider, like ${%s_SECRET}", envHint(e.key)))
	}
	pr.Key, pr.Secret = key.s, secret.s

	scopes, _, _ := p.list(o, "scopes")
	for _, v := range scopes {
		switch {
		case v.bad:
		case v.s == "" || strings.ContainsFunc(v.s, unicode.IsSpace):
			p.problem(v.line, v.field, "must be one scope without spaces: write each scope as its own list item")
		default:
			pr.Scopes = append(pr.Scopes, v.s)
		}
	}

	disc := p.str(o, "discovery_url")
	if given(disc) {
		if rule != nil && !rule.DiscoveryURL {
			p.problem(disc.line, disc.field, "type %s does not use discovery_url: remove it", pr.Type)
		} else if _, ok := p.httpURL(disc, true); ok {
			pr.DiscoveryURL = disc.s
		}
	}
	present := p.endpoints(o, rule, pr)
	if rule != nil && rule.DiscoveryURL && !disc.bad && disc.s == "" &&
		!(present["auth_url"] && present["token_url"] && present["profile_url"]) {
		p.problem(disc.line, disc.field, "required for type %s: the issuer's …/.well-known/openid-configuration URL (or all of endpoints auth_url, token_url and profile_url)", pr.Type)
	}
	pr.Spec = p.providerSpec(o, rule, pr)
	pr.APIBaseURL = p.apiBaseURL(p.str(o, "api_base_url"))
	p.options(o, rule, pr)
	return pr
}

// providerSpec reads the fields of Spec where the type takes them: all of them for oauth2 and
// oauth1, as overrides for a catalog type, none for a goth type.
func (p *parser) providerSpec(o *object, rule *TypeRule, pr *Provider) Spec {
	switch {
	case rule == nil:
		return p.specFields(o, false, false)
	case rule.Spec == SpecNone:
		for _, key := range specKeys {
			if e, ok := o.keys[key]; ok {
				p.problem(e.line, join(o.field, key), "type %s is built on goth and takes no %s (see oauthbroker providers for the types that do)", pr.Type, key)
			}
		}
		return Spec{}
	}
	return p.specFields(o, rule.Spec == SpecWhole, rule.OAuth1)
}

// providerType checks type against the known types and returns its rule; nil when no rule
// applies (types not given, or a problem already reported), which skips type-specific checks.
func (p *parser) providerType(t value, pr *Provider) *TypeRule {
	if !p.required(t, "a provider type such as github, google or openid-connect") {
		return nil
	}
	if p.types == nil {
		pr.Type = t.s
		return nil
	}
	rule, ok := p.types[t.s]
	if !ok {
		names := make([]string, 0, len(p.types))
		for name := range p.types {
			names = append(names, name)
		}
		slices.Sort(names)
		msg := "unknown provider type"
		if s := closest(t.s, names); s != "" {
			msg += " (did you mean " + s + "?)"
		}
		p.problem(t.line, t.field, "%s; known types: %s", msg, strings.Join(names, ", "))
		return nil
	}
	pr.Type = t.s
	return &rule
}

// endpoints reads the endpoint overrides the type allows; present tells which keys were given
// (even if broken), so a missing discovery_url is not reported on top of a broken endpoint.
func (p *parser) endpoints(o *object, rule *TypeRule, pr *Provider) (present map[string]bool) {
	present = map[string]bool{}
	e, ok := o.keys["endpoints"]
	if !ok {
		return present
	}
	field := join(o.field, "endpoints")
	allowed := endpointKeys
	if rule != nil {
		allowed = slices.DeleteFunc(slices.Clone(rule.Endpoints), func(k string) bool { return !contains(endpointKeys, k) })
	}
	entries, _ := p.mapping(e.value, field)
	for _, en := range entries {
		f := join(field, en.key)
		switch {
		case contains(allowed, en.key):
		case rule != nil && len(allowed) == 0:
			p.problem(en.line, f, "type %s takes no endpoint overrides: remove endpoints", pr.Type)
			continue
		case rule != nil && contains(endpointKeys, en.key):
			p.problem(en.line, f, "not allowed for type %s; allowed: %s", pr.Type, strings.Join(allowed, ", "))
			continue
		default:
			p.problem(en.line, f, "%s", unknownKey(en.key, allowed))
			continue
		}
		present[en.key] = true
		v := p.scalar(en.value, f, en.line)
		if !p.required(v, "an absolute URL (or remove the key)") {
			continue
		}
		if _, ok := p.httpURL(v, true); !ok {
			continue
		}
		switch en.key {
		case "auth_url":
			pr.Endpoints.AuthURL = v.s
		case "token_url":
			pr.Endpoints.TokenURL = v.s
		case "profile_url":
			pr.Endpoints.ProfileURL = v.s
		case "email_url":
			pr.Endpoints.EmailURL = v.s
		case "request_token_url":
			pr.Endpoints.RequestTokenURL = v.s
		}
	}
	return present
}

// options reads the type's string options; without a rule any key is accepted. The
// {placeholders} of the type's URLs (its catalog entry's and those of the entry itself) are
// options too: they must be given unless the catalog has a default, and may hold only a host
// label, tenant id or domain.
func (p *parser) options(o *object, rule *TypeRule, pr *Provider) {
	field := join(o.field, "options")
	allowed, required := []string(nil), []string(nil)
	if rule != nil {
		allowed = slices.Clone(rule.Options)
		required = slices.Clone(rule.RequiredOptions)
	}
	own := Spec{APIBaseURL: pr.APIBaseURL}.Placeholders()
	for _, name := range pr.Spec.Placeholders() {
		if !slices.Contains(own, name) {
			own = append(own, name)
		}
	}
	for _, name := range own {
		if !slices.Contains(allowed, name) {
			allowed = append(allowed, name)
			required = append(required, name)
		}
	}
	placeholders := append(slices.Clone(own), required...)
	if rule != nil {
		placeholders = append(placeholders, rule.Options...)
		if rule.Spec == SpecNone {
			placeholders = nil // goth types' options are their own knobs, not URL parts
		}
	}
	e, ok := o.keys["options"]
	var entries []entry
	if ok {
		entries, _ = p.mapping(e.value, field)
	}
	for _, en := range entries {
		f := join(field, en.key)
		if rule != nil && !contains(allowed, en.key) {
			if len(allowed) == 0 {
				p.problem(en.line, f, "type %s takes no options: remove options", pr.Type)
			} else {
				p.problem(en.line, f, "%s (type %s)", unknownKey(en.key, allowed), pr.Type)
			}
			continue
		}
		v := p.scalar(en.value, f, en.line)
		if v.bad {
			continue
		}
		if contains(placeholders, en.key) && !ValidPlaceholderValue(v.s) {
			p.problem(en.line, f, "must be a host label, tenant id or domain (letters, digits, . and -): it is put into the provider's URLs as {%s}", en.key)
			continue
		}
		if pr.Options == nil {
			pr.Options = map[string]string{}
		}
		pr.Options[en.key] = v.s
	}
	if o.bad {
		return
	}
	line := o.line
	if ok {
		line = e.line
	}
	for _, name := range required {
		if _, set := pr.Options[name]; set {
			continue
		}
		if slices.ContainsFunc(entries, func(en entry) bool { return en.key == name }) {
			continue // given but broken: reported above
		}
		p.problem(line, join(field, name), "required: the provider's URLs contain {%s}", name)
	}
}
