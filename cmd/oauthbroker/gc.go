package main

import (
	"math"
	"runtime/debug"
	"strconv"
)

// serve's garbage collector defaults, for the environment variables an operator did not set.
// The broker's live heap is small (a few MB: the store's caches are SQLite's, outside it), so
// Go's default GOGC=100 collects every few MB of requests and its scavenger hands freed pages
// back to the kernel and takes them again, one madvise at a time: under load both cost more
// CPU than the memory they save is worth. GOGC=400 lets the heap grow to five times the live
// data between collections; the soft memory limit brings collections back early should the
// heap approach it, so memory stays bounded whatever the live heap does.
const (
	defaultGCPercent   = 400      // GOGC
	defaultMemoryLimit = 64 << 20 // GOMEMLIMIT, bytes (64 MiB)
)

// gcSettings applies serve's defaults where the environment (lookup) sets neither GOGC nor
// GOMEMLIMIT: the runtime has applied those itself, and the operator's word wins. It returns
// what is in effect: GOGC's percent (-1: off) and the soft limit in bytes (math.MaxInt64: none).
func gcSettings(lookup func(string) (string, bool)) (percent int, limit int64) {
	if _, set := lookup("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	if _, set := lookup("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	return gcPercentNow(), debug.SetMemoryLimit(-1) // a negative limit reads it without a change
}

// gcPercentNow is the runtime's GOGC percent (-1: off). SetGCPercent only reads it by
// replacing it, so it is put back at once.
func gcPercentNow() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// memoryLimitText is a soft memory limit as GOMEMLIMIT spells it: 64MiB, or off.
func memoryLimitText(limit int64) string {
	switch {
	case limit == math.MaxInt64:
		return "off"
	case limit%(1<<20) == 0:
		return strconv.FormatInt(limit>>20, 10) + "MiB"
	}
	return strconv.FormatInt(limit, 10) + "B"
}
