package proxy_test

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The proxy's behaviour tests (attack, contract, limits, oauth2, readme, refresh, twitter)
// drive a real broker through internal/testenv: a bot's calls through /api/v1/.../proxy/ to
// provider APIs that record what reaches them (testenv.Upstream). Every bot API answer they
// receive must match the OpenAPI document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
