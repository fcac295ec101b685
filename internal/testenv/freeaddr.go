package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreeAddr returns a loopback address nobody listens on, for a server that a test cannot
// hand a listener: a child process, or a config that names its listen address.
//
// Why not "127.0.0.1:0" and close: the kernel gives such a port from its ephemeral range
// (net.ipv4.ip_local_port_range), the range every outgoing connection takes its local port
// from. Between the check and the server's own listen, a connection of any test running
// beside it (go test runs packages in parallel) could take the port, and the server fails
// with EADDRINUSE. A port below that range is never given to a connection or to a ":0"
// listener; only another explicit listen could take it, and the port is drawn at random
// from thousands.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return freeAddr(t, ephemeralLow())
}

const (
	lowestPort = 10000 // above the well-known and registered ports services often use
	// leastRoom is how many ports below the ephemeral range FreeAddr needs to draw from;
	// with fewer it takes the kernel's port.
	leastRoom = 1000
)

// freeAddr is FreeAddr below an ephemeral range that starts at low.
func freeAddr(t testing.TB, low int) string {
	t.Helper()
	if low-lowestPort >= leastRoom {
		for range 100 {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(lowestPort+rand.IntN(low-lowestPort)))
			if err != nil {
				continue // taken; draw again
			}
			addr := ln.Addr().String()
			ln.Close()
			return addr
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ephemeralLow is the first port of the kernel's ephemeral range: Linux's default when the
// setting cannot be read (another OS, a restricted /proc).
func ephemeralLow() int {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}
