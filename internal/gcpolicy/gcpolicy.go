// Package gcpolicy is how dpps-render runs Go's garbage collector, in its
// own process and in the benchmarks that measure it in process.
package gcpolicy

import "runtime/debug"

// OffMaxInput is the largest input for which the collector is switched
// off. A run allocates about 50 bytes per input byte and keeps three
// quarters of them to the end (docs/bench.md).
const OffMaxInput = 8 << 20

// MemoryLimit is the heap size at which the collector runs however it is
// set, for an input of inputBytes: the memory bound dpps-render keeps
// (README, "Limits"), less room for what is not heap. The reader's node
// budget keeps what a run holds below it, so the collector reaches it
// only with garbage to free.
func MemoryLimit(inputBytes int) int64 {
	return 40*int64(inputBytes) + 192<<20
}

// ForInput switches the collector off for an input of up to OffMaxInput
// bytes: dpps-render is a short-lived process that keeps most of what it
// parses until it writes, so collecting frees little and, at 5,000 objects,
// cost a quarter of the run. Larger inputs keep Go's pacing, so memory
// stays proportional to the stream. Either way the heap is held to
// MemoryLimit. restore puts back the settings before.
func ForInput(inputBytes int) (restore func()) {
	limit := debug.SetMemoryLimit(MemoryLimit(inputBytes))
	percent := -1
	if inputBytes <= OffMaxInput {
		percent = debug.SetGCPercent(-1)
	}
	return func() {
		debug.SetMemoryLimit(limit)
		if percent != -1 {
			debug.SetGCPercent(percent)
		}
	}
}
