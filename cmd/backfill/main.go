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
	"io"
	"os"

	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
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
	logLevel  string
	logFormat string
	sample    int
	listen    string
	status    bool
}

var spec = cli.Spec{
	Name:    "backfill",
	Summary: "copy the history of the mapped MySQL tables into IoTDB, once",
	Usage: []string{
		"[--config FILE] [--tables a,b] [--dry-run] [--restart] [--shard i/n] [--metrics-listen ADDR]",
		"[--config FILE] --status      print the running backfill's progress (on backfill.listen)",
	},
	Description: `Each table is split into key ranges that parallel readers page through with
prepared keyset queries; writers send the rows to IoTDB as tablets. The progress is saved
in backfill.state, so a run that stops (Ctrl-C, a crash, an IoTDB outage) continues where it
stopped when started again. At the end a summary line per table is printed, with the binlog
position read before the copy: cdc with start: backfill streams from there.

--dry-run reads the plan and a sample of mapped points and opens an IoTDB session that writes
nothing, to say whether the run could write.

With backfill.listen (or --metrics-listen) set, /metrics, /healthz, /readyz and /status are
served while the copy runs: rows, points and dirty rows per table, partitions done of this
run's, and the estimated rows.`,
	Examples: []cli.Example{
		{Command: "backfill --config config.yaml --dry-run", What: "the plan, the first mapped points of each table, and whether IoTDB would take the writes; writes nothing"},
		{Command: "backfill --config config.yaml", What: "copy every mapped table; run again to resume after an interruption"},
		{Command: "BRIDGE_CONFIG=/etc/bridge/config.yaml backfill --tables sensor_readings", What: "copy one table, the configuration named by the environment"},
		{Command: "backfill --config config.yaml --shard 0/4", What: "the first of four processes that split the partitions between them (a Kubernetes Indexed Job)"},
		{Command: "backfill --config config.yaml --metrics-listen :10668", What: "serve the run's metrics and /status on every interface, port 10668, while it copies"},
	},
	ExitCodes: []string{
		"0  every row was written or skipped by the dirty-row policy (dry run: IoTDB would take the writes)",
		"1  the run failed (the message says where); run again to resume",
		"2  the configuration or the command line is wrong: nothing was connected",
		"3  interrupted (SIGINT, SIGTERM) after saving the state: run again to resume",
	},
	Config: true,
	Logs:   true,
	Listen: "backfill.listen",
}

func main() {
	var f flags
	c := cli.New(spec)
	fs := c.Flags()
	fs.StringVar(&f.tables, "tables", "", "copy only these `TABLES` (comma-separated; default: every mapped table)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and the first mapped points of each table and check that IoTDB would take the writes; write nothing")
	fs.BoolVar(&f.restart, "restart", false, "ignore the saved state and copy everything again")
	fs.StringVar(&f.shard, "shard", "", "`i/n`: copy only partitions p with p % n == i (run n processes, i = 0..n-1)")
	fs.IntVar(&f.sample, "sample", 5, "with --dry-run: mapped points shown per table")
	fs.BoolVar(&f.status, "status", false, "print the progress of the backfill running with this configuration (GET /status on backfill.listen: phase, rows, estimate, partitions, rows per table) and exit")
	if code, done := c.Parse(os.Args[1:]); done {
		os.Exit(code)
	}
	f.config, f.logLevel, f.logFormat, f.listen = c.Config(), c.LogLevel(), c.LogFormat(), c.Listen()
	if f.status {
		os.Exit(wire.Status(wire.BackfillEndpoint, f.config, f.listen, os.Stdout, os.Stderr))
	}
	process.Main(192<<20, func(ctx context.Context) int { return run(ctx, f, os.Stdout, os.Stderr) })
}

func run(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	return wire.RunBackfill(ctx, wire.BackfillArgs{Config: f.config, Tables: f.tables, DryRun: f.dryRun, Restart: f.restart,
		Shard: f.shard, LogLevel: f.logLevel, LogFormat: f.logFormat, Sample: f.sample, Listen: f.listen}, stdout, stderr)
}
