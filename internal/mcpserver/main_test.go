package mcpserver_test

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The MCP endpoint's behaviour tests (tools, inputs, isolation between bots and users, the
// cost over a direct proxy call) drive a real broker through internal/testenv over real HTTP,
// with the SDK's own client. Every bot API answer they receive must match the OpenAPI
// document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
