package testenv

import "github.com/oauthbroker/oauthbroker/internal/providers"

// CatalogTypes are the catalog's entries the broker runs itself (neither goth's nor the
// generic types): the catalog's end-to-end test drives each, and docs/PROVIDERS.md lists each.
func CatalogTypes() []*providers.Record {
	var out []*providers.Record
	for _, r := range providers.Records() {
		if r.ImplementationName() != "goth" && !r.Generic {
			out = append(out, r)
		}
	}
	return out
}
