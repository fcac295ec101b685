//go:build cgo

package sqlite

/*
#include <malloc.h>

// keep_freed_memory raises glibc's trim threshold; 0 where there is no such knob.
static int keep_freed_memory(int bytes) {
#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD)
	return mallopt(M_TRIM_THRESHOLD, bytes);
#else
	(void)bytes;
	return 0;
#endif
}
*/
import "C"

import (
	"os"
	"strings"
	"sync"
)

// trimThreshold is how much free memory glibc may keep at the top of an arena before handing
// it back to the kernel.
//
// Why: SQLite allocates and frees its buffers with malloc on whichever OS thread the cgo call
// runs on, so they land in several glibc arenas. By default glibc returns an arena's free top
// to the kernel (madvise MADV_DONTNEED) once 128 KiB of it are free, and SQLite's churn crosses
// that line over and over: in a complete link flow that was about 0.45 madvise calls per flow,
// each a TLB shootdown across the CPUs that costs ~150 µs of CPU on a virtual machine (3% of the
// broker's CPU per flow, 1.5% per credentials read; strace -c and perf, see
// docs/BENCHMARKS.md). Keeping up to 2 MiB per arena stops the churn; the memory stays
// bounded by the number of arenas (a few per CPU).
const trimThreshold = 2 << 20

var keepFreedMemoryOnce sync.Once

// keepFreedMemory sets trimThreshold once per process, unless the operator tuned glibc's
// malloc through its environment variables, which then win.
func keepFreedMemory() {
	keepFreedMemoryOnce.Do(func() {
		if strings.Contains(os.Getenv("GLIBC_TUNABLES"), "trim_threshold") || os.Getenv("MALLOC_TRIM_THRESHOLD_") != "" {
			return
		}
		C.keep_freed_memory(C.int(trimThreshold))
	})
}
