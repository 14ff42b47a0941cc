// Package process is the process setup both binaries share: the logger, the
// garbage collector's tuning and the CPU-profile switch.
package process

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/mysql-iotdb-bridge/bridge/config"
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

// NewLogger builds the zerolog logger of cfg. format overrides cfg.Format
// when non-empty. The format auto (the default) writes the console format
// when w is a terminal and JSON lines otherwise; the console format has no
// colour when w is not a terminal or NO_COLOR is set (https://no-color.org).
// Durations are logged in seconds: their keys end in _s.
func NewLogger(cfg config.Log, format string, w io.Writer) zerolog.Logger {
	if format == "" {
		format = cfg.Format
	}
	tty := IsTerminal(w)
	if format == "" || format == "auto" {
		format = "json"
		if tty {
			format = "console"
		}
	}
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	zerolog.DurationFieldUnit = time.Second
	zerolog.DurationFieldInteger = false
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000", NoColor: !tty || os.Getenv("NO_COLOR") != ""}
	}
	lvl, err := zerolog.ParseLevel(cfg.Level)
	if err != nil || cfg.Level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// IsTerminal reports whether w is a terminal (an *os.File on a TTY).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// Main runs a bridge binary's work and exits with its code: run gets a
// context that SIGINT/SIGTERM cancel (a graceful stop), with the GC tuned
// to gcLimit bytes (0 leaves it alone) and the CPU profile of
// BRIDGE_CPUPROFILE written when run returns.
func Main(gcLimit int64, run func(ctx context.Context) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if gcLimit > 0 {
		TuneGC(gcLimit)
	}
	stopProfile := StartProfile()
	code := run(ctx)
	stopProfile()
	stop()
	os.Exit(code)
}
