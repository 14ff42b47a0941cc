// Command cdc tails the source's row binlog and applies every committed
// change of the mapped tables to IoTDB, forever, resuming from its
// checkpoint after a restart.
//
//	cdc --config FILE [--log-format json|console]
//	cdc --config FILE --check          preflight, mappings and IoTDB: a PASS/FAIL table
//	cdc --config FILE --reset          remove the checkpoint and the snapshot state: start over
//	cdc --healthcheck URL              GET URL, exit 0 on 200 (docker HEALTHCHECK; no curl in the image)
//
// SIGTERM/SIGINT stop reading, flush, save the checkpoint and exit 0.
//
// Exit codes: 0 stopped cleanly (or --check passed, or healthy); 1 a fatal
// error (one line on stderr: preflight, purged binlog, broken mapping after
// a schema change, dirty-row policy) or --check failed; 2 the configuration
// or the command line is wrong (nothing was connected).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mysql-iotdb-bridge/bridge/internal/process"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
)

const (
	exitOK     = wire.ExitOK
	exitFailed = wire.ExitFailed
	exitUsage  = wire.ExitUsage
)

type flags struct {
	config      string
	check       bool
	reset       bool
	healthcheck string
	logFormat   string
}

func main() {
	var f flags
	fs := flag.NewFlagSet("cdc", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "config.yaml", "configuration file")
	fs.BoolVar(&f.check, "check", false, "check the configuration, the source (binlog settings, privileges, server_id, checkpoint), the mappings and IoTDB; print a PASS/FAIL table and exit 0 or 1")
	fs.BoolVar(&f.reset, "reset", false, "remove every piece of cdc state (the checkpoint, the snapshot state) so that the next start begins from cdc.start; connects to nothing")
	fs.StringVar(&f.healthcheck, "healthcheck", "", "GET this URL (e.g. http://127.0.0.1:9464/healthz) and exit 0 on 200, else 1")
	fs.StringVar(&f.logFormat, "log-format", "", "json | console (default: log.format from the config)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(exitUsage)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "cdc: unexpected arguments %q\n", fs.Args())
		os.Exit(exitUsage)
	}
	if f.healthcheck != "" {
		os.Exit(healthcheck(f.healthcheck, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	process.TuneGC(128 << 20)
	stopProfile := process.StartProfile()
	code := run(ctx, f, os.Stdout, os.Stderr)
	stopProfile()
	os.Exit(code)
}

func run(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	return wire.RunCDC(ctx, wire.CDCArgs{Config: f.config, Check: f.check, Reset: f.reset, LogFormat: f.logFormat}, stdout, stderr)
}

func healthcheck(url string, stderr io.Writer) int { return wire.Healthcheck(url, stderr) }
