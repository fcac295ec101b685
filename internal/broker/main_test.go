package broker_test

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The broker's behaviour tests (the link flow, confirm codes, OpenID Connect, refresh and its
// lease, revocation, the provider shapes) drive a real broker through internal/testenv, over
// real HTTP against the providers' fakes. Every bot API answer they receive must match the
// OpenAPI document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
