package admin_test

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The admin pages' behaviour tests (http_test.go, pages_http_test.go, browser_test.go) drive
// a real broker through internal/testenv: an operator's browser over real HTTP, and Chromium.
// Every bot API answer they receive must match the OpenAPI document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
