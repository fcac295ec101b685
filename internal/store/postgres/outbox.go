package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlstore"
)

// prefixed qualifies each column of a comma-separated list with a table alias.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// OutboxEvents lists events for operators, newest first.
func (s *Store) OutboxEvents(ctx context.Context, q store.OutboxQuery) ([]store.OutboxEvent, error) {
	if q.Limit < 1 || q.Limit > 500 {
		return nil, fmt.Errorf("postgres: list webhooks: limit %d is not 1-500", q.Limit)
	}
	var c conditions
	if q.Bot != "" {
		c.add("bot = ?", q.Bot)
	}
	if q.State != "" {
		c.add("state = ?", q.State)
	}
	if q.BeforeID > 0 {
		c.add("id < ?", q.BeforeID)
	}
	query := `SELECT ` + outboxColumns + ` FROM webhook_outbox` + c.where()
	query += ` ORDER BY id DESC LIMIT ` + c.param(q.Limit)
	rows, err := s.pool.Query(ctx, query, c.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	out, err := sqlstore.ScanOutbox(rows, codec{})
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	return out, nil
}
