// Command verify compares IoTDB with what the mappings say the source
// holds, per device and time bucket, lists the points that differ, and
// with --repair rewrites the differing buckets from the source and
// verifies them again.
//
// Exit codes: 0 equal (after the repair, with --repair); 1 differences
// (some remain after the repair); 2 the comparison could not be made (a
// wrong command line or configuration, a connection, a query).
package main

import (
	"context"
	"io"
	"os"

	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/process"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
)

var spec = cli.Spec{
	Name:    "verify",
	Summary: "prove that IoTDB holds what the mappings say the source holds; --repair what it does not",
	Usage:   []string{"[--config FILE] [--tables a,b] [--bucket 1d] [--until TIME] [--exact] [--no-pushdown] [--repair] [--json]"},
	Description: `verify compares figures per device, time bucket and measurement. On the source side MySQL
computes them (GROUP BY the device columns and the bucket, in parallel key ranges): the count of
every measurement, and for numbers the sum (table model: also crc32 sums, true counts,
time × value sums). A table whose time column SQL cannot read as the mapping does (DATETIME in a
zone other than UTC, an unsigned epoch) and every table under --exact or --no-pushdown is read
instead with the backfill engine (same plan, pages and mapping, nothing written), each point
folded into count, first and last time and value, sum, min and max. IoTDB computes the figures
with aggregate queries (tree model: GROUP BY time ALIGN BY DEVICE; table model: date_bin with GROUP BY, plus
sums of times and crc32 fingerprints of the values). Buckets whose figures differ are compared
point by point:
missing in IoTDB, extra in IoTDB (a difference under on_delete: delete only), different value,
different type.

Coarse mode (the default) cannot see, in the tree model, a point moved in time inside its
bucket, nor a text or boolean value changed, unless it is the bucket's first or last point;
--exact reads every point of IoTDB and compares a hash of every (time, value) instead.

--repair deletes the extras of mappings with on_delete: delete, rewrites every differing bucket
from the source through the sink (idempotent), and verifies again. With cdc running, bound the
window with --until so that changes still in flight are not differences.`,
	Examples: []cli.Example{
		{Command: "verify --config config.yaml", What: "compare every mapped table in daily buckets; print a table and exit 0 when equal"},
		{Command: "verify --config config.yaml --until now-10m --json", What: "while cdc runs: compare the points older than ten minutes; JSON for machines"},
		{Command: "verify --config config.yaml --tables sensor_readings --exact --bucket 1h", What: "one table, every (time, value) compared, hourly buckets"},
		{Command: "verify --config config.yaml --repair", What: "rewrite what differs from the source, delete extras where deletes propagate, verify again"},
	},
	ExitCodes: []string{
		"0  equal (with --repair: equal after the repair)",
		"1  differences found (with --repair: some remain)",
		"2  the comparison could not be made: the command line or configuration (nothing was connected), a connection, a query",
	},
	Config: true,
	Logs:   true,
}

func main() {
	process.TuneGC(192 << 20)
	var a wire.VerifyArgs
	c := cli.New(spec)
	fs := c.Flags()
	fs.StringVar(&a.Tables, "tables", "", "comma-separated subset of the mapped tables (default: all)")
	fs.StringVar(&a.Bucket, "bucket", "1d", "bucket `WIDTH`: whole days (1d) or a duration (6h, 15m, 500ms); buckets are aligned to the epoch, UTC")
	fs.StringVar(&a.Until, "until", "", "compare only points before `TIME`: RFC 3339, a UTC date or date-time, now, or now-<duration> (default: every point)")
	fs.BoolVar(&a.Exact, "exact", false, "read every point of IoTDB and compare a hash of every (time, value) per bucket instead of aggregates")
	fs.BoolVar(&a.NoPushdown, "no-pushdown", false, "read the source rows through the mappings instead of asking MySQL for aggregates (slower; adds first/last values and times to the coarse figures)")
	fs.BoolVar(&a.Repair, "repair", false, "rewrite the differing buckets from the source, delete extras where on_delete: delete, then verify again")
	fs.BoolVar(&a.JSON, "json", false, "print the report as JSON on stdout")
	fs.IntVar(&a.Show, "show", 20, "differences listed in the report")
	fs.Int64Var(&a.MaxDrillPoints, "max-drill-points", 5_000_000, "points (source and IoTDB) the point-by-point comparison holds in memory; differing buckets beyond are reported by their figures")
	if code, done := c.Parse(os.Args[1:]); done {
		os.Exit(code)
	}
	a.Config, a.LogLevel, a.LogFormat = c.Config(), c.LogLevel(), c.LogFormat()
	process.Main(0, func(ctx context.Context) int { return run(ctx, a, os.Stdout, os.Stderr) })
}

func run(ctx context.Context, a wire.VerifyArgs, stdout, stderr io.Writer) int {
	return wire.RunVerify(ctx, a, stdout, stderr)
}
