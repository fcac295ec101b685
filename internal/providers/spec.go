package providers

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// resolveSpec is what a provider of the broker's own implementations runs with: its type's
// record, the providers.yaml entry's overrides field by field, the older `endpoints:` keys
// mapped onto their fields, paths resolved against token_url, and {placeholders} filled
// from the entry's options (else the record's defaults).
func resolveSpec(r *Record, pc *config.Provider) (config.Spec, error) {
	s := overlay(r.Spec, pc.Spec)
	e := pc.Endpoints
	for _, f := range []struct{ from, to *string }{
		{&e.RequestTokenURL, &s.RequestTokenURL}, {&e.AuthURL, &s.AuthURL}, {&e.TokenURL, &s.TokenURL}, {&e.ProfileURL, &s.UserInfoURL},
	} {
		if *f.from != "" {
			*f.to = *f.from
		}
	}
	opts := mergedOptions(r, pc)
	for _, name := range s.Placeholders() {
		v, ok := opts[name]
		if !ok {
			return s, fmt.Errorf("options.%s is required: the provider's URLs contain {%s}", name, name)
		}
		if !config.ValidPlaceholderValue(v) {
			return s, fmt.Errorf("options.%s must be a host label, tenant id or domain", name)
		}
	}
	opts[config.ClientIDPlaceholder] = pc.Key
	s = fillAll(s, opts)
	for _, f := range []*string{&s.UserInfoURL, &s.RevocationURL, &s.RefreshURL} {
		if strings.HasPrefix(*f, "/") {
			*f = resolveOn(s.TokenURL, *f)
		}
	}
	var missing []string
	need := map[string]string{"auth_url": s.AuthURL, "token_url": s.TokenURL, "profile.id": s.Profile.ID}
	if r.Implementation == config.ImplOAuth1 {
		need["request_token_url"] = s.RequestTokenURL
	}
	if s.Profile.From == "" || s.Profile.From == config.ProfileFromUserInfo || r.Implementation == config.ImplOAuth1 {
		need["userinfo_url"] = s.UserInfoURL
	}
	for k, v := range need {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return s, errors.New("type " + r.Name + " needs " + strings.Join(missing, ", "))
	}
	return s, nil
}

// overlay returns base with every field over sets replaced: strings when non-empty, PKCE
// when given, lists when non-nil, maps key by key, the profile pointer by pointer.
func overlay(base, over config.Spec) config.Spec {
	out := base
	overlayValue(reflect.ValueOf(&out).Elem(), reflect.ValueOf(over))
	return out
}

func overlayValue(dst, src reflect.Value) {
	for i := range dst.NumField() {
		d, s := dst.Field(i), src.Field(i)
		switch d.Kind() {
		case reflect.Struct:
			overlayValue(d, s)
		case reflect.Map:
			if s.Len() == 0 {
				continue
			}
			m := reflect.MakeMap(d.Type())
			for _, from := range []reflect.Value{d, s} {
				for it := from.MapRange(); it.Next(); {
					m.SetMapIndex(it.Key(), it.Value())
				}
			}
			d.Set(m)
		default: // string, *bool, []string
			if !s.IsZero() {
				d.Set(s)
			}
		}
	}
}

// mergedOptions are the record's placeholder defaults with the entry's options over them.
func mergedOptions(r *Record, pc *config.Provider) map[string]string {
	out := maps.Clone(r.Options)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, pc.Options)
	return out
}

// fillAll replaces the {placeholders} in every string of s (URLs, parameters, headers).
func fillAll(s config.Spec, opts map[string]string) config.Spec {
	fillValue(reflect.ValueOf(&s).Elem(), opts)
	return s
}

func fillValue(v reflect.Value, opts map[string]string) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fillValue(v.Field(i), opts)
		}
	case reflect.String:
		v.SetString(fill(v.String(), opts))
	case reflect.Map:
		if v.Len() == 0 || v.Type().Elem().Kind() != reflect.String {
			return
		}
		m := reflect.MakeMap(v.Type())
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), reflect.ValueOf(fill(it.Value().String(), opts)))
		}
		v.Set(m)
	}
}

// fill replaces {name} by opts[name]; unknown names stay (resolveSpec checked they exist).
func fill(s string, opts map[string]string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	for k, v := range opts {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// resolveOn puts path on base's scheme and host: a catalog entry names an endpoint by its
// path when it lives next to the token endpoint, so overriding token_url (a proxy, a test's
// fake, a self-hosted server) moves it too.
func resolveOn(base, path string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return path
	}
	return u.Scheme + "://" + u.Host + path
}
