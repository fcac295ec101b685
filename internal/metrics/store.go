package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Store wraps st so that every call is watched: failures other than the store's expected
// answers count as store errors, and the writes that end a token refresh or a webhook
// delivery attempt count as that outcome. Watching the writes, rather than the broker and
// the delivery loop themselves, counts exactly what was recorded, in every process that
// shares the database, without either package knowing about metrics.
//
// The wrapper is a whole store.Store, the operators' pages (store.AdminStore) and the
// janitor's retention included, so every user of the store goes through it. It spells out
// every method rather than embed st: a method added to store.Store does not compile here
// until it is counted, instead of passing through unseen.
func (m *Metrics) Store(st store.Store) store.Store {
	return &observedStore{next: st, m: m, claimed: map[int64]string{}}
}

var _ store.Store = (*observedStore)(nil)

type observedStore struct {
	next store.Store
	m    *Metrics

	mu      sync.Mutex
	claimed map[int64]string // outbox event id → bot, between ClaimDue and its Mark*
}

// expected are the errors a store answers with as part of its contract.
var expected = []error{
	store.ErrNotFound, store.ErrConflict, store.ErrLinkUsed, store.ErrExpired,
	store.ErrFlowConsumed, store.ErrWrongCode, store.ErrLeaseLost,
	context.Canceled, context.DeadlineExceeded,
}

func (s *observedStore) observe(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, e := range expected {
		if errors.Is(err, e) {
			return err
		}
	}
	s.m.storeErrors.WithLabelValues(op).Inc()
	return err
}

func (s *observedStore) refresh(bot, outcome string) {
	s.m.refreshes.WithLabelValues(bot, outcome).Inc()
}

func (s *observedStore) CreateLink(ctx context.Context, l store.Link) (store.Link, error) {
	out, err := s.next.CreateLink(ctx, l)
	return out, s.observe("create_link", err)
}

func (s *observedStore) LinkByTokenHash(ctx context.Context, h []byte) (store.Link, error) {
	out, err := s.next.LinkByTokenHash(ctx, h)
	return out, s.observe("link_by_token", err)
}

func (s *observedStore) CreateFlow(ctx context.Context, f store.Flow) error {
	return s.observe("create_flow", s.next.CreateFlow(ctx, f))
}

func (s *observedStore) ConsumeFlow(ctx context.Context, h []byte, now time.Time) (store.Link, error) {
	out, err := s.next.ConsumeFlow(ctx, h, now)
	return out, s.observe("consume_flow", err)
}

func (s *observedStore) CompleteLink(ctx context.Context, p store.CompleteLinkParams) (store.Linked, error) {
	out, err := s.next.CompleteLink(ctx, p)
	return out, s.observe("complete_link", err)
}

func (s *observedStore) CancelLink(ctx context.Context, linkID int64, now time.Time) error {
	return s.observe("cancel_link", s.next.CancelLink(ctx, linkID, now))
}

func (s *observedStore) Identities(ctx context.Context, q store.IdentityQuery) ([]store.Identity, error) {
	out, err := s.next.Identities(ctx, q)
	return out, s.observe("identities", err)
}

func (s *observedStore) Identity(ctx context.Context, bot string, id int64) (store.Identity, error) {
	out, err := s.next.Identity(ctx, bot, id)
	return out, s.observe("identity", err)
}

func (s *observedStore) IdentityTokens(ctx context.Context, bot string, id int64) (store.Identity, error) {
	out, err := s.next.IdentityTokens(ctx, bot, id)
	return out, s.observe("identity_tokens", err)
}

func (s *observedStore) DeleteIdentity(ctx context.Context, bot string, id int64, ev store.Event) error {
	return s.observe("delete_identity", s.next.DeleteIdentity(ctx, bot, id, ev))
}

func (s *observedStore) Confirm(ctx context.Context, p store.ConfirmParams) ([]store.Identity, error) {
	out, err := s.next.Confirm(ctx, p)
	return out, s.observe("confirm", err)
}

