package storetest

import (
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// The operators' list (store.AdminStore): filters, search, keyset pages and totals.

// adminTest is a test of store.AdminStore: every backend implements it beside store.Store.
func adminTest(name string, run func(t *testing.T, s store.Store, a store.AdminStore)) test {
	return test{name, func(t *testing.T, s store.Store) {
		a, ok := s.(store.AdminStore)
		if !ok {
			t.Fatalf("%T does not implement store.AdminStore", s)
		}
		run(t, s, a)
	}}
}

// member is one identity of the admin tests' population.
type member struct {
	bot, user, provider, status string
	name, nick, email           string
}

// population is identities across two bots, three providers and every status, with names
// chosen so that each search rule has something to find and something to miss.
var population = []member{
	{"supportbot", "U024BE7LH", "github", store.StatusActive, "Ada Lovelace", "ada", "ada@example.com"},
	{"supportbot", "U024BE7LH", "twitter", store.StatusActive, "Ada Lovelace", "adalove", ""},
	{"supportbot", "U9GRACE", "github", store.StatusPending, "Grace Hopper", "grace", "grace@navy.example"},
	{"salesbot", "u024be7lh", "github", store.StatusRelinkRequired, "Alan Turing", "aturing", "alan@bletchley.example"},
	{"salesbot", "W77", "google", store.StatusActive, "Barbara Liskov", "barbara", "liskov@mit.example"},
	{"salesbot", "W78", "github", store.StatusActive, "Edsger W. Dijkstra", "ewd", "ewd@utexas.example"},
	{"supportbot", "50%_off", "google", store.StatusActive, "Katherine Johnson", "kj", "kj@nasa.example"},
	{"salesbot", "W79", "twitter", store.StatusPending, "Ada", "ada2", "ADA@Example.com"},
}

// seedPopulation links every member, one per second from t0, and returns the stored
// identities in population order.
func seedPopulation(t *testing.T, s store.Store) []store.Identity {
	t.Helper()
	out := make([]store.Identity, len(population))
	for i, m := range population {
		in := store.Identity{
			Bot: m.bot, Channel: channel, User: m.user, Provider: m.provider, ProviderUserID: fmt.Sprint(1000 + i),
			Name: m.name, NickName: m.nick, Email: m.email, AvatarURL: "https://avatars.example/" + m.nick + ".png",
			Status: m.status, Scopes: []string{"read"}, TokenType: "bearer", ExpiresAt: t0.Add(time.Hour),
			AccessToken: []byte("sealed-access-" + rand.Text()), RefreshToken: []byte("sealed-refresh"),
		}
		out[i], _ = linkAccount(t, s, in, t0.Add(time.Duration(i)*time.Second))
	}
	return out
}

// newestFirst is the IDs of the stored identities that keep satisfies, highest first.
func newestFirst(ids []store.Identity, keep func(i int) bool) []int64 {
	var out []int64
	for i := len(ids) - 1; i >= 0; i-- {
		if keep(i) {
			out = append(out, ids[i].ID)
		}
	}
	return out
}

func pageIDs(p store.IdentityPage) []int64 {
	out := []int64{}
	for _, id := range p.Identities {
		out = append(out, id.ID)
	}
	return out
}

func list(t testing.TB, a store.AdminStore, q store.IdentityListQuery) store.IdentityPage {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 50
	}
	p, err := a.ListIdentities(t.Context(), q)
	if err != nil {
		t.Fatalf("ListIdentities(%+v): %v", q, err)
	}
	return p
}

