package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// TestPurgeReadsABoundedWindowOfTheOldestRows: a batch of links or flows deletes the oldest
// due rows first and reads at most purgeWindow + limit rows, so due rows behind more rows
// than that which are not yet due wait until those are due, and then go too.
func TestPurgeReadsABoundedWindowOfTheOldestRows(t *testing.T) {
	window, err := strconv.Atoi(purgeWindow)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 8
	now := time.UnixMilli(1_900_000_000_000)
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }

	for _, c := range []struct {
		table string
		// fill inserts n rows not due at now, ids 1..n, expiring at now+expiry.
		fill   string
		expiry time.Duration
		// due makes row i due at now, after the filler.
		due   func(t *testing.T, s *Store, i int)
		count string
	}{
		{
			table: store.PurgeLinks,
			fill: `INSERT INTO links (token_hash, bot, channel, user_id, created_at, expires_at)
				WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
				SELECT CAST('filler-' || i AS BLOB), 'b', 'c', 'u' || i, ?2, ?3 FROM n`,
			expiry: 20 * time.Hour,
			due: func(t *testing.T, s *Store, i int) {
				l := store.Link{TokenHash: fmt.Appendf(nil, "due-%d", i), Bot: "b", Channel: "c", User: "due",
					CreatedAt: now.Add(-90 * time.Minute), ExpiresAt: now.Add(20 * time.Hour),
					Providers: []store.LinkProvider{{Provider: "github"}}}
				if i%2 == 0 {
					l.ExpiresAt = now.Add(-time.Hour) // expired
				} else {
					l.UsedAt = now.Add(-time.Hour) // spent
				}
				if _, err := s.CreateLink(t.Context(), l); err != nil {
					t.Fatal(err)
				}
			},
			count: `SELECT count(*), coalesce(min(id), 0) FROM links`,
		},
		{
			table: store.PurgeFlows,
			fill: `INSERT INTO flows (state_hash, link_id, created_at, expires_at)
				WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
				SELECT CAST('filler-' || i AS BLOB), 1, ?2, ?3 FROM n`,
			expiry: 5 * time.Minute,
			due: func(t *testing.T, s *Store, i int) {
				state := fmt.Appendf(nil, "due-%d", i)
				f := store.Flow{StateHash: state, LinkID: 1, CreatedAt: now.Add(-5 * time.Minute), ExpiresAt: now.Add(10 * time.Minute)}
				if i%2 == 0 {
					f.ExpiresAt = now.Add(-time.Millisecond)
				}
				if err := s.CreateFlow(t.Context(), f); err != nil {
					t.Fatal(err)
				}
				if i%2 == 1 {
					if _, err := s.ConsumeFlow(t.Context(), state, now.Add(-time.Minute)); err != nil {
						t.Fatal(err)
					}
				}
			},
			count: `SELECT count(*), coalesce(min(rowid), 0) FROM flows`,
		},
	} {
		t.Run(c.table, func(t *testing.T) {
			s, err := Open(t.Context(), t.TempDir()+"/db")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if c.table == store.PurgeFlows { // the flows' link, open for days
				if _, err := s.CreateLink(t.Context(), store.Link{TokenHash: []byte("flows' link"), Bot: "b", Channel: "c", User: "u",
					CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(48 * time.Hour), Providers: []store.LinkProvider{{Provider: "github"}}}); err != nil {
					t.Fatal(err)
				}
			}
			filler := window + limit
			if err := s.inTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, c.fill, filler, ms(-2*time.Hour), ms(c.expiry))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			const due = 3
			for i := range due {
				c.due(t, s, i)
			}
			rows := func() (n, oldest int) {
				t.Helper()
				if err := s.reader.QueryRowContext(t.Context(), c.count).Scan(&n, &oldest); err != nil {
					t.Fatal(err)
				}
				return n, oldest
			}
			before, first := rows()

			// The due rows lie behind a full window of rows that are not due: not reached.
			if n, err := s.Purge(t.Context(), c.table, now, limit); err != nil || n != 0 {
				t.Fatalf("Purge behind a full window: %d, %v; want 0", n, err)
			}
			if n, _ := rows(); n != before {
				t.Fatalf("%d rows left of %d", n, before)
			}

			// Once the filler is due too, the oldest rows go first, a batch at a time, and
			// every due row goes in the end.
			later := now.Add(c.expiry + time.Millisecond)
			if n, err := s.Purge(t.Context(), c.table, later, limit); err != nil || n != limit {
				t.Fatalf("first batch: %d, %v; want %d", n, err, limit)
			}
			if n, oldest := rows(); n != before-limit || oldest != first+limit {
				t.Fatalf("after the first batch: %d rows from %d, want %d from %d", n, oldest, before-limit, first+limit)
			}
			total := int64(limit)
			for {
				n, err := s.Purge(t.Context(), c.table, later, limit)
				if err != nil {
					t.Fatal(err)
				}
				total += n
				if n < limit {
					break
				}
			}
			if want := int64(filler + due); total != want {
				t.Errorf("purged %d rows, want %d", total, want)
			}
			if n, _ := rows(); n != 0 {
				t.Errorf("%d rows left, want none", n)
			}
		})
	}
}
