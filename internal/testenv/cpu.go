package testenv

import (
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the CPU time this process has used so far, user and system. Benchmarks
// report it per operation where wall time hides a cost: writes waiting for each other,
// answers awaited from another server, a busy machine.
func ProcessCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
