package postgres

import (
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/store/postgres/pgtest"
	"github.com/oauthbroker/oauthbroker/internal/store/storetest"
)

// TestPurgedLinksLeaveNothing: deleting a link takes its providers, flows and codes with it,
// as its foreign keys say (storetest.CheckPurgedLinksLeaveNothing).
func TestPurgedLinksLeaveNothing(t *testing.T) {
	s, err := Open(t.Context(), pgtest.DSN(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckPurgedLinksLeaveNothing(t, s, func(query string) int {
		var n int
		if err := s.pool.QueryRow(t.Context(), query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	})
}