func (s *observedStore) Events(ctx context.Context, bot string, id int64) ([]store.Event, error) {
	out, err := s.next.Events(ctx, bot, id)
	return out, s.observe("events", err)
}

func (s *observedStore) CountOpenFlows(ctx context.Context, linkID int64, now time.Time) (int, error) {
	n, err := s.next.CountOpenFlows(ctx, linkID, now)
	return n, s.observe("count_open_flows", err)
}

func (s *observedStore) SchemaCurrent(ctx context.Context) error {
	return s.observe("schema_current", s.next.SchemaCurrent(ctx))
}

func (s *observedStore) Ping(ctx context.Context) error {
	return s.observe("ping", s.next.Ping(ctx))
}

func (s *observedStore) Close() error {
	return s.observe("close", s.next.Close())
}

// ---- Operators' pages ----

func (s *observedStore) ListIdentities(ctx context.Context, q store.IdentityListQuery) (store.IdentityPage, error) {
	out, err := s.next.ListIdentities(ctx, q)
	return out, s.observe("list_identities", err)
}

func (s *observedStore) IdentityTotals(ctx context.Context) ([]store.IdentityTotal, error) {
	out, err := s.next.IdentityTotals(ctx)
	return out, s.observe("identity_totals", err)
}

func (s *observedStore) CreateAdminSession(ctx context.Context, as store.AdminSession) error {
	return s.observe("create_admin_session", s.next.CreateAdminSession(ctx, as))
}

func (s *observedStore) AdminSession(ctx context.Context, tokenHash []byte) (store.AdminSession, error) {
	out, err := s.next.AdminSession(ctx, tokenHash)
	return out, s.observe("admin_session", err)
}

func (s *observedStore) DeleteAdminSession(ctx context.Context, tokenHash []byte) error {
	return s.observe("delete_admin_session", s.next.DeleteAdminSession(ctx, tokenHash))
}

// ---- Retention (the janitor counts what it purged itself; here, the store's failures) ----

func (s *observedStore) Purge(ctx context.Context, table string, before time.Time, limit int) (int64, error) {
	n, err := s.next.Purge(ctx, table, before, limit)
	return n, s.observe("purge", err)
}

func (s *observedStore) AcquireLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error) {
	ok, err := s.next.AcquireLease(ctx, name, holder, until, now)
	return ok, s.observe("acquire_lease", err)
}

func (s *observedStore) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.observe("release_lease", s.next.ReleaseLease(ctx, name, holder))
}

// ---- Token refresh ----

func (s *observedStore) AcquireRefreshLease(ctx context.Context, bot string, id int64, holder string, until, now time.Time) (store.Identity, store.RefreshLease, error) {
	out, lease, err := s.next.AcquireRefreshLease(ctx, bot, id, holder, until, now)
	return out, lease, s.observe("acquire_refresh_lease", err)
}

func (s *observedStore) RefreshState(ctx context.Context, bot string, id int64, now time.Time) (store.Identity, store.RefreshLease, error) {
	out, lease, err := s.next.RefreshState(ctx, bot, id, now)
	return out, lease, s.observe("refresh_state", err)
}

// StoreRefreshed is a refresh the provider answered: refreshed, or superseded when the lease
// was lost to a relink or another holder.
func (s *observedStore) StoreRefreshed(ctx context.Context, p store.StoreRefreshedParams) (store.Identity, error) {
	out, err := s.next.StoreRefreshed(ctx, p)
	switch {
	case err == nil:
		s.refresh(p.Bot, "refreshed")
	case errors.Is(err, store.ErrLeaseLost):
		s.refresh(p.Bot, "superseded")
	}
	return out, s.observe("store_refreshed", err)
}

