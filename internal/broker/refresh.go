package broker

import (
	"bytes"
	"context"
	"errors"
	"math"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/store"
)

// leaseMargin is added to the outbound timeout to make a refresh lease: the provider call
// ends (or times out) well before the lease does, so a live holder never loses it.
const leaseMargin = 5 * time.Second

// Polling for another holder's refresh starts fast (a refresh against a nearby provider takes
// milliseconds) and slows down, to keep many waiters from flooding the read pool.
const (
	firstPoll = 5 * time.Millisecond
	maxPoll   = 50 * time.Millisecond
)

// fresh returns id ready to hand out: refreshed first when its token expires within
// RefreshAhead and the provider can refresh. Only active identities are refreshed; the
// caller turns the other statuses into their errors.
//
// Exactly one refresh runs at a time per identity, across goroutines and processes: the
// refresh lease is a row in the store (AcquireRefreshLease). A request that finds the lease
// held waits for the holder's result instead of refreshing again.
func (b *Broker) fresh(ctx context.Context, id store.Identity) (store.Identity, error) {
	now := b.now()
	if id.Status != store.StatusActive || !expiresSoon(id, now) {
		return id, nil
	}
	p, ok := b.providers.Lookup(id.Bot, id.Provider)
	if !ok || !p.CanRefresh || len(id.RefreshToken) == 0 {
		if !expired(id, now) {
			return id, nil // still valid: the best there is
		}
		if !ok {
			return store.Identity{}, newError(CodeRelinkRequired, "identity %d's token has expired and its provider %q is no longer configured", id.ID, id.Provider)
		}
		// Never hand out an expired token; without a way to refresh it, the user must link again.
		return b.relinkRequired(ctx, id, "", "expired", providerTitle(p)+" issued no refresh token, and the access token has expired")
	}
	return b.refreshUnderLease(ctx, p, id, expiresSoon)
}

// staleFunc reports whether an identity, as stored at now, still needs the refresh its caller
// asked for: expiresSoon for a read (fresh), "still the token the provider refused" for the
// API proxy's retry after a 401 (proxy.go). Every holder and waiter checks it again against
// what is stored, so a refresh that another request finished first is never repeated.
type staleFunc func(id store.Identity, now time.Time) bool

// refreshUnderLease refreshes id's tokens under the identity's refresh lease while stale
// holds, and returns the identity to hand out.
func (b *Broker) refreshUnderLease(ctx context.Context, p *providers.Provider, id store.Identity, stale staleFunc) (store.Identity, error) {
	wait := time.NewTimer(b.refreshWait)
	defer wait.Stop()
	for {
		now := b.now()
		holder := randomToken(16)
		cur, lease, err := b.store.AcquireRefreshLease(ctx, id.Bot, id.ID, holder, now.Add(b.leaseTTL()), now)
		if err != nil {
			return store.Identity{}, b.storeError(err, id)
		}
		if lease.Acquired {
			return b.refreshAsHolder(ctx, p, cur, holder, lease.TakenOver, wait.C, stale)
		}
		if cur.Status != store.StatusActive || !stale(cur, now) {
			return cur, nil // refreshed (or refused) by another holder just now
		}
		if !lease.RetryAt.IsZero() {
			// A refresh failed moments ago and is backing off: answer without asking again.
			return b.fallback(cur, lease.RetryAt.Sub(now))
		}
		cur, free, err := b.awaitHolder(ctx, cur, wait.C, stale)
		if err != nil || !free {
			return cur, err
		}
		// The lease came free with the token still near expiry (the holder failed, or died and
		// its lease expired): go round and take it.
	}
}

// Drain waits until every refresh still running in the background (its request fell back
// after RefreshWait) has written its outcome; each is bounded by the outbound timeout. Call it
// after the HTTP server stopped and before the store closes: a refresh token the provider has
// already rotated must not be lost to a shutdown.
func (b *Broker) Drain() { b.refreshes.Wait() }

