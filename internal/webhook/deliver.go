package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Outbox is what delivery needs of the store.
type Outbox interface {
	ClaimDue(ctx context.Context, holder string, now, until time.Time, limit int) ([]store.OutboxEvent, error)
	MarkDelivered(ctx context.Context, id int64, holder string, now time.Time) error
	MarkFailed(ctx context.Context, id int64, holder string, next time.Time, lastError string) error
	MarkDead(ctx context.Context, id int64, holder string, now time.Time, lastError string) error
	PruneOutbox(ctx context.Context, deliveredBefore time.Time) (int64, error)
}

// Target is where one bot's events go.
type Target struct {
	URL    string
	Secret string
}

// Options tune delivery; every zero value has a sensible default.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Client sends the deliveries. Default: Timeout per attempt, redirects not followed (a
	// redirect would send a signed event somewhere the operator did not configure).
	Client  *http.Client
	Timeout time.Duration // one attempt; default 10s

	Poll       time.Duration // how often the outbox is looked at without a Wake; default 1s
	MinBackoff time.Duration // the first retry's delay; default 1s, doubling per attempt
	MaxBackoff time.Duration // the longest delay between attempts; default 1h
	MaxAge     time.Duration // how long an event is retried before it is dead; default 24h
	Retention  time.Duration // how long delivered events stay in the outbox; default 7 days
	Batch      int           // events claimed per round; default 16
}

// Deliverer runs the delivery loop. Several, in several processes, may share one outbox:
// claims in the store keep them from sending one event twice at once.
type Deliverer struct {
	out     Outbox
	targets map[string]Target
	opts    Options
	holder  string
	wake    chan struct{}
}

// New makes a Deliverer for the bots in targets (bot name → its webhook).
func New(out Outbox, targets map[string]Target, opts Options) *Deliverer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{
			Timeout:       opts.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&opts.Poll, time.Second)
	set(&opts.MinBackoff, time.Second)
	set(&opts.MaxBackoff, time.Hour)
	set(&opts.MaxAge, 24*time.Hour)
	set(&opts.Retention, 7*24*time.Hour)
	if opts.Batch <= 0 {
		opts.Batch = 16
	}
	return &Deliverer{out: out, targets: targets, opts: opts, holder: "deliverer-" + crand.Text(), wake: make(chan struct{}, 1)}
}

