// Command sync copies the rows of the mapped MySQL tables that changed since
// its last run into IoTDB, with SELECT only (no binlog, no replication
// grants; a read replica is enough): each table's cursor (an updated_at, a
// sequence id; mysql.tables[].cursor) is followed from a saved high-water
// mark. It runs once (a Kubernetes CronJob) or on a schedule, and also
// copies fixed time windows or whole tables.
//
//	sync --config FILE                       one incremental run (the first copies each table whole)
//	sync --config FILE --every 5m            a run every 5 minutes, never two at once (or --cron '*/5 * * * *')
//	sync --config FILE --from T1 --to T2     copy the rows whose time lies in [T1, T2); repeatable
//	sync --config FILE --full [--every 24h]  copy every row (each run)
//	sync --config FILE --window 24h --every 1h   each run copies [fire - 24h, fire)
//	sync --config FILE --dry-run             what the next run would read, and index warnings
//	sync --healthcheck URL                   GET URL, exit 0 on 200 (container healthchecks)
//
// SIGTERM/SIGINT finish the writes in flight (sync.shutdown_timeout), save
// the state and exit: 3 for a one-shot run (run again to resume), 0 on a
// schedule.
//
// Exit codes: 0 done (or stopped cleanly on a schedule); 1 the run failed
// (or, on a schedule, a failure no later run can fix: a mapping that does
// not compile, a state of another cursor definition); 2 the configuration
// or the command line is wrong (nothing was connected); 3 interrupted.
package main

import (
	"context"
	"os"

	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/process"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
)

var spec = cli.Spec{
	Name:    "sync",
	Summary: "copy the rows of the mapped MySQL tables that changed since the last run into IoTDB, with SELECT only",
	Usage: []string{
		"[--config FILE]                       one incremental run (the first copies each table whole)",
		"[--config FILE] --every 5m            a run every 5 minutes, never two at once (or --cron EXPR)",
		"[--config FILE] --from T1 --to T2     the rows whose mapped time lies in [T1, T2); repeatable",
		"[--config FILE] --full [--every 24h]  every row, at each run",
		"[--config FILE] --dry-run             what the next run would read, and index warnings",
		"[--config FILE] --status              print the status of the sync running on a schedule",
		"--healthcheck URL                     GET URL, exit 0 on 200 (container healthchecks)",
	},
	Description: `sync needs no binlog and no replication grants: SELECT on the tables is enough, and a read
replica will do. Each table's cursor (mysql.tables[].cursor: an updated_at, a sequence id; a
fallback list is followed column by column) is read from the saved high-water mark minus the
lookback up to the newest value seen when the run started, in keyset pages of (cursor, primary
key). The mark moves only after IoTDB acknowledged every row before it. Deletes are never seen,
updates only when they move the cursor, and a transaction that commits later than lookback
after its cursor value is lost: see the README's table.

On a schedule (--every, --cron, sync.every, sync.cron) runs never overlap, and /metrics,
/healthz, /readyz and /status are served on sync.listen (default metrics.listen). SIGTERM
finishes the writes in flight, saves the state and exits.`,
	Examples: []cli.Example{
		{Command: "sync --config config.yaml", What: "one run (a Kubernetes CronJob)"},
		{Command: "sync --config config.yaml --cron '*/5 * * * *'", What: "keep running, a run every five minutes"},
		{Command: "sync --config config.yaml --from 2024-05-01 --to 2024-05-02", What: "copy one day again (idempotent; slices may run in parallel)"},
		{Command: "sync --config config.yaml --window 24h --every 1h", What: "each run copies the last 24 hours"},
	},
	ExitCodes: []string{
		"0  done (or stopped cleanly on a schedule)",
		"1  the run failed (on a schedule: only a failure no later run can fix)",
		"2  the configuration or the command line is wrong: nothing was connected",
		"3  interrupted: run again to resume",
	},
	Config: true,
	Logs:   true,
	Listen: "sync.listen",
}

func main() {
	var a wire.SyncArgs
	var healthcheck string
	var status bool
	c := cli.New(spec)
	fs := c.Flags()
	fs.StringVar(&a.Tables, "tables", "", "comma-separated subset of the mapped tables (default: all)")
	fs.BoolVar(&a.DryRun, "dry-run", false, "say what the next run would read (ranges, MySQL's plans, index warnings) and show mapped points; write nothing")
	fs.IntVar(&a.Sample, "sample", 5, "with --dry-run: mapped points shown per table")
	fs.BoolVar(&a.Restart, "restart", false, "incremental: forget the tables' marks, so they are copied again and followed from new marks; windows and --full: ignore a saved copy state")
	fs.BoolVar(&a.Once, "once", false, "one run, even when sync.every or sync.cron is configured")
	fs.DurationVar(&a.Every, "every", 0, "keep running: a run every this long, never two at once (overrides sync.every and sync.cron)")
	fs.StringVar(&a.Cron, "cron", "", "keep running: runs at the times of this cron `EXPR`, e.g. '*/5 * * * *' (overrides sync.every and sync.cron)")
	fs.BoolVar(&a.Full, "full", false, "copy every row of the tables (no cursor) at each run")
	fs.StringVar(&a.From, "from", "", "with --to: copy the rows whose mapped time lies in [from, to): RFC 3339 (2024-05-01T00:00:00Z) or a date (UTC)")
	fs.StringVar(&a.To, "to", "", "end of the window (excluded)")
	fs.DurationVar(&a.Window, "window", 0, "each run copies the rows whose mapped time lies in [fire - window, fire), fire being the run's scheduled time")
	fs.StringVar(&healthcheck, "healthcheck", "", "GET this `URL` (e.g. http://127.0.0.1:10667/readyz) and exit 0 on 200, else 1")
	fs.BoolVar(&status, "status", false, "print the status of the sync running on a schedule with this configuration (GET /status on sync.listen: phase, last run, tables) and exit")
	if code, done := c.Parse(os.Args[1:]); done {
		os.Exit(code)
	}
	a.Config, a.LogLevel, a.LogFormat, a.Listen = c.Config(), c.LogLevel(), c.LogFormat(), c.Listen()
	if status {
		os.Exit(wire.Status(wire.SyncEndpoint, a.Config, a.Listen, os.Stdout, os.Stderr))
	}
	if healthcheck != "" {
		os.Exit(wire.Healthcheck(healthcheck, os.Stderr))
	}
	process.Main(128<<20, func(ctx context.Context) int { return wire.RunSync(ctx, a, os.Stdout, os.Stderr) })
}
