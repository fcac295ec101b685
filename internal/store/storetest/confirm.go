package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

const (
	maxAttempts = 5
	confirmTTL  = 10 * time.Minute
)

// linkPending links github account providerUserID of the suite's chat user at now as a
// pending identity whose confirmation has the hash of code and lives for confirmTTL.
func linkPending(t testing.TB, s store.Store, providerUserID, code string, now time.Time) store.Identity {
	t.Helper()
	l := createLink(t, s, newLink("pending-"+providerUserID+"-"+code, "github"))
	in := newIdentity(l, providerUserID)
	in.Status = store.StatusPending
	id, _ := completeLink(t, s, store.CompleteLinkParams{
		LinkID: l.ID, Identity: in, Now: now,
		Confirmation: &store.Confirmation{
			Bot: bot, Channel: channel, User: user, CodeHash: hash(code), ExpiresAt: now.Add(confirmTTL),
		},
	})
	return id
}

// confirmParams is the suite's chat user typing the code with this hash at now.
func confirmParams(codeHash []byte, now time.Time) store.ConfirmParams {
	return store.ConfirmParams{Bot: bot, Channel: channel, User: user, CodeHash: codeHash, MaxAttempts: maxAttempts, Now: now}
}

// confirm types the code at now; a match must activate exactly one identity (the suite's
// pending identities come from links of one provider; connect.go has links of several).
func confirm(t testing.TB, s store.Store, code string, now time.Time) (store.Identity, error) {
	t.Helper()
	got, err := s.Confirm(t.Context(), confirmParams(hash(code), now))
	if err != nil {
		return store.Identity{}, err
	}
	if len(got) != 1 {
		t.Fatalf("Confirm activated %d identities, want 1", len(got))
	}
	return got[0], nil
}

// wrongCodes types n wrong codes, each of which must be ErrWrongCode.
func wrongCodes(t testing.TB, s store.Store, n int, now time.Time) {
	t.Helper()
	for i := range n {
		_, err := confirm(t, s, fmt.Sprintf("code:wrong-%d", i), now)
		wantErr(t, fmt.Sprintf("wrong code %d", i+1), err, store.ErrWrongCode)
	}
}

