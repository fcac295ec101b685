package providers_test

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// Besides the providers' own tests, the catalog's end-to-end test and the hand-written
// `type: oauth2` tests drive a real broker through internal/testenv over real HTTP. Every bot
// API answer any of them receives must match the OpenAPI document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
