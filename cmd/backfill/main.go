// Command backfill copies the history of the mapped MySQL tables into IoTDB
// once: a bounded, partitioned, parallel scan that resumes where it stopped,
// prints a summary and exits.
//
// Exit codes: 0 every row was written or skipped by the dirty-row policy;
// 1 the run failed (the message says where); 2 the configuration or the
// command line is wrong (nothing was connected); 3 interrupted by SIGINT or
// SIGTERM after saving its state (run again to resume).
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mysql-iotdb-bridge/bridge/internal/process"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
)

const (
	exitOK          = wire.ExitOK
	exitFailed      = wire.ExitFailed
	exitUsage       = wire.ExitUsage
	exitInterrupted = wire.ExitInterrupted
)

type flags struct {
	config    string
	tables    string
	dryRun    bool
	restart   bool
	shard     string
	logFormat string
	sample    int
}

func main() {
	process.TuneGC(192 << 20)
	var f flags
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "config.yaml", "configuration file")
	fs.StringVar(&f.tables, "tables", "", "comma-separated subset of the mapped tables (default: all)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and the first mapped points of each table; write nothing")
	fs.BoolVar(&f.restart, "restart", false, "ignore the saved state and copy everything again")
	fs.StringVar(&f.shard, "shard", "", "i/n: copy only partitions p with p % n == i (run n processes, i = 0..n-1)")
	fs.StringVar(&f.logFormat, "log-format", "", "json | console (default: log.format from the config)")
	fs.IntVar(&f.sample, "sample", 5, "with --dry-run: mapped points shown per table")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile := process.StartProfile()
	code := run(ctx, f, os.Stdout, os.Stderr)
	stopProfile()
	os.Exit(code)
}

func run(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	return wire.RunBackfill(ctx, wire.BackfillArgs{Config: f.config, Tables: f.tables, DryRun: f.dryRun, Restart: f.restart,
		Shard: f.shard, LogFormat: f.logFormat, Sample: f.sample}, stdout, stderr)
}