// ReleaseRefreshLease with a refresh_failed event is a refresh the provider did not answer
// usefully; its outcome says how (the broker's fixed words: upstream_error, timeout, and
// superseded for a refusal that an earlier refresh, out of time but alive, may have caused).
func (s *observedStore) ReleaseRefreshLease(ctx context.Context, p store.ReleaseRefreshParams) error {
	err := s.next.ReleaseRefreshLease(ctx, p)
	if err == nil && p.Event != nil && p.Event.Kind == store.EventRefreshFailed {
		outcome := "upstream_error"
		if p.Event.Outcome == "timeout" || p.Event.Outcome == "superseded" {
			outcome = p.Event.Outcome
		}
		s.refresh(p.Bot, outcome)
	}
	return s.observe("release_refresh_lease", err)
}

// MarkRelinkRequired by a lease holder is a refresh the provider refused (invalid_grant);
// without a holder it is an expired token that could not be refreshed at all, not a refresh.
func (s *observedStore) MarkRelinkRequired(ctx context.Context, p store.RelinkRequiredParams) (store.Identity, bool, error) {
	out, changed, err := s.next.MarkRelinkRequired(ctx, p)
	if p.Holder != "" {
		switch {
		case err == nil:
			s.refresh(p.Bot, "invalid_grant")
		case errors.Is(err, store.ErrLeaseLost):
			s.refresh(p.Bot, "superseded")
		}
	}
	return out, changed, s.observe("mark_relink_required", err)
}

func (s *observedStore) SealedBatch(ctx context.Context, afterID int64, limit int) ([]store.SealedValues, error) {
	out, err := s.next.SealedBatch(ctx, afterID, limit)
	return out, s.observe("sealed_batch", err)
}

func (s *observedStore) ReplaceSealed(ctx context.Context, old, resealed store.SealedValues) error {
	return s.observe("replace_sealed", s.next.ReplaceSealed(ctx, old, resealed))
}

// ---- Webhook outbox ----

// ClaimDue remembers which bot each claimed event belongs to, so that the Mark* call that
// ends its attempt can be counted for that bot.
func (s *observedStore) ClaimDue(ctx context.Context, holder string, now, until time.Time, limit int) ([]store.OutboxEvent, error) {
	evs, err := s.next.ClaimDue(ctx, holder, now, until, limit)
	if len(evs) > 0 {
		s.mu.Lock()
		for _, e := range evs {
			s.claimed[e.ID] = e.Bot
		}
		s.mu.Unlock()
	}
	return evs, s.observe("claim_due", err)
}

// delivery counts the end of one attempt. A lost claim is not counted: the deliverer that
// took the event over records (and counts) the outcome.
func (s *observedStore) delivery(id int64, outcome string, err error) {
	s.mu.Lock()
	bot, ok := s.claimed[id]
	delete(s.claimed, id)
	s.mu.Unlock()
	if err != nil {
		return
	}
	if !ok {
		bot = Unknown
	}
	s.m.deliveries.WithLabelValues(bot, outcome).Inc()
}

func (s *observedStore) MarkDelivered(ctx context.Context, id int64, holder string, now time.Time) error {
	err := s.next.MarkDelivered(ctx, id, holder, now)
	s.delivery(id, "delivered", err)
	return s.observe("mark_delivered", err)
}

func (s *observedStore) MarkFailed(ctx context.Context, id int64, holder string, next time.Time, lastError string) error {
	err := s.next.MarkFailed(ctx, id, holder, next, lastError)
	s.delivery(id, "failed", err)
	return s.observe("mark_failed", err)
}

func (s *observedStore) MarkDead(ctx context.Context, id int64, holder string, now time.Time, lastError string) error {
	err := s.next.MarkDead(ctx, id, holder, now, lastError)
	s.delivery(id, "dead", err)
	return s.observe("mark_dead", err)
}

func (s *observedStore) OutboxEvents(ctx context.Context, q store.OutboxQuery) ([]store.OutboxEvent, error) {
	out, err := s.next.OutboxEvents(ctx, q)
	return out, s.observe("outbox_events", err)
}

func (s *observedStore) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.next.PruneOutbox(ctx, before)
	return n, s.observe("prune_outbox", err)
}
