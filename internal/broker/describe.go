package broker

import "slices"

// ProviderInfo is what a bot may know about one of its providers: never a key or secret.
type ProviderInfo struct {
	Name, Type string
	Title      string // the provider's brand, else its configured name
	// APIBaseURL is where the API proxy sends calls ("" when the provider has none).
	APIBaseURL string
	// DocsURL is the provider's documentation page from the catalog ("" when there is none).
	DocsURL    string
	CanRefresh bool // expiring tokens are refreshed, so a linked account keeps working
	OAuth1     bool // requests are signed with OAuth 1.0a (HMAC-SHA1) rather than a bearer token
	Scopes     []string
}

// DescribeProvider describes a bot's provider.
func (b *Broker) DescribeProvider(bot, provider string) (ProviderInfo, error) {
	_, p, err := b.lookup(bot, provider)
	if err != nil {
		return ProviderInfo{}, err
	}
	info := ProviderInfo{Name: p.Name, Type: p.Type, Title: p.Title, APIBaseURL: p.APIBaseURL, CanRefresh: p.CanRefresh,
		OAuth1: p.OAuth1, Scopes: slices.Clone(p.Scopes)}
	if r := p.Record(); r != nil {
		info.DocsURL = r.Docs
	}
	return info, nil
}