var confirmTests = []test{
	{"the right code activates the identity, records it and is used up", func(t *testing.T, s store.Store) {
		pending := linkPending(t, s, "1", "code:123456", t0)
		if pending.Status != store.StatusPending {
			t.Fatalf("status after CompleteLink %q, want pending", pending.Status)
		}
		now := t0.Add(time.Minute)
		got, err := confirm(t, s, "code:123456", now)
		if err != nil {
			t.Fatalf("Confirm: %v", err)
		}
		want := pending
		want.Status, want.UpdatedAt = store.StatusActive, now
		checkIdentity(t, got, want)
		checkIdentity(t, getIdentity(t, s, pending.ID), want)

		evs := events(t, s, pending.ID)
		if kinds := eventKinds(evs); !slices.Equal(kinds, []string{store.EventLinked, store.EventConfirmed}) {
			t.Fatalf("events %v, want [linked confirmed]", kinds)
		}
		if e := evs[1]; e.IdentityID != pending.ID || e.Bot != bot || !e.At.Equal(now) {
			t.Errorf("confirmed event %+v", e)
		}
		_, err = confirm(t, s, "code:123456", now)
		wantErr(t, "second Confirm", err, store.ErrNotFound)
	}},
	{"a wrong code is ErrWrongCode and the identity stays pending", func(t *testing.T, s store.Store) {
		pending := linkPending(t, s, "1", "code:123456", t0)
		wrongCodes(t, s, 1, t0.Add(time.Minute))
		if got := getIdentity(t, s, pending.ID); got.Status != store.StatusPending {
			t.Errorf("status %q after a wrong code, want pending", got.Status)
		}
		if kinds := eventKinds(events(t, s, pending.ID)); !slices.Equal(kinds, []string{store.EventLinked}) {
			t.Errorf("events %v, want [linked]", kinds)
		}
	}},
	{"a chat user without a confirmation is not found", func(t *testing.T, s store.Store) {
		linkAccount(t, s, account("github", "1"), t0)
		_, err := confirm(t, s, "code:123456", t0)
		wantErr(t, "Confirm", err, store.ErrNotFound)
	}},
	{"the right code still works after MaxAttempts-1 wrong ones", func(t *testing.T, s store.Store) {
		linkPending(t, s, "1", "code:123456", t0)
		wrongCodes(t, s, maxAttempts-1, t0.Add(time.Minute))
		if _, err := confirm(t, s, "code:123456", t0.Add(time.Minute)); err != nil {
			t.Fatalf("Confirm: %v", err)
		}
	}},
	{"MaxAttempts wrong codes void the confirmation", func(t *testing.T, s store.Store) {
		pending := linkPending(t, s, "1", "code:123456", t0)
		wrongCodes(t, s, maxAttempts, t0.Add(time.Minute))
		_, err := confirm(t, s, "code:123456", t0.Add(time.Minute))
		wantErr(t, "Confirm after MaxAttempts wrong codes", err, store.ErrNotFound)
		if got := getIdentity(t, s, pending.ID); got.Status != store.StatusPending {
			t.Errorf("status %q, want pending", got.Status)
		}
	}},
	{"a wrong code counts against every live confirmation of the chat user", func(t *testing.T, s store.Store) {
		linkPending(t, s, "1", "code:111111", t0)
		second := linkPending(t, s, "2", "code:222222", t0)
		// Four wrong codes leave one try on each; the fifth goes against both.
		wrongCodes(t, s, maxAttempts, t0.Add(time.Minute))
		for _, code := range []string{"code:111111", "code:222222"} {
			_, err := confirm(t, s, code, t0.Add(time.Minute))
			wantErr(t, "Confirm "+code, err, store.ErrNotFound)
		}
		if got := getIdentity(t, s, second.ID); got.Status != store.StatusPending {
			t.Errorf("status %q, want pending", got.Status)
		}
	}},
	{"confirming one of two confirmations leaves the other live", func(t *testing.T, s store.Store) {
		first := linkPending(t, s, "1", "code:111111", t0)
		second := linkPending(t, s, "2", "code:222222", t0)
		for _, c := range []struct {
			code string
			want int64
		}{{"code:222222", second.ID}, {"code:111111", first.ID}} {
			got, err := confirm(t, s, c.code, t0.Add(time.Minute))
			if err != nil || got.ID != c.want {
				t.Fatalf("Confirm %s = identity %d, %v; want %d", c.code, got.ID, err, c.want)
			}
		}
	}},
	{"a confirmation is live until a millisecond before its expiry", func(t *testing.T, s store.Store) {
		linkPending(t, s, "1", "code:123456", t0)
		if _, err := confirm(t, s, "code:123456", t0.Add(confirmTTL-time.Millisecond)); err != nil {
			t.Fatalf("Confirm: %v", err)
		}
	}},
	{"an expired confirmation is not found, right code or wrong", func(t *testing.T, s store.Store) {
		linkPending(t, s, "1", "code:123456", t0)
		for _, code := range []string{"code:123456", "code:654321"} {
			_, err := confirm(t, s, code, t0.Add(confirmTTL))
			wantErr(t, "Confirm "+code+" at expiry", err, store.ErrNotFound)
		}
	}},
	{"another chat user's or bot's code is not found", func(t *testing.T, s store.Store) {
		linkPending(t, s, "1", "code:123456", t0)
		for _, p := range []store.ConfirmParams{
			{Bot: bot, Channel: channel, User: "U999"},
			{Bot: bot, Channel: "discord", User: user},
			{Bot: "otherbot", Channel: channel, User: user},
		} {
			p.CodeHash, p.MaxAttempts, p.Now = hash("code:123456"), maxAttempts, t0.Add(time.Minute)
			_, err := s.Confirm(t.Context(), p)
			wantErr(t, fmt.Sprintf("Confirm as %s/%s/%s", p.Bot, p.Channel, p.User), err, store.ErrNotFound)
		}
		// None of those counted against the real user's confirmation.
		wrongCodes(t, s, maxAttempts-1, t0.Add(time.Minute))
		if _, err := confirm(t, s, "code:123456", t0.Add(time.Minute)); err != nil {
			t.Fatalf("Confirm by the chat user: %v", err)
		}
	}},
}
