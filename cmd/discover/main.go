// Command discover writes a first mapping file for each named MySQL table
// (or each table a pattern matches) into iotdb.mappings_dir: the device,
// the time column and every other column as a measurement with the IoTDB
// type the bridge would pick, with comments and warnings for what needs a
// decision. It then checks that the files load and compile against the
// live tables. The files are the user's to edit.
//
//	discover --config FILE TABLE|PATTERN...
//
// Exit codes: 0 every table was written (or kept); 1 a table could not be
// read or a written mapping does not compile; 2 the configuration or the
// command line is wrong (nothing was connected).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/discover"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
)

var spec = cli.Spec{
	Name:    "discover",
	Summary: "write a first mapping file for each named MySQL table into iotdb.mappings_dir",
	Args:    "TABLE|PATTERN...",
	Description: `For each table it reads the columns and the primary key from information_schema
and a bounded sample of rows (--sample-rows, the first rows the server returns) to count distinct
values. The file it writes names a device template built from the key columns and the columns
whose names say they identify something (site, device_id, ...), the time column, and every other
column as a measurement with the IoTDB type the bridge's converter picks for it (mapping/TYPES.md).
Comments and warnings say what needs a decision: no usable time column, a type that is refused, a
column with few distinct values that may be a tag rather than a reading.

A pattern has * or % in it, each matching any run of characters; _ is an underscore. A table
that already has a mapping is kept as it is, and an existing file is only replaced with --force.
A table without a usable time column gets a draft (TABLE.yaml.draft), which the loader skips
until it is fixed and renamed. The configuration needs mysql: and iotdb: but no mapping yet, and
a table needs no mysql.tables entry.`,
	Examples: []cli.Example{
		{Command: "discover --config config.yaml sensor_readings", What: "write mappings/sensor_readings.yaml (iotdb.mappings_dir: mappings) and check that it compiles"},
		{Command: "discover --config config.yaml 'line_*' --force", What: "every table whose name starts with line_, replacing files written before"},
		{Command: "discover --config config.yaml --stdout sensor_readings", What: "print the mapping instead of writing it"},
	},
	ExitCodes: []string{
		"0  every table was written, or kept",
		"1  a table could not be read, or a written mapping does not load or compile",
		"2  the configuration or the command line is wrong: nothing was connected",
	},
	Config: true,
	Logs:   true,
}

func main() {
	var a wire.DiscoverArgs
	c := cli.New(spec)
	fs := c.Flags()
	fs.StringVar(&a.Out, "out", "", "write into this `FOLDER` (default: iotdb.mappings_dir of the configuration)")
	fs.BoolVar(&a.Force, "force", false, "replace mapping files that exist")
	fs.BoolVar(&a.Stdout, "stdout", false, "print the mappings on stdout (warnings on stderr) instead of writing files")
	fs.IntVar(&a.SampleRows, "sample-rows", discover.DefaultSampleRows, "rows read per table to count distinct values (a bounded sample)")
	if code, done := c.Parse(os.Args[1:]); done {
		os.Exit(code)
	}
	a.Config, a.LogLevel, a.LogFormat, a.Tables = c.Config(), c.LogLevel(), c.LogFormat(), c.Args()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, a, os.Stdout, os.Stderr))
}

func run(ctx context.Context, a wire.DiscoverArgs, stdout, stderr io.Writer) int {
	return wire.RunDiscover(ctx, a, stdout, stderr)
}
