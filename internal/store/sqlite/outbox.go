package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// OutboxEvents lists events for operators, newest first.
func (s *Store) OutboxEvents(ctx context.Context, q store.OutboxQuery) ([]store.OutboxEvent, error) {
	if q.Limit < 1 || q.Limit > 500 {
		return nil, fmt.Errorf("sqlite: list webhooks: limit %d is not 1-500", q.Limit)
	}
	var (
		where []string
		args  []any
	)
	for _, f := range []struct {
		col string
		v   string
	}{{"bot", q.Bot}, {"state", q.State}} {
		if f.v != "" {
			where, args = append(where, f.col+" = ?"), append(args, f.v)
		}
	}
	if q.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, q.BeforeID)
	}
	query := `SELECT ` + outboxColumns + ` FROM webhook_outbox`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.reader.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	out, err := sqlstore.ScanOutbox(sqlRows{rows}, codec{})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	return out, nil
}