// Wake makes the loop look at the outbox now: the broker calls it after queueing an event.
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Run delivers until ctx ends, then returns once the attempts in flight have finished (at
// most the attempt timeout later). Store errors are logged and retried at the next poll: the
// outbox keeps everything, so nothing is lost by waiting.
func (d *Deliverer) Run(ctx context.Context) {
	nextPrune := time.Time{}
	for {
		if now := d.opts.Now(); now.After(nextPrune) {
			d.prune(ctx, now)
			nextPrune = now.Add(time.Hour)
		}
		if ctx.Err() != nil {
			return
		}
		n, err := d.round(ctx)
		if err != nil && ctx.Err() == nil {
			d.opts.Logger.ErrorContext(ctx, "webhook: reading the outbox failed; retrying", "err", err)
		}
		if n == d.opts.Batch && err == nil {
			continue // a full batch: more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-time.After(d.opts.Poll):
		}
	}
}

// round claims one batch of due events and delivers it. The batch holds at most one event per
// identity, so its deliveries run in parallel without breaking any identity's order.
func (d *Deliverer) round(ctx context.Context) (int, error) {
	now := d.opts.Now()
	evs, err := d.out.ClaimDue(ctx, d.holder, now, now.Add(d.opts.Timeout+5*time.Second), d.opts.Batch)
	if err != nil {
		return 0, err
	}
	// Attempts already under way finish even when ctx ends (shutdown): each is bounded by the
	// attempt timeout, and a receiver that already got the event would otherwise get it again
	// after the restart. The loop stops after this round.
	actx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for _, e := range evs {
		wg.Go(func() { d.deliver(actx, e) })
	}
	wg.Wait()
	return len(evs), nil
}

func (d *Deliverer) deliver(ctx context.Context, e store.OutboxEvent) {
	log := d.opts.Logger.With("bot", e.Bot, "event_id", e.EventID, "type", e.Type, "identity", e.IdentityID, "attempt", e.Attempts+1)
	// The outcome is written even when ctx ends mid-attempt (shutdown): the claim would
	// otherwise hold the event back until it expires.
	mctx := context.WithoutCancel(ctx)
	t, ok := d.targets[e.Bot]
	if !ok || t.URL == "" {
		log.ErrorContext(ctx, "webhook: event is dead: its bot has no webhook_url (any more)")
		d.mark(mctx, log, d.out.MarkDead(mctx, e.ID, d.holder, d.opts.Now(), "the bot has no webhook_url configured"))
		return
	}
	err := d.post(ctx, t, e)
	now := d.opts.Now()
	if err == nil {
		log.InfoContext(ctx, "webhook: delivered")
		d.mark(mctx, log, d.out.MarkDelivered(mctx, e.ID, d.holder, now))
		return
	}
	deadline := e.CreatedAt.Add(d.opts.MaxAge)
	if !now.Before(deadline) {
		log.ErrorContext(ctx, "webhook: event is dead: not delivered within the retry window",
			"window", d.opts.MaxAge.String(), "err", err)
		d.mark(mctx, log, d.out.MarkDead(mctx, e.ID, d.holder, now, err.Error()))
		return
	}
	// The last retry lands on the deadline itself rather than past it.
	next := now.Add(d.backoff(e.Attempts + 1))
	if next.After(deadline) {
		next = deadline
	}
	log.WarnContext(ctx, "webhook: delivery failed; will retry", "retry_at", next, "err", err)
	d.mark(mctx, log, d.out.MarkFailed(mctx, e.ID, d.holder, next, err.Error()))
}

func (d *Deliverer) mark(ctx context.Context, log *slog.Logger, err error) {
	if errors.Is(err, store.ErrLeaseLost) {
		// Our claim ran out and another deliverer took the event: it owns the outcome now.
		log.WarnContext(ctx, "webhook: claim expired during the attempt; another deliverer has the event")
	} else if err != nil {
		log.ErrorContext(ctx, "webhook: recording the attempt failed; the event is retried when its claim expires", "err", err)
	}
}

// backoff is the delay after the n-th failed attempt: MinBackoff doubling per attempt up to
// MaxBackoff, with "equal jitter" (half fixed, half random) so that receivers coming back
// from an outage are not hit by every retry at the same instant.
func (d *Deliverer) backoff(n int) time.Duration {
	delay := d.opts.MaxBackoff
	if n < 40 {
		delay = min(d.opts.MinBackoff<<(n-1), d.opts.MaxBackoff)
	}
	half := delay / 2
	return half + rand.N(delay-half+1)
}

// post sends one attempt. Its error text is stored and logged, so it never holds the URL
// (whose query may carry a token of the bot's) or anything of the answer's body.
func (d *Deliverer) post(ctx context.Context, t Target, e store.OutboxEvent) error {
	sentAt := d.opts.Now()
	body, err := Render(e, sentAt)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("webhook_url is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "oauthbroker-webhook/1")
	req.Header.Set(HeaderSignature, Sign(body, t.Secret))
	req.Header.Set(HeaderEventID, e.EventID)
	req.Header.Set(HeaderEvent, e.Type)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(sentAt.Unix(), 10))
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			if ue.Timeout() {
				return errors.New("no answer within " + d.opts.Timeout.String())
			}
			return errors.New("POST failed: " + ue.Err.Error())
		}
		return errors.New("POST failed")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered HTTP %d", resp.StatusCode)
	}
	return nil
}

func (d *Deliverer) prune(ctx context.Context, now time.Time) {
	n, err := d.out.PruneOutbox(ctx, now.Add(-d.opts.Retention))
	if err != nil {
		d.opts.Logger.WarnContext(ctx, "webhook: pruning delivered events failed", "err", err)
	} else if n > 0 {
		d.opts.Logger.InfoContext(ctx, "webhook: pruned delivered events", "count", n)
	}
}
