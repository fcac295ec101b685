package broker

import (
	"context"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// MaxOpenFlows bounds the sign-ins started through one link (an auth request that went on to
// the provider) and not finished. Every started flow is a row in the store and, for OAuth
// 1.0a, a request token at the provider; without a cap, one forwarded link opened in a loop
// grows both for as long as the link lives. The cap is per link, so a link that leaked and is
// opened again and again blocks only itself, never the chat user's other links. Ten is more
// than a person opening a link in a few tabs and browsers needs; a flow stops counting when
// its callback arrives (a cancel at the provider included) or after FlowTTL.
const MaxOpenFlows = 10

// CodeTooManyFlows: the link has MaxOpenFlows sign-ins started and not finished.
const CodeTooManyFlows = "too_many_flows"

// checkOpenFlows refuses to start one more flow on the link past MaxOpenFlows. The count and
// the insert are not one transaction: concurrent requests may overshoot the cap by their
// number, which bounds the growth just the same.
func (b *Broker) checkOpenFlows(ctx context.Context, link store.Link) error {
	n, err := b.store.CountOpenFlows(ctx, link.ID, b.now().UTC())
	if err != nil {
		return wrapError(err, CodeInternal, "counting the link's open flows failed")
	}
	if n >= MaxOpenFlows {
		b.log.WarnContext(ctx, "flow: too many open sign-ins on one link; refused", "bot", link.Bot, "link", link.ID, "open", n)
		return newError(CodeTooManyFlows, "too many sign-ins were started with this link without being finished; finish one of them, or try again in %d minutes", int(FlowTTL.Minutes()))
	}
	return nil
}
