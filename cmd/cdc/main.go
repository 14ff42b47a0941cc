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
	"io"
	"os"

	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
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
	status      bool
	logLevel    string
	logFormat   string
	listen      string
}

var spec = cli.Spec{
	Name:    "cdc",
	Summary: "stream every committed change of the mapped MySQL tables into IoTDB, for ever",
	Usage: []string{
		"[--config FILE]                 run until SIGTERM: flush, checkpoint, exit 0",
		"[--config FILE] --check         preflight: a PASS/FAIL table, exit 0 or 1",
		"[--config FILE] --reset         remove the checkpoint and the snapshot state: start over",
		"[--config FILE] --status        print the running cdc's status (phase, position, lag, tables)",
		"--healthcheck URL               GET URL, exit 0 on 200 (container healthchecks)",
	},
	Description: `cdc connects to MySQL as a replica (mysql.server_id) and reads the row binlog
(binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL). Each committed change of a
mapped table is written to IoTDB; the checkpoint (the last transaction IoTDB acknowledged in
full) is saved atomically, so a restart replays at most what came after it, which is harmless
because IoTDB overwrites a point written twice.

Without a checkpoint, cdc.start decides where to begin: initial (snapshot the tables, then
stream), backfill (stream from where a finished backfill started), latest, earliest, a file and
position, a GTID set or a time. /metrics, /healthz, /readyz and /status are served on
metrics.listen (default 127.0.0.1:10667).`,
	Examples: []cli.Example{
		{Command: "cdc --config config.yaml --check", What: "check the binlog settings, the grants, the server id, the mappings and IoTDB; print a PASS/FAIL table"},
		{Command: "cdc --config config.yaml", What: "stream until SIGTERM"},
		{Command: "cdc --healthcheck http://127.0.0.1:10667/readyz", What: "exit 0 while cdc streams with IoTDB acknowledging (a Docker HEALTHCHECK; the image has no curl)"},
	},
	ExitCodes: []string{
		"0  stopped cleanly (SIGTERM), --check passed, or healthy",
		"1  a fatal error (one line on stderr) or --check failed",
		"2  the configuration or the command line is wrong: nothing was connected",
	},
	Config: true,
	Logs:   true,
	Listen: "metrics.listen",
}

func main() {
	var f flags
	c := cli.New(spec)
	fs := c.Flags()
	fs.BoolVar(&f.check, "check", false, "check the configuration, the source (binlog settings, privileges, server_id, checkpoint), the mappings and IoTDB; print a PASS/FAIL table and exit 0 or 1")
	fs.BoolVar(&f.reset, "reset", false, "remove every piece of cdc state (the checkpoint, the snapshot state) so that the next start begins from cdc.start; connects to nothing")
	fs.BoolVar(&f.status, "status", false, "print the status of the cdc running with this configuration (GET /status on metrics.listen: phase, snapshot progress, checkpoint, lag, rows per table and outcome, last error) and exit")
	fs.StringVar(&f.healthcheck, "healthcheck", "", "GET this `URL` (e.g. http://127.0.0.1:10667/healthz) and exit 0 on 200, else 1")
	if code, done := c.Parse(os.Args[1:]); done {
		os.Exit(code)
	}
	f.config, f.logLevel, f.logFormat, f.listen = c.Config(), c.LogLevel(), c.LogFormat(), c.Listen()
	if f.healthcheck != "" {
		os.Exit(healthcheck(f.healthcheck, os.Stderr))
	}
	if f.status {
		os.Exit(wire.Status(wire.CDCEndpoint, f.config, f.listen, os.Stdout, os.Stderr))
	}
	process.Main(128<<20, func(ctx context.Context) int { return run(ctx, f, os.Stdout, os.Stderr) })
}

func run(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	return wire.RunCDC(ctx, wire.CDCArgs{Config: f.config, Check: f.check, Reset: f.reset, LogLevel: f.logLevel, LogFormat: f.logFormat, Listen: f.listen}, stdout, stderr)
}

func healthcheck(url string, stderr io.Writer) int { return wire.Healthcheck(url, stderr) }
