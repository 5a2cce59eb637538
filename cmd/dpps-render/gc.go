package main

import "runtime/debug"

// gcOffMaxInput is the largest input for which the garbage collector is
// switched off, and gcOffMemoryLimit the heap size at which it runs anyway.
// A run allocates about 100 bytes per input byte (docs/bench.md), so inputs
// up to this size stay far below the limit.
const (
	gcOffMaxInput    = 2 << 20
	gcOffMemoryLimit = 1 << 30
)

// tuneGC switches the garbage collector off for a small input. dpps-render
// is a short-lived process that keeps most of what it parses until it
// writes: on a Helm release (well under gcOffMaxInput) collecting frees
// little and costs a large part of the run. Larger inputs keep Go's
// defaults, so memory stays proportional to the stream.
func tuneGC(inputBytes int) {
	if inputBytes > gcOffMaxInput {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(gcOffMemoryLimit)
}
