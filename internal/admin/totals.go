package admin

import (
	"slices"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// totalsView is the numbers at the top of the list: per status, and per bot with its
// providers. Bots and providers of the configuration are listed even with nobody linked yet;
// those only in the store (a bot removed from the configuration) are listed too, since their
// identities are still there.
func (h *Handler) totalsView(totals []store.IdentityTotal) listTotals {
	var out listTotals
	byStatus := map[string]int{}
	type botCount struct {
		n         int
		providers map[string]int
		order     []string
	}
	bots := map[string]*botCount{}
	var order []string
	addBot := func(name string) *botCount {
		b, ok := bots[name]
		if !ok {
			b = &botCount{providers: map[string]int{}}
			bots[name] = b
			order = append(order, name)
		}
		return b
	}
	addProvider := func(b *botCount, name string, n int) {
		if _, ok := b.providers[name]; !ok {
			b.order = append(b.order, name)
		}
		b.providers[name] += n
		b.n += n
	}
	for _, bc := range h.broker.Config().Bots {
		b := addBot(bc.Name)
		for _, p := range bc.Providers {
			addProvider(b, p.Name, 0)
		}
	}
	for _, t := range totals {
		out.All += t.Count
		byStatus[t.Status] += t.Count
		addProvider(addBot(t.Bot), t.Provider, t.Count)
	}
	for _, st := range statuses {
		out.Statuses = append(out.Statuses, countLink{
			Label: st.label, Count: byStatus[st.value], Class: st.class, URL: listFilter{status: st.value}.url("", 0),
		})
	}
	for _, name := range order {
		b := bots[name]
		bt := botTotal{countLink: countLink{Label: name, Count: b.n, URL: listFilter{bot: name}.url("", 0)}}
		for _, p := range b.order {
			bt.Providers = append(bt.Providers, countLink{
				Label: p, Count: b.providers[p], URL: listFilter{bot: name, provider: p}.url("", 0),
			})
		}
		out.Bots = append(out.Bots, bt)
	}
	return out
}

// filterOptions are the bot and provider choices of the filter form: every name of the
// configuration and the store, sorted, the current one selected (kept even if unknown, so the
// form shows what the page lists).
func (h *Handler) filterOptions(totals []store.IdentityTotal, f listFilter) (bots, providers []filterOption) {
	var botNames, providerNames []string
	for _, b := range h.broker.Config().Bots {
		botNames = append(botNames, b.Name)
		for _, p := range b.Providers {
			providerNames = append(providerNames, p.Name)
		}
	}
	for _, t := range totals {
		botNames, providerNames = append(botNames, t.Bot), append(providerNames, t.Provider)
	}
	if f.bot != "" {
		botNames = append(botNames, f.bot)
	}
	if f.provider != "" {
		providerNames = append(providerNames, f.provider)
	}
	return options(botNames, f.bot), options(providerNames, f.provider)
}

func options(names []string, selected string) []filterOption {
	slices.Sort(names)
	names = slices.Compact(names)
	out := make([]filterOption, 0, len(names))
	for _, n := range names {
		out = append(out, filterOption{Value: n, Label: n, Selected: n == selected})
	}
	return out
}
