package testenv_test

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestFreeAddrIsBelowTheEphemeralRange: the address is on loopback, free to listen on, and
// its port is one the kernel never gives an outgoing connection, so a test's server cannot
// lose it to another test's connection before it listens.
func TestFreeAddrIsBelowTheEphemeralRange(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skipf("no ephemeral port range to compare with: %v", err)
	}
	low, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	if low < 11000 {
		t.Skipf("the ephemeral range starts at %d: no room below it, FreeAddr takes a port from the kernel", low)
	}
	seen := map[string]bool{}
	for range 20 {
		addr := testenv.FreeAddr(t)
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if host != "127.0.0.1" || port < 10000 || port >= low {
			t.Errorf("FreeAddr = %s, want 127.0.0.1 with a port in [10000, %d)", addr, low)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listening on FreeAddr's %s: %v", addr, err)
		}
		ln.Close()
		seen[addr] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 calls gave %d address(es): the port is not drawn at random", len(seen))
	}
}