// awaitHolder polls until another holder's refresh shows in the store. It returns the
// identity to hand out, or free=true when the lease was released with nothing to show.
func (b *Broker) awaitHolder(ctx context.Context, cur store.Identity, deadline <-chan time.Time, stale staleFunc) (store.Identity, bool, error) {
	poll := firstPoll
	for {
		select {
		case <-ctx.Done():
			return store.Identity{}, false, wrapError(ctx.Err(), CodeInternal, "the request ended while waiting for a token refresh")
		case <-deadline:
			id, err := b.fallback(cur, RefreshRetryAfter)
			return id, false, err
		case <-time.After(poll):
		}
		poll = min(2*poll, maxPoll)
		now := b.now()
		next, lease, err := b.store.RefreshState(ctx, cur.Bot, cur.ID, now)
		if err != nil {
			return store.Identity{}, false, b.storeError(err, cur)
		}
		cur = next
		switch {
		case cur.Status != store.StatusActive || !stale(cur, now):
			return cur, false, nil
		case !lease.RetryAt.IsZero():
			id, err := b.fallback(cur, lease.RetryAt.Sub(now))
			return id, false, err
		case lease.Until.IsZero():
			return cur, true, nil
		}
	}
}

// refreshOutcome is what a refresh running for its holder ends with.
type refreshOutcome struct {
	id  store.Identity
	err error
}

// refreshAsHolder runs the refresh this request holds the lease for (takenOver: from a holder
// whose lease ran out). The refresh itself runs on a context detached from the request: if
// the bot hangs up, a refresh token the provider has already rotated must still be stored,
// or the grant would be lost with it. The request waits for it only until deadline, then
// falls back like any waiter.
func (b *Broker) refreshAsHolder(ctx context.Context, p *providers.Provider, cur store.Identity, holder string, takenOver bool, deadline <-chan time.Time, stale staleFunc) (store.Identity, error) {
	if cur.Status != store.StatusActive || !stale(cur, b.now()) {
		// Another holder refreshed (or the provider refused) between our read and our lease.
		b.release(ctx, cur, holder, time.Time{}, nil)
		return cur, nil
	}
	done := make(chan refreshOutcome, 1) // buffered: the refresh never blocks on a caller that left
	b.refreshes.Add(1)
	go func() {
		defer b.refreshes.Done()
		id, err := b.runRefresh(context.WithoutCancel(ctx), p, cur, holder, takenOver)
		done <- refreshOutcome{id, err}
	}()
	select {
	case r := <-done:
		return r.id, r.err
	case <-deadline:
		return b.fallback(cur, RefreshRetryAfter)
	case <-ctx.Done():
		return store.Identity{}, wrapError(ctx.Err(), CodeInternal, "the request ended while its token was being refreshed")
	}
}

// runRefresh asks the provider for new tokens and writes the outcome: new tokens (a rotated
// refresh token in the same transaction as its access token), relink_required on
// invalid_grant, or a back-off on any other failure, which leaves the stored tokens as they are.
func (b *Broker) runRefresh(ctx context.Context, p *providers.Provider, cur store.Identity, holder string, takenOver bool) (store.Identity, error) {
	refreshToken, err := b.openToken(cur, "refresh_token", cur.RefreshToken)
	if err != nil {
		// A lost key is not going to fix itself in seconds, but the back-off keeps every read
		// from logging the same failure again.
		b.release(ctx, cur, holder, b.now().Add(RefreshRetryAfter), nil)
		return store.Identity{}, err
	}
	tok, err := p.Refresh(ctx, refreshToken)
	now := b.now()
	switch {
	case errors.Is(err, providers.ErrInvalidGrant) && takenOver:
		return b.refusedAfterTakeover(ctx, p, cur, holder)
	case errors.Is(err, providers.ErrInvalidGrant):
		b.log.WarnContext(ctx, "refresh: the provider refused the refresh token; the identity must be linked again",
			"bot", cur.Bot, "identity", cur.ID, "provider", cur.Provider)
		return b.relinkRequired(ctx, cur, holder, "invalid_grant", providerTitle(p)+" refused the refresh token (invalid_grant)")
	case err != nil:
		b.log.WarnContext(ctx, "refresh: failed; the stored token stays", "bot", cur.Bot, "identity", cur.ID,
			"provider", cur.Provider, "retry_in", RefreshRetryAfter.String(), "err", err)
		outcome := "upstream_error"
		if ue := (*providers.UpstreamError)(nil); errors.As(err, &ue) && ue.Timeout {
			outcome = "timeout"
		}
		retryAt := now.Add(RefreshRetryAfter)
		b.release(ctx, cur, holder, retryAt, &store.Event{Kind: store.EventRefreshFailed, Outcome: outcome,
			Detail: "refresh failed, will retry: " + err.Error(), At: now.UTC()})
		return b.fallback(cur, RefreshRetryAfter)
	}
	return b.storeRefreshed(ctx, cur, holder, refreshToken, tok)
}

