//go:build !linux || !cgo

package sqlite

// keepFreedMemory tunes glibc's malloc (malloc_linux.go); elsewhere there is nothing to do.
func keepFreedMemory() {}
