package janitor_test

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The janitor's test over a real broker (its purge beside the bots' credential reads, on
// SQLite and on PostgreSQL) drives it through internal/testenv over real HTTP. Every bot API
// answer it receives must match the OpenAPI document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
