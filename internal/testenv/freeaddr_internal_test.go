package testenv

import (
	"net"
	"strconv"
	"testing"
)

// checkListenable fails unless addr is on loopback and free to listen on; it returns the port.
func checkListenable(t *testing.T, addr string) int {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("%s: want 127.0.0.1 and a port", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	ln.Close()
	return port
}

// TestFreeAddrIsBelowTheEphemeralRange: the address is on loopback, free to listen on, and
// its port is one the kernel never gives an outgoing connection, so a test's server cannot
// lose it to another test's connection before it listens.
func TestFreeAddrIsBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	if low-lowestPort < leastRoom {
		t.Skipf("the ephemeral range starts at %d: no room below it, FreeAddr takes a port from the kernel", low)
	}
	seen := map[string]bool{}
	for range 20 {
		addr := FreeAddr(t)
		if port := checkListenable(t, addr); port < lowestPort || port >= low {
			t.Errorf("FreeAddr = %s, want a port in [%d, %d)", addr, lowestPort, low)
		}
		seen[addr] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 calls gave %d address(es): the port is not drawn at random", len(seen))
	}
}

// TestFreeAddrWithoutRoomTakesTheKernelsPort: below an ephemeral range that leaves fewer than
// leastRoom ports above lowestPort, the address is the kernel's own (in its real range, above
// everything FreeAddr draws), still on loopback and free.
func TestFreeAddrWithoutRoomTakesTheKernelsPort(t *testing.T) {
	low := ephemeralLow()
	if low-lowestPort < leastRoom {
		t.Skipf("the ephemeral range starts at %d: every FreeAddr already takes the kernel's port", low)
	}
	for range 5 {
		addr := freeAddr(t, lowestPort+leastRoom-1)
		if port := checkListenable(t, addr); port < low {
			t.Errorf("freeAddr with no room = %s, want the kernel's port, at or above %d", addr, low)
		}
	}
}
