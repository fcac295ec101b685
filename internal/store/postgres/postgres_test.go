package postgres_test

import (
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
	"github.com/oauthbroker/oauthbroker/internal/store/storetest"
)

// TestConformance runs the suite every store passes (storetest) against PostgreSQL.
func TestConformance(t *testing.T) {
	pgtest.Require(t) // one line when there is no server, not one per subtest
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.DSN(t)) })
}