func (b *Broker) storeRefreshed(ctx context.Context, cur store.Identity, holder, oldRefresh string, tok *oauth2.Token) (store.Identity, error) {
	access, err := b.sealToken(cur, "access_token", tok.AccessToken)
	if err != nil {
		b.release(ctx, cur, holder, time.Time{}, nil)
		return store.Identity{}, err
	}
	rotated := tok.RefreshToken != "" && tok.RefreshToken != oldRefresh
	var refresh []byte // nil keeps the stored refresh token
	if rotated {
		if refresh, err = b.sealToken(cur, "refresh_token", tok.RefreshToken); err != nil {
			b.release(ctx, cur, holder, time.Time{}, nil)
			return store.Identity{}, err
		}
	}
	now := b.now().UTC()
	detail := "access token refreshed"
	if rotated {
		detail += "; the provider rotated the refresh token"
	}
	params := store.StoreRefreshedParams{
		Bot: cur.Bot, IdentityID: cur.ID, Holder: holder,
		AccessToken: access, RefreshToken: refresh, ExpiresAt: b.expiry(tok.Expiry), Now: now,
		Event: store.Event{Outcome: "ok", Detail: detail, At: now},
		// The provider has spent cur's refresh token: should our lease have run out and been
		// taken over, what we got is still stored unless something newer was.
		PrevAccessToken: cur.AccessToken, PrevRefreshToken: cur.RefreshToken,
	}
	stored, err := b.store.StoreRefreshed(ctx, params)
	if errors.Is(err, store.ErrLeaseLost) {
		// The compare-and-swap compares sealed bytes. If only their encryption changed (key
		// rotation re-sealed the very tokens we started from), nothing newer was stored
		// either: swap against the re-sealed bytes.
		if latest, rerr := b.reread(ctx, cur); rerr == nil && latest.Status == store.StatusActive && b.resealedOnly(cur, latest) {
			params.PrevAccessToken, params.PrevRefreshToken = latest.AccessToken, latest.RefreshToken
			stored, err = b.store.StoreRefreshed(ctx, params)
		}
	}
	if errors.Is(err, store.ErrLeaseLost) {
		// A relink or another refresh replaced the tokens after our lease ran out (or the
		// identity is no longer active): what is stored is newer.
		b.log.WarnContext(ctx, "refresh: lease lost before the new token was stored; using the stored one", "bot", cur.Bot, "identity", cur.ID)
		return b.reread(ctx, cur)
	}
	if err != nil {
		return store.Identity{}, b.storeError(err, cur)
	}
	b.log.InfoContext(ctx, "refresh: token refreshed", "bot", cur.Bot, "identity", cur.ID, "provider", cur.Provider, "rotated", rotated)
	return stored, nil
}

// resealedOnly reports whether now holds the same access and refresh tokens as was, sealed
// anew: different bytes that open to the same values. A value that does not open is not the
// same.
func (b *Broker) resealedOnly(was, now store.Identity) bool {
	if bytes.Equal(was.AccessToken, now.AccessToken) && bytes.Equal(was.RefreshToken, now.RefreshToken) {
		return false
	}
	for _, f := range []struct {
		name     string
		was, now []byte
	}{{"access_token", was.AccessToken, now.AccessToken}, {"refresh_token", was.RefreshToken, now.RefreshToken}} {
		a, err := b.openToken(was, f.name, f.was)
		if err != nil {
			return false
		}
		z, err := b.openToken(now, f.name, f.now)
		if err != nil || a != z {
			return false
		}
	}
	return true
}

// refusedAfterTakeover answers invalid_grant to a refresh whose lease was taken over from a
// holder whose time ran out. That holder may still be alive with the provider's answer in
// hand, the refusal meaning only that it spent the refresh token first; its answer is stored
// while the identity stays active (store.StoreRefreshedParams.PrevRefreshToken). So the
// verdict waits: the lease is released with the usual back-off, and the next refresh, which
// takes a lease nobody else held, marks relink_required if the provider still refuses.
func (b *Broker) refusedAfterTakeover(ctx context.Context, p *providers.Provider, cur store.Identity, holder string) (store.Identity, error) {
	b.log.WarnContext(ctx, "refresh: the provider refused the refresh token just after an earlier refresh ran out of time; "+
		"not marking relink_required, that refresh may have spent the token", "bot", cur.Bot, "identity", cur.ID, "provider", cur.Provider,
		"retry_in", RefreshRetryAfter.String())
	now := b.now()
	b.release(ctx, cur, holder, now.Add(RefreshRetryAfter), &store.Event{Kind: store.EventRefreshFailed, Outcome: "superseded",
		Detail: providerTitle(p) + " refused the refresh token just after an earlier refresh ran out of time, which may have spent it; will retry", At: now.UTC()})
	stored, err := b.reread(ctx, cur)
	if err != nil || stored.Status != store.StatusActive {
		return stored, err // the caller turns another status into its error
	}
	return b.fallback(stored, RefreshRetryAfter)
}

