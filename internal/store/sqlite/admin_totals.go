package sqlite

import (
	"context"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// IdentityTotals returns the number of identities per bot, provider and status. It reads
// identity_counts, which triggers keep in step with identities inside every writing
// transaction (0002_admin.sql): a handful of rows, where counting would read a million.
func (s *Store) IdentityTotals(ctx context.Context) ([]store.IdentityTotal, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT bot, provider, status, n FROM identity_counts
		WHERE n > 0 ORDER BY bot, provider, status`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: identity totals: %w", err)
	}
	defer rows.Close()
	out := []store.IdentityTotal{}
	for rows.Next() {
		var t store.IdentityTotal
		if err := rows.Scan(&t.Bot, &t.Provider, &t.Status, &t.Count); err != nil {
			return nil, fmt.Errorf("sqlite: identity totals: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: identity totals: %w", err)
	}
	return out, nil
}
