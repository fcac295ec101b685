package server_test

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The server's behaviour tests (attacks on the flow and the connect page, the rate limits,
// the client address behind proxies, the connect page in Chromium, a provider failing
// during the flow) drive a real broker through internal/testenv over real HTTP. Every bot
// API answer they receive must match the OpenAPI document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
