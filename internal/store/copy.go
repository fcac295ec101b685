package store

import (
	"context"
	"time"
)

// This file is what copying a whole store into another takes (`oauthbroker migrate-store`):
// the tables, the records that Store's own types leave a field out of, and the receiving
// side. Records keep their ids and their sealed values byte for byte, so bots keep the
// identity ids they hold and the key file that sealed the tokens still opens them.

// CopyTables are the tables a copy fills, in the order it fills them (parents first).
var CopyTables = []string{"links", "link_providers", "flows", "identities", "identity_events", "confirmations", "webhook_outbox", "admin_sessions", "proxy_usage"}

// FlowRecord is a flow with what Flow leaves out: whether it was consumed.
type FlowRecord struct {
	Flow
	ConsumedAt time.Time
}

// LinkProviderRecord is one provider of a link, at its position in the link's order.
type LinkProviderRecord struct {
	LinkID   int64
	Position int
	LinkProvider
}

// UsageRecord is one identity's proxy usage.
type UsageRecord struct {
	IdentityID int64
	ProxyUsage
}

// Importer receives a copy, one batch of one table at a time, in the order of CopyTables:
// Links (without their providers) first, then LinkProviders, Flows, Identities, Events,
// Confirmations, Outbox, AdminSessions and Usage.
type Importer interface {
	Links(ctx context.Context, ls []Link) error
	LinkProviders(ctx context.Context, ps []LinkProviderRecord) error
	Flows(ctx context.Context, fs []FlowRecord) error
	Identities(ctx context.Context, ids []Identity) error
	Events(ctx context.Context, evs []Event) error
	Confirmations(ctx context.Context, cs []Confirmation) error
	Outbox(ctx context.Context, evs []OutboxEvent) error
	AdminSessions(ctx context.Context, ss []AdminSession) error
	Usage(ctx context.Context, us []UsageRecord) error
}
