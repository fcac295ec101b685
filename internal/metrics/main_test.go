package metrics_test

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The metrics' test over a real broker (flows, bot API calls, a refresh, a webhook, a store
// failure, then /metrics) drives it through internal/testenv over real HTTP. Every bot API
// answer it receives must match the OpenAPI document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
