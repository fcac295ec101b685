package postgres

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
)

// TestLinksMadeTogetherShareOneStatement: links that find a statement in flight wait, and when
// it ends one statement inserts them all, each with its own id, providers and scopes; a taken
// token, the same token twice and a caller that gave up are answered on their own. A link that
// fails the whole statement sends every link of it through the rules one by one, so that only
// that link fails.
func TestLinksMadeTogetherShareOneStatement(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openStore(t, dsn)
	// The batches go through a pool that counts the statements; the rules keep the store's.
	statements := &statementCounter{sql: insertLinks}
	s.links = newLinkCreates(tracedPool(t, dsn, statements), s.Rules)
	now := time.Date(2026, 12, 7, 12, 0, 0, 123456789, time.UTC)
	link := func(token string, providers ...store.LinkProvider) store.Link {
		return store.Link{TokenHash: []byte(token), Bot: "b", Channel: "slack", User: "U-" + token,
			UserLabel: "label " + token, RedirectURL: "https://chat.example/" + token,
			CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), Providers: providers}
	}
	github := store.LinkProvider{Provider: "github", Scopes: []string{"read:user", "repo"}}
	twitter := store.LinkProvider{Provider: "twitter"}
	if _, err := s.CreateLink(t.Context(), link("taken", github)); err != nil {
		t.Fatal(err)
	}

	// createTogether queues links behind a statement in flight and returns each link's answer.
	createTogether := func(links []store.Link, gaveUp int) ([]store.Link, []error) {
		out, errs := make([]store.Link, len(links)), make([]error, len(links))
		together(t, s.links, len(links), gaveUp, func(ctx context.Context, i int) {
			out[i], errs[i] = s.CreateLink(ctx, links[i])
		})
		return out, errs
	}
	check := func(what string, got store.Link, err error, want store.Link) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		read, err := s.LinkByTokenHash(t.Context(), want.TokenHash)
		if err != nil {
			t.Fatalf("%s: LinkByTokenHash: %v", what, err)
		}
		if got.ID == 0 || read.ID != got.ID {
			t.Fatalf("%s: CreateLink returned id %d, the link reads back as %d", what, got.ID, read.ID)
		}
		for _, l := range []store.Link{got, read} {
			if l.User != want.User || l.UserLabel != want.UserLabel || l.RedirectURL != want.RedirectURL ||
				!l.CreatedAt.Equal(now.Truncate(time.Millisecond)) || !l.ExpiresAt.Equal(want.ExpiresAt.Truncate(time.Millisecond)) ||
				!l.UsedAt.Equal(want.UsedAt.Truncate(time.Millisecond)) || len(l.Providers) != len(want.Providers) {
				t.Fatalf("%s: %+v, want %+v", what, l, want)
			}
			for k, p := range l.Providers {
				w := want.Providers[k]
				if p.Provider != w.Provider || !slices.Equal(p.Scopes, w.Scopes) && len(p.Scopes)+len(w.Scopes) > 0 ||
					p.IdentityID != w.IdentityID || !p.LinkedAt.Equal(w.LinkedAt.Truncate(time.Millisecond)) {
					t.Fatalf("%s: provider %d is %+v, want %+v", what, k, p, w)
				}
			}
		}
	}

	// A link whose provider is linked already, as one copied from another store
	// (migrate-store) arrives: its identity, linked and used times are kept.
	copied := link("copied", store.LinkProvider{Provider: "twitter", Scopes: []string{"tweet.read"}, IdentityID: 42, LinkedAt: now}, github)
	copied.UsedAt = now.Add(time.Minute)
	links := []store.Link{
		link("one", github),
		copied,
		link("taken", twitter),
		link("three", twitter),
		link("one", twitter),
		link("given-up", github),
	}
	out, errs := createTogether(links, 5)
	check("a link with one provider", out[0], errs[0], links[0])
	check("a link with two providers, one of them linked", out[1], errs[1], links[1])
	check("a link beside a taken token", out[3], errs[3], links[3])
	if !errors.Is(errs[2], store.ErrConflict) || !errors.Is(errs[4], store.ErrConflict) {
		t.Fatalf("a taken token: %v; a token twice in one batch: %v; want both ErrConflict", errs[2], errs[4])
	}
	if !errors.Is(errs[5], context.Canceled) {
		t.Fatalf("a link whose caller gave up: %v, want context.Canceled", errs[5])
	}
	if _, err := s.LinkByTokenHash(t.Context(), []byte("given-up")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the link given up was inserted: %v", err)
	}
	if sent, failed := statements.counts(); sent != 1 || failed != 0 {
		t.Fatalf("the batch took %d statements, %d of them failed; want one that succeeded", sent, failed)
	}

	// One provider twice breaks link_providers' key: the whole statement fails, and the
	// rules insert the others one by one.
	links = []store.Link{link("four", github), link("twice", github, github), link("five", twitter)}
	out, errs = createTogether(links, -1)
	check("a link beside a broken one", out[0], errs[0], links[0])
	check("another link beside a broken one", out[2], errs[2], links[2])
	if errs[1] == nil {
		t.Fatal("a link with one provider twice was made")
	}
	if _, err := s.LinkByTokenHash(t.Context(), []byte("twice")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the broken link is there: %v", err)
	}
	if sent, failed := statements.counts(); sent != 2 || failed != 1 {
		t.Fatalf("after the broken batch: %d statements, %d failed; want one more, failed", sent, failed)
	}
}

// statementCounter counts the statements of one text sent, and those that failed.
type statementCounter struct {
	sql          string
	mu           sync.Mutex
	sent, failed int
}

// counted marks the context of a statement statementCounter counts, for TraceQueryEnd.
type counted struct{}

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if d.SQL != c.sql {
		return ctx
	}
	c.mu.Lock()
	c.sent++
	c.mu.Unlock()
	return context.WithValue(ctx, counted{}, true)
}

func (c *statementCounter) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if ctx.Value(counted{}) != nil && d.Err != nil {
		c.mu.Lock()
		c.failed++
		c.mu.Unlock()
	}
}

func (c *statementCounter) counts() (sent, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent, c.failed
}