var adminTests = []test{
	adminTest("the list is every identity across bots, newest first, without tokens", func(t *testing.T, s store.Store, a store.AdminStore) {
		ids := seedPopulation(t, s)
		p := list(t, a, store.IdentityListQuery{})
		if want := newestFirst(ids, func(int) bool { return true }); !slices.Equal(pageIDs(p), want) || p.More {
			t.Fatalf("ids %v (more %v), want %v", pageIDs(p), p.More, want)
		}
		for _, got := range p.Identities {
			want := ids[slices.IndexFunc(ids, func(i store.Identity) bool { return i.ID == got.ID })]
			want.AccessToken, want.AccessTokenSecret, want.RefreshToken = nil, nil, nil
			checkIdentity(t, got, want)
		}
		if empty := list(t, a, store.IdentityListQuery{Bot: "nobot"}); len(empty.Identities) != 0 || empty.Identities == nil {
			t.Errorf("an empty page is %#v, want an empty, non-nil slice", empty.Identities)
		}
	}),
	adminTest("filters by bot, provider and status, alone and together", func(t *testing.T, s store.Store, a store.AdminStore) {
		ids := seedPopulation(t, s)
		for _, bot := range []string{"", "supportbot", "salesbot"} {
			for _, provider := range []string{"", "github", "twitter"} {
				for _, status := range []string{"", store.StatusActive, store.StatusPending, store.StatusRelinkRequired} {
					q := store.IdentityListQuery{Bot: bot, Provider: provider, Status: status}
					want := newestFirst(ids, func(i int) bool {
						m := population[i]
						return (bot == "" || m.bot == bot) && (provider == "" || m.provider == provider) && (status == "" || m.status == status)
					})
					if got := pageIDs(list(t, a, q)); !slices.Equal(got, want) {
						t.Errorf("%+v: ids %v, want %v", q, got, want)
					}
				}
			}
		}
	}),
	adminTest("pages forward and back by keyset, without skipping or repeating", func(t *testing.T, s store.Store, a store.AdminStore) {
		ids := seedPopulation(t, s)
		all := newestFirst(ids, func(int) bool { return true }) // 8 ids
		var walked []int64
		q := store.IdentityListQuery{Limit: 3}
		for n := 0; ; n++ {
			p := list(t, a, q)
			walked = append(walked, pageIDs(p)...)
			if !p.More {
				break
			}
			if n > len(all) {
				t.Fatal("paging does not end")
			}
			q.OlderThan = p.Identities[len(p.Identities)-1].ID
		}
		if !slices.Equal(walked, all) {
			t.Fatalf("walking older: %v, want %v", walked, all)
		}
		// Back from the last page: the page before ids[2] is the three just above it.
		back := list(t, a, store.IdentityListQuery{Limit: 3, NewerThan: all[5]})
		if want := all[2:5]; !slices.Equal(pageIDs(back), want) || !back.More {
			t.Errorf("NewerThan %d: %v (more %v), want %v and more", all[5], pageIDs(back), back.More, want)
		}
		top := list(t, a, store.IdentityListQuery{Limit: 3, NewerThan: all[2]})
		if want := all[:2]; !slices.Equal(pageIDs(top), want) || top.More {
			t.Errorf("NewerThan %d: %v (more %v), want %v and no more", all[2], pageIDs(top), top.More, want)
		}
		if p := list(t, a, store.IdentityListQuery{Limit: 3, OlderThan: all[len(all)-1]}); len(p.Identities) != 0 || p.More {
			t.Errorf("past the oldest: %v", pageIDs(p))
		}
	}),
	adminTest("search finds a prefix of user id, name, family name, nickname or email, ignoring case", func(t *testing.T, s store.Store, a store.AdminStore) {
		ids := seedPopulation(t, s)
		for _, tc := range []struct {
			search string
			want   []int // population indexes
		}{
			{"U024BE7LH", []int{0, 1, 3}}, // user ids differ only in case
			{"u024", []int{0, 1, 3}},
			{"  ada  ", []int{0, 1, 7}},      // name, nickname (ada, adalove, ada2), trimmed
			{"@ada", []int{0, 1, 7}},         // a leading @ is how people type a nickname
			{"lovelace", []int{0, 1}},        // family name
			{"W. Dijkstra", []int{5}},        // everything after the first word
			{"Dijkstra", nil},                // a third word is not searched on its own
			{"ada@example.com", []int{0, 7}}, // email, any case
			{"GRACE@NAVY", []int{2}},
			{"ovelace", nil},  // a prefix, not a substring
			{"50%", []int{6}}, // LIKE wildcards are plain characters
			{"5_%", nil},
			{"%", nil},
			{"zzz", nil},
			{"ada\xff", nil}, // not UTF-8: finds nothing, and is no error
			{"ada\x00", nil},
		} {
			want := newestFirst(ids, func(i int) bool { return slices.Contains(tc.want, i) })
			if got := pageIDs(list(t, a, store.IdentityListQuery{Search: tc.search})); !slices.Equal(got, want) {
				t.Errorf("search %q: ids %v, want %v", tc.search, got, want)
			}
		}
	}),
	adminTest("search combines with the filters and the keyset", func(t *testing.T, s store.Store, a store.AdminStore) {
		ids := seedPopulation(t, s)
		if got, want := pageIDs(list(t, a, store.IdentityListQuery{Search: "ada", Bot: "salesbot"})), []int64{ids[7].ID}; !slices.Equal(got, want) {
			t.Errorf("ada in salesbot: %v, want %v", got, want)
		}
		if got, want := pageIDs(list(t, a, store.IdentityListQuery{Search: "a", Provider: "github", Status: store.StatusActive})), []int64{ids[0].ID}; !slices.Equal(got, want) {
			t.Errorf("a, github, active: %v, want %v", got, want)
		}
		first := list(t, a, store.IdentityListQuery{Search: "ada", Limit: 2})
		if want := []int64{ids[7].ID, ids[1].ID}; !slices.Equal(pageIDs(first), want) || !first.More {
			t.Fatalf("first page of ada: %v (more %v), want %v and more", pageIDs(first), first.More, want)
		}
		next := list(t, a, store.IdentityListQuery{Search: "ada", Limit: 2, OlderThan: ids[1].ID})
		if want := []int64{ids[0].ID}; !slices.Equal(pageIDs(next), want) || next.More {
			t.Errorf("second page of ada: %v (more %v), want %v", pageIDs(next), next.More, want)
		}
		back := list(t, a, store.IdentityListQuery{Search: "ada", Limit: 2, NewerThan: ids[0].ID})
		if want := []int64{ids[7].ID, ids[1].ID}; !slices.Equal(pageIDs(back), want) || back.More {
			t.Errorf("back from the second page: %v (more %v), want %v", pageIDs(back), back.More, want)
		}
	}),
	adminTest("an unlinked identity leaves the list, the search and the totals", func(t *testing.T, s store.Store, a store.AdminStore) {
		ids := seedPopulation(t, s)
		if err := s.DeleteIdentity(t.Context(), "supportbot", ids[2].ID, store.Event{At: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if got := pageIDs(list(t, a, store.IdentityListQuery{})); slices.Contains(got, ids[2].ID) || len(got) != len(ids)-1 {
			t.Errorf("after unlinking %d the list is %v", ids[2].ID, got)
		}
		if got := pageIDs(list(t, a, store.IdentityListQuery{Search: "grace"})); len(got) != 0 {
			t.Errorf("search finds the unlinked identity: %v", got)
		}
		for _, tot := range totals(t, a) {
			if tot.Bot == "supportbot" && tot.Status == store.StatusPending {
				t.Errorf("totals still count the unlinked identity: %+v", tot)
			}
		}
	}),
	adminTest("totals count per bot, provider and status, following links, confirmations and unlinks", func(t *testing.T, s store.Store, a store.AdminStore) {
		if got := totals(t, a); len(got) != 0 {
			t.Fatalf("totals of an empty store: %+v", got)
		}
		ids := seedPopulation(t, s)
		want := map[store.IdentityTotal]bool{}
		count := map[[3]string]int{}
		for _, m := range population {
			count[[3]string{m.bot, m.provider, m.status}]++
		}
		for k, n := range count {
			want[store.IdentityTotal{Bot: k[0], Provider: k[1], Status: k[2], Count: n}] = true
		}
		checkTotals(t, a, want)

		// Relinking an account changes nothing; a second account of the same provider counts.
		again := ids[0]
		again.AccessToken = []byte("sealed-again")
		linkAccount(t, s, again, t0.Add(time.Hour))
		second := ids[0]
		second.ID, second.ProviderUserID = 0, "second-account"
		linkAccount(t, s, second, t0.Add(time.Hour))
		delete(want, store.IdentityTotal{Bot: "supportbot", Provider: "github", Status: store.StatusActive, Count: 1})
		want[store.IdentityTotal{Bot: "supportbot", Provider: "github", Status: store.StatusActive, Count: 2}] = true
		checkTotals(t, a, want)

		// Confirming moves a pending identity to active; unlinking takes it away.
		pending := linkPending(t, s, "pending-one", "code:654321", t0)
		want[store.IdentityTotal{Bot: bot, Provider: "github", Status: store.StatusPending, Count: 2}] = true
		delete(want, store.IdentityTotal{Bot: bot, Provider: "github", Status: store.StatusPending, Count: 1})
		checkTotals(t, a, want)
		if _, err := confirm(t, s, "code:654321", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		delete(want, store.IdentityTotal{Bot: bot, Provider: "github", Status: store.StatusPending, Count: 2})
		want[store.IdentityTotal{Bot: bot, Provider: "github", Status: store.StatusPending, Count: 1}] = true
		delete(want, store.IdentityTotal{Bot: bot, Provider: "github", Status: store.StatusActive, Count: 2})
		want[store.IdentityTotal{Bot: bot, Provider: "github", Status: store.StatusActive, Count: 3}] = true
		checkTotals(t, a, want)
		if err := s.DeleteIdentity(t.Context(), bot, pending.ID, store.Event{At: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		delete(want, store.IdentityTotal{Bot: bot, Provider: "github", Status: store.StatusActive, Count: 3})
		want[store.IdentityTotal{Bot: bot, Provider: "github", Status: store.StatusActive, Count: 2}] = true
		checkTotals(t, a, want)
	}),
	adminTest("a bad page size or two cursors are refused", func(t *testing.T, s store.Store, a store.AdminStore) {
		for _, q := range []store.IdentityListQuery{
			{Limit: 0}, {Limit: -1}, {Limit: 501}, {Limit: 10, OlderThan: 5, NewerThan: 3}, {Limit: 10, OlderThan: -1},
		} {
			if _, err := a.ListIdentities(t.Context(), q); err == nil {
				t.Errorf("ListIdentities(%+v) succeeded", q)
			}
		}
	}),
}

func totals(t testing.TB, a store.AdminStore) []store.IdentityTotal {
	t.Helper()
	got, err := a.IdentityTotals(t.Context())
	if err != nil {
		t.Fatalf("IdentityTotals: %v", err)
	}
	return got
}

// checkTotals compares IdentityTotals with want, and checks its order.
func checkTotals(t testing.TB, a store.AdminStore, want map[store.IdentityTotal]bool) {
	t.Helper()
	got := totals(t, a)
	if len(got) != len(want) {
		t.Errorf("totals %+v, want %d of them: %+v", got, len(want), want)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected total %+v (want %+v)", g, want)
		}
	}
	if !slices.IsSortedFunc(got, func(x, y store.IdentityTotal) int {
		return cmpStrings(x.Bot+"\x00"+x.Provider+"\x00"+x.Status, y.Bot+"\x00"+y.Provider+"\x00"+y.Status)
	}) {
		t.Errorf("totals not sorted by bot, provider, status: %+v", got)
	}
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