// relinkRequired marks the identity relink_required (once, however many requests find out
// together), records why, queues the webhook, and answers 409.
func (b *Broker) relinkRequired(ctx context.Context, id store.Identity, holder, reason, detail string) (store.Identity, error) {
	_, changed, err := b.store.MarkRelinkRequired(ctx, store.RelinkRequiredParams{
		Bot: id.Bot, IdentityID: id.ID, Holder: holder,
		Event: store.Event{Outcome: reason, Detail: detail + "; the user must link again", At: b.now().UTC(), Webhook: b.hasWebhook(id.Bot)},
	})
	if errors.Is(err, store.ErrLeaseLost) {
		return b.reread(ctx, id) // relinked meanwhile: the new tokens are not the refused ones
	}
	if err != nil {
		return store.Identity{}, b.storeError(err, id)
	}
	if changed {
		b.eventQueued()
	}
	return store.Identity{}, newError(CodeRelinkRequired, "identity %d must be linked again: %s", id.ID, detail)
}

// release gives a lease back. Failing to is not the caller's problem: the lease expires.
func (b *Broker) release(ctx context.Context, id store.Identity, holder string, retryAt time.Time, ev *store.Event) {
	err := b.store.ReleaseRefreshLease(ctx, store.ReleaseRefreshParams{Bot: id.Bot, IdentityID: id.ID, Holder: holder, RetryAt: retryAt, Event: ev})
	if err != nil && !errors.Is(err, store.ErrLeaseLost) && !errors.Is(err, store.ErrNotFound) {
		b.log.WarnContext(ctx, "refresh: releasing the lease failed; it will expire", "bot", id.Bot, "identity", id.ID, "err", err)
	}
}

// fallback answers a read whose refresh did not (yet) produce a token: the stored token while
// it is still valid, else 503 with when to try again. Never an expired token.
func (b *Broker) fallback(id store.Identity, retryIn time.Duration) (store.Identity, error) {
	if !expired(id, b.now()) {
		return id, nil
	}
	retryIn = max(retryIn, time.Second)
	return store.Identity{}, &Error{
		Code:       CodeRefreshUnavailable,
		Message:    "the stored token has expired and the provider could not be reached for a new one; try again shortly",
		RetryAfter: time.Duration(math.Ceil(retryIn.Seconds())) * time.Second,
	}
}

// reread returns the identity as stored now, for callers whose write lost to a newer one.
func (b *Broker) reread(ctx context.Context, id store.Identity) (store.Identity, error) {
	return b.identity(ctx, id.Bot, id.ID)
}

func (b *Broker) storeError(err error, id store.Identity) error {
	if errors.Is(err, store.ErrNotFound) {
		return newError(CodeNotFound, "bot %q has no identity %d", id.Bot, id.ID)
	}
	return wrapError(err, CodeInternal, "reading or writing the identity's refresh state failed")
}

func (b *Broker) leaseTTL() time.Duration {
	timeout := b.cfg.Server.OutboundTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return timeout + leaseMargin
}

func (b *Broker) hasWebhook(bot string) bool {
	bc := b.cfg.Bot(bot)
	return bc != nil && bc.WebhookURL != ""
}

// expiry carries a provider's token lifetime over to the broker's clock. x/oauth2 and goth
// turn expires_in into a wall-clock time when the answer arrives; the broker's clock is
// injected (tests move it), and the lifetime is what the provider actually said.
func (b *Broker) expiry(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return b.now().Add(time.Until(t)).UTC().Truncate(time.Millisecond)
}

// expiresSoon: the token expires within RefreshAhead (a zero expiry never does).
func expiresSoon(id store.Identity, now time.Time) bool {
	return !id.ExpiresAt.IsZero() && !now.Add(RefreshAhead).Before(id.ExpiresAt)
}

// expired: the token is past its expiry (the store's rule: expired when now >= ExpiresAt).
func expired(id store.Identity, now time.Time) bool {
	return !id.ExpiresAt.IsZero() && !now.Before(id.ExpiresAt)
}
