package webhook_test

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The outbox's behaviour tests (retries, order per identity, the retry window) drive a real
// broker through internal/testenv over real HTTP, with a signed-webhook receiver. Every bot
// API answer they receive must match the OpenAPI document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
