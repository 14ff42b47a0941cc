package bridge

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

// StartProfile writes a CPU profile to $BRIDGE_CPUPROFILE when it is set
// (a hidden switch for performance work); the returned func stops it.
func StartProfile() func() {
	path := os.Getenv("BRIDGE_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "BRIDGE_CPUPROFILE:", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// TuneGC trades memory for CPU unless GOGC or GOMEMLIMIT say otherwise.
// Both binaries allocate at the rate they move rows (driver values or
// decoded row images, points, tablets) while their live heap stays small
// and bounded (the page queue in backfill, one batch in flight in cdc), so
// the default GOGC=100 collects very often. GOGC=400 under a soft memory
// limit cuts the collector's CPU by about 0.1 s per million rows; the limit
// keeps the peak RSS flat however many rows go by.
func TuneGC(limit int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}
