// Package gcpolicy is how dpps-render runs Go's garbage collector, in its
// own process and in the benchmarks that measure it in process.
package gcpolicy

import "runtime/debug"

// OffMaxInput is the largest input for which the collector is switched
// off, and OffMemoryLimit the heap size at which it runs anyway. A run
// allocates about 50 bytes per input byte and keeps three quarters of them
// to the end (docs/bench.md), so inputs up to OffMaxInput stay below the
// limit.
const (
	OffMaxInput    = 8 << 20
	OffMemoryLimit = 1 << 30
)

// ForInput switches the collector off for an input of up to OffMaxInput
// bytes: dpps-render is a short-lived process that keeps most of what it
// parses until it writes, so collecting frees little and, at 5,000 objects,
// cost a quarter of the run. Larger inputs keep Go's defaults, so memory
// stays proportional to the stream. restore puts back the settings before.
func ForInput(inputBytes int) (restore func()) {
	if inputBytes > OffMaxInput {
		return func() {}
	}
	percent := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(OffMemoryLimit)
	return func() {
		debug.SetMemoryLimit(limit)
		debug.SetGCPercent(percent)
	}
}
