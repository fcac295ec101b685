package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Events returns an identity's history, oldest first. The history outlives the identity, so
// an unknown or deleted identity is not an error: its history is simply what was recorded.
func (s *Store) Events(ctx context.Context, bot string, identityID int64) ([]store.Event, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, identity_id, bot, kind, outcome, detail, at
		FROM identity_events WHERE identity_id = ? AND bot = ? ORDER BY id`, identityID, bot)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events of identity %d: %w", identityID, err)
	}
	defer rows.Close()
	out := []store.Event{}
	for rows.Next() {
		var (
			e  store.Event
			at sql.NullInt64
		)
		if err := rows.Scan(&e.ID, &e.IdentityID, &e.Bot, &e.Kind, &e.Outcome, &e.Detail, &at); err != nil {
			return nil, fmt.Errorf("sqlite: events of identity %d: %w", identityID, err)
		}
		e.At = fromMillis(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: events of identity %d: %w", identityID, err)
	}
	return out, nil
}

func insertEvent(ctx context.Context, tx *sql.Tx, e store.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO identity_events (identity_id, bot, kind, outcome, detail, at)
		VALUES (?, ?, ?, ?, ?, ?)`, e.IdentityID, e.Bot, e.Kind, e.Outcome, e.Detail, millis(e.At))
	if err != nil {
		return fmt.Errorf("insert %s event: %w", e.Kind, err)
	}
	return nil
}
