package sqlstore

import (
	"context"
	"time"
)

// Purge deletes up to limit rows of table spent or expired before the cutoff, in one
// statement: each batch is its own short transaction, so a purge never holds the database
// for long. The backend's statement picks the batch among the table's oldest rows (through
// expiry and use indexes, or in SQLite by rowid within a bounded window), so a batch costs
// the rows it deletes, not the table.
func (r *Rules) Purge(ctx context.Context, table string, before time.Time, limit int) (int64, error) {
	query, ok := r.sql.Purge[table]
	if !ok || limit <= 0 {
		return 0, r.errorf("purge %q (limit %d): not a purgeable table, or no limit", table, limit)
	}
	n, err := r.db.Writer().Exec(ctx, query, r.codec.Time(before), limit)
	if err != nil {
		return 0, r.errorf("purge %s: %w", table, err)
	}
	return n, nil
}

// AcquireLease takes or renews a named lease: one upsert whose update only happens when the
// lease is free or already the holder's, so of any number of racers exactly one gets a row back.
func (r *Rules) AcquireLease(ctx context.Context, name, holder string, until, now time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, r.errorf("acquire lease: empty name or holder")
	}
	var got string
	err := r.db.Writer().QueryRow(ctx, r.sql.AcquireLease, name, holder, r.codec.Time(until), r.codec.Time(now)).Scan(&got)
	if noRows(err) {
		return false, nil
	}
	if err != nil {
		return false, r.errorf("acquire lease %s: %w", name, err)
	}
	return got == holder, nil
}

// ReleaseLease frees holder's lease; a lease holder does not hold is left alone.
func (r *Rules) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := r.db.Writer().Exec(ctx, r.sql.ReleaseLease, name, holder); err != nil {
		return r.errorf("release lease %s: %w", name, err)
	}
	return nil
}
