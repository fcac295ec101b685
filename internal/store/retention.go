package store

import (
	"context"
	"time"
)

// This file is the retention part of the store: what the janitor (package janitor) deletes
// once it has been spent or expired for longer than storage.retention, and the lease that
// lets one broker instance at a time do it. Identities, their history and webhook events are
// never purged here (delivered webhooks have their own pruning, PruneOutbox).

// Tables Purge deletes from, each with the rows it takes:
const (
	// PurgeFlows: flows consumed or expired before the cutoff.
	PurgeFlows = "flows"
	// PurgeConfirmations: confirmation codes expired before the cutoff.
	PurgeConfirmations = "confirmations"
	// PurgeAdminSessions: operators' sessions expired before the cutoff.
	PurgeAdminSessions = "admin_sessions"
	// PurgeLinks: links used (completed or cancelled: cancelling spends a link, so its use is
	// then its cancellation), or expired, before the cutoff. What belongs to a link goes with
	// it: its providers, its flows and its confirmation codes (long expired by then: a code
	// lives minutes after its link was used, a retention at least an hour).
	PurgeLinks = "links"
)

// PurgeTables are every table Purge knows, in the order the janitor takes them: a link's
// flows are gone before the link, so deleting a link rarely has anything left to cascade to.
var PurgeTables = []string{PurgeFlows, PurgeConfirmations, PurgeAdminSessions, PurgeLinks}

// RetentionStore is part of Store.
//
//   - Purge deletes at most limit rows of one of PurgeTables that were spent or expired before
//     the cutoff, in one transaction of its own (so a purge never holds the database for
//     long), and returns how many it deleted; 0 when none is left. Rows deleted with them
//     (a link's providers, flows and codes) are not counted. An unknown table is an error.
//   - AcquireLease takes the named lease for holder until the given time when it is free (never
//     taken, released, or its time has passed at now) or already holder's (which renews
//     it), in one conditional write: of any number of racers, one wins. It reports whether
//     holder now holds it. ReleaseLease frees holder's lease; it is not an error when holder
//     does not hold it (any more).
type RetentionStore interface {
	Purge(ctx context.Context, table string, before time.Time, limit int) (int64, error)
	AcquireLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}
