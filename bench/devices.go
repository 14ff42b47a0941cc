package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
)

// The device-cardinality suite (issue 10): the same table shape with 10^3,
// 10^5 and 10^6 devices, moved by backfill and by cdc catch-up into both
// IoTDB models (tree: one device template for the fleet; table: one table,
// the devices as tag values), plus a wide case (200 measurements, 10^3
// devices). Each figure is compared with the 10^3-device row of the same
// model and engine in the same run.

// devOpts are the suite's flags.
type devOpts struct {
	deviceCounts     []int
	deviceModels     []string
	devRows          int64
	devicesCDC       bool
	devRepeat        int
	wideMeasurements int
	wideRows         int64
}

// register adds the flags; the returned func checks them after Parse.
func (d *devOpts) register(fs *flag.FlagSet) func() error {
	counts := fs.String("device-counts", "1000,100000,1000000", "devices suite: device counts, comma-separated (ratios refer to 1000)")
	models := fs.String("device-models", "tree,table", "devices suite: IoTDB models (tree with a device template)")
	fs.Int64Var(&d.devRows, "dev-rows", 2_000_000, "devices suite: rows per device count (at least 2 × devices)")
	fs.BoolVar(&d.devicesCDC, "dev-cdc", true, "devices suite: also cdc catch-up at each device count")
	fs.IntVar(&d.devRepeat, "dev-repeat", 1, "devices suite: runs of every case, the models taking turns; the table shows the run with the least bridge CPU (all runs in the JSON)")
	fs.IntVar(&d.wideMeasurements, "wide-measurements", 200, "devices suite: measurements of the wide case (1000 devices); 0 skips it")
	fs.Int64Var(&d.wideRows, "wide-rows", 200_000, "devices suite: rows of the wide case")
	return func() error {
		d.deviceCounts, d.deviceModels = nil, nil
		for _, f := range strings.Split(*counts, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("--device-counts: bad count %q", f)
			}
			d.deviceCounts = append(d.deviceCounts, n)
		}
		for _, m := range strings.Split(*models, ",") {
			m = strings.TrimSpace(m)
			if m != "tree" && m != "table" {
				return fmt.Errorf("--device-models: %q is not tree or table", m)
			}
			d.deviceModels = append(d.deviceModels, m)
		}
		if d.devRows < 1 || d.wideRows < 1 || d.wideMeasurements < 0 || d.devRepeat < 1 {
			return errors.New("--dev-rows, --dev-repeat and --wide-rows must be positive, --wide-measurements not negative")
		}
		return nil
	}
}

// maxRows is the suite's share of the buffer pool, in rows of the
// backfill table's size: its table and the cdc table at the largest count,
// and the wide table (some 10 times wider).
func (d *devOpts) maxRows() int64 {
	top := d.devRows
	for _, n := range d.deviceCounts {
		top = max(top, 2*int64(n))
	}
	return 2*top + int64(d.wideMeasurements/20)*d.wideRows
}

func (d *devOpts) params() map[string]any {
	return map[string]any{"device_counts": d.deviceCounts, "models": d.deviceModels, "dev_rows": d.devRows,
		"cdc": d.devicesCDC, "repeat": d.devRepeat, "wide_measurements": d.wideMeasurements, "wide_rows": d.wideRows}
}

// mappingSpec is the IoTDB side of a generated mapping.
type mappingSpec struct {
	srcTable string   // MySQL table
	cols     []string // measurement columns; nil: measurementColumns
	model    string   // tree (default) | table
	prefix   string   // tree: device prefix, e.g. root.bench
	template string   // tree: device_template ("" none)
	db       string   // table model: database
	table    string   // table model: target table
}

func (m mappingSpec) orDefault(src, prefix string) mappingSpec {
	if m.srcTable == "" {
		m.srcTable = src
	}
	if m.prefix == "" {
		m.prefix = prefix
	}
	if m.cols == nil {
		m.cols = measurementColumns
	}
	if m.model == "" {
		m.model = "tree"
	}
	return m
}

// where names the data for messages.
func (m mappingSpec) where() string {
	if m.model == "table" {
		return "table " + m.db + "." + m.table
	}
	return m.prefix + ".**"
}

// writeMapping writes the model keys and iotdb.mappings (keys:
// config/types.go, config.example.yaml).
func (m mappingSpec) writeMapping(b *strings.Builder) {
	if m.model == "table" {
		fmt.Fprintf(b, "  model: table\n  database: %s\n", m.db)
	}
	fmt.Fprintf(b, "  mappings:\n    - table: %s\n", m.srcTable)
	if m.model == "table" {
		fmt.Fprintf(b, "      device: %s\n      tags: [site, device_id]\n", m.table)
	} else {
		// Not env-expanded: ${...} in a device path names a column.
		fmt.Fprintf(b, "      device: \"%s.${site}.${device_id}\"\n      aligned: true\n", m.prefix)
		if m.template != "" {
			fmt.Fprintf(b, "      device_template: %s\n", m.template)
		}
	}
	fmt.Fprintf(b, "      time: {column: created_at}\n      measurements:\n")
	for _, c := range m.cols {
		fmt.Fprintf(b, "        - {column: %s}\n", c)
	}
}

// countSpec counts the points the mapping wrote: tree, the points under the
// prefix; table model, the non-NULL field cells (count(column) per column).
func (w *world) countSpec(ctx context.Context, m mappingSpec) (int64, error) {
	if m.model != "table" {
		return w.countPoints(ctx, m.prefix+".**")
	}
	host, port, _ := net.SplitHostPort(w.iotAddr)
	sess, err := client.NewTableSession(&client.Config{Host: host, Port: port, UserName: "root", Password: "root", Database: m.db}, false, 10000)
	if err != nil {
		return 0, err
	}
	defer sess.Close()
	var sel []string
	for _, c := range m.cols {
		sel = append(sel, "count("+c+")")
	}
	timeout := int64(120000)
	ds, err := sess.ExecuteQueryStatement("SELECT "+strings.Join(sel, ", ")+" FROM "+m.table, &timeout)
	if err != nil {
		return 0, err
	}
	defer ds.Close()
	return sumCounts(ds)
}

// devResult is one case of the suite.
type devResult struct {
	result
	Devices      int     `json:"devices"`
	Model        string  `json:"model"`
	Engine       string  `json:"engine"` // backfill | cdc
	Measurements int     `json:"measurements"`
	Ratio        float64 `json:"cpu_per_row_vs_1k,omitempty"` // bridge CPU per row ÷ the 10^3-device case of the same model and engine
	// Runs are every run of the case with --dev-repeat > 1; result is
	// the one that cost the bridge the least CPU (a failed run, if any).
	Runs []result `json:"runs,omitempty"`
}

// keep records run r of d: the first run, a failed run (which then stays),
// or one that cost the bridge less CPU than the run kept so far.
func (d *devResult) keep(r *result, repeat int) {
	if repeat > 1 {
		d.Runs = append(d.Runs, *r)
	}
	switch {
	case d.result.Phase == "":
		d.result = *r
	case !d.result.ok():
	case !r.ok() || r.ClientCPUS < d.result.ClientCPUS:
		d.result = *r
	}
}

// wide case shape
const (
	wideTable = "wide_readings"
)

func wideColumns(n int) []string {
	cols := make([]string, n)
	for i := range cols {
		cols[i] = fmt.Sprintf("m%03d", i)
	}
	return cols
}

// runDevicesSuite runs every case and returns them in order.
func runDevicesSuite(ctx context.Context, w *world) []*devResult {
	o := w.opts
	var out []*devResult
	fail := func(d *devResult, err error) {
		d.Err, d.Check = err.Error(), "FAIL: "+firstLine(err.Error())
		logf("devices %d %s %s: %v", d.Devices, d.Model, d.Engine, err)
		out = append(out, d)
	}
	savedGen, savedDevices := w.gen, o.devices
	defer func() { w.gen, o.devices = savedGen, savedDevices }()
	for _, n := range o.deviceCounts {
		if ctx.Err() != nil {
			return out
		}
		rows := max(o.devRows, 2*int64(n))
		o.devices = n
		w.gen = newGenerator(o.seed, n, o.nulls)
		err := w.db.Exec(ctx, "TRUNCATE TABLE "+tableName) // reload with the new devices
		if err == nil {
			w.rows = 0
			err = w.ensureRows(ctx, rows)
		}
		if err != nil {
			fail(&devResult{Devices: n, Engine: "backfill", result: result{Phase: "load", Rows: rows}}, err)
			continue
		}
		var cases []*devResult
		for _, model := range o.deviceModels {
			cases = append(cases, &devResult{Devices: n, Model: model, Engine: "backfill", Measurements: len(measurementColumns)})
		}
		for r := range o.devRepeat { // the models take turns
			for _, d := range cases {
				spec := specFor(d.Model, tableName, "root.bench", "bench", nil)
				logf("devices %d %s backfill: %d rows (run %d of %d)", n, d.Model, rows, r+1, o.devRepeat)
				d.keep(w.runBackfillSpec(ctx, fmt.Sprintf("dev-%d-%s-backfill", n, d.Model), rows, spec), o.devRepeat)
			}
		}
		out = append(out, cases...)
		if !o.devicesCDC {
			continue
		}
		if err := w.ensureCDCTable(ctx); err != nil {
			fail(&devResult{Devices: n, Engine: "cdc"}, err)
			continue
		}
		logf("devices %d cdc: inserting %d rows in %d-row transactions", n, rows, o.cdcChunk)
		rng, err := w.insertCDCRows(ctx, rows, o.cdcChunk)
		if err != nil {
			fail(&devResult{Devices: n, Engine: "cdc"}, err)
			continue
		}
		cases = cases[:0:0]
		for _, model := range o.deviceModels {
			cases = append(cases, &devResult{Devices: n, Model: model, Engine: "cdc", Measurements: len(measurementColumns)})
		}
		for r := range o.devRepeat {
			for _, d := range cases {
				spec := specFor(d.Model, cdcTable, cdcPrefix, "cdc", nil)
				logf("devices %d %s cdc catch-up (run %d of %d)", n, d.Model, r+1, o.devRepeat)
				d.keep(&w.runCDCRangeAs(ctx, fmt.Sprintf("dev-%d-%s-cdc", n, d.Model), rng, spec).result, o.devRepeat)
			}
		}
		out = append(out, cases...)
	}
	if o.wideMeasurements > 0 && ctx.Err() == nil {
		out = append(out, w.runWide(ctx)...)
	}
	// ratios to the 10^3-device row of the same model and engine
	for _, d := range out {
		for _, base := range out {
			if base.Devices == 1000 && base.Model == d.Model && base.Engine == d.Engine && base.Measurements == d.Measurements && base.ok() && d.ok() {
				d.Ratio = div(d.perM(d.ClientCPUS), base.perM(base.ClientCPUS))
			}
		}
	}
	return out
}

// specFor is the suite's mapping in one model.
func specFor(model, src, prefix, db string, cols []string) mappingSpec {
	m := mappingSpec{srcTable: src, cols: cols, model: model, prefix: prefix}
	if model == "table" {
		m.db, m.table = db, "readings"
	} else {
		m.template = "fleet"
	}
	return m.orDefault(src, prefix)
}

// runBackfillSpec runs cmd/backfill with spec's mapping over the table's n
// rows into a fresh iotdbtest, and checks the count.
func (w *world) runBackfillSpec(ctx context.Context, name string, n int64, spec mappingSpec) *result {
	p := phase{
		name:  name,
		iotdb: true,
		command: func(ctx context.Context, w *world, n int64) (*exec.Cmd, error) {
			return w.backfillCommandSpec(ctx, name, spec)
		},
		check: func(ctx context.Context, w *world, n int64, _ []byte) (int64, string) {
			got, err := w.countSpec(ctx, spec)
			if err != nil {
				return w.points, fmt.Sprintf("count %s in iotdbtest: %v", spec.where(), err)
			}
			if got != w.points {
				return got, fmt.Sprintf("iotdbtest holds %d points in %s, want %d (non-NULL cells)", got, spec.where(), w.points)
			}
			return got, ""
		},
	}
	return runPhase(ctx, w, p, n)
}

func (w *world) backfillCommandSpec(ctx context.Context, name string, spec mappingSpec) (*exec.Cmd, error) {
	cmd, err := w.childCommand(ctx, "backfill", name, spec)
	if err != nil {
		return nil, err
	}
	cmd.Env = profileEnv(name)
	return cmd, nil
}

// profileEnv gives a child its own CPU profile file when BENCH_PROFILE_DIR
// is set: BRIDGE_CPUPROFILE=<dir>/<name>.pprof (nil: the bench's own
// environment unchanged).
func profileEnv(name string) []string {
	dir := os.Getenv("BENCH_PROFILE_DIR")
	if dir == "" {
		return nil
	}
	return append(os.Environ(), "BRIDGE_CPUPROFILE="+filepath.Join(dir, name+".pprof"))
}

// runWide is the wide case: --wide-measurements DOUBLE columns, 10^3
// devices, --wide-rows rows, backfill into each model.
func (w *world) runWide(ctx context.Context) []*devResult {
	o := w.opts
	cols := wideColumns(o.wideMeasurements)
	var out []*devResult
	var ddl strings.Builder
	fmt.Fprintf(&ddl, "CREATE TABLE %s (\n  id BIGINT PRIMARY KEY,\n  device_id VARCHAR(32) NOT NULL,\n  site VARCHAR(16) NOT NULL,\n  created_at DATETIME(3) NOT NULL", wideTable)
	for _, c := range cols {
		fmt.Fprintf(&ddl, ",\n  %s DOUBLE NULL", c)
	}
	ddl.WriteString("\n) ENGINE=InnoDB")
	d0 := &devResult{Devices: 1000, Engine: "backfill", Measurements: len(cols), result: result{Phase: "wide-load", Rows: o.wideRows}}
	for _, q := range []string{"DROP TABLE IF EXISTS " + wideTable, ddl.String()} {
		if err := w.db.Exec(ctx, q); err != nil {
			d0.Err, d0.Check = err.Error(), "FAIL: "+firstLine(err.Error())
			return []*devResult{d0}
		}
	}
	logf("wide: loading %d rows of %d measurements, 1000 devices", o.wideRows, len(cols))
	gen := newGenerator(o.seed, 1000, o.nulls)
	pr, pw := io.Pipe()
	var points int64
	go func() {
		var err error
		points, err = writeWideCSV(pw, gen, len(cols), o.wideRows)
		pw.CloseWithError(err)
	}()
	loaded, err := w.db.LoadCSV(ctx, wideTable, append([]string{"id", "device_id", "site", "created_at"}, cols...), pr)
	pr.CloseWithError(errors.New("load ended"))
	if err == nil && loaded != o.wideRows {
		err = fmt.Errorf("loaded %d rows, want %d", loaded, o.wideRows)
	}
	if err != nil {
		d0.Err, d0.Check = err.Error(), "FAIL: "+firstLine(err.Error())
		return []*devResult{d0}
	}
	savedPoints := w.points
	w.points = points
	defer func() { w.points = savedPoints }()
	for _, model := range o.deviceModels {
		spec := specFor(model, wideTable, "root.wide", "wide", cols)
		d := &devResult{Devices: 1000, Model: model, Engine: "backfill", Measurements: len(cols)}
		logf("wide %s backfill", model)
		d.result = *w.runBackfillSpec(ctx, "wide-"+model+"-backfill", o.wideRows, spec)
		out = append(out, d)
	}
	return out
}

// writeWideCSV writes rows of m DOUBLE measurements (the generator's device,
// site and time; the values from the same hash) and returns the non-NULL
// cells.
func writeWideCSV(w io.Writer, g *generator, m int, rows int64) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var r row
	var points int64
	buf := make([]byte, 0, 64+m*12)
	for i := int64(0); i < rows; i++ {
		g.at(i, &r)
		buf = buf[:0]
		buf = strconv.AppendInt(buf, r.id, 10)
		buf = append(buf, ',')
		buf = append(buf, g.devID[r.device]...)
		buf = append(buf, ',')
		buf = append(buf, g.site[r.device]...)
		buf = append(buf, ',')
		buf = time.UnixMilli(r.createdMs).UTC().AppendFormat(buf, "2006-01-02 15:04:05.000")
		h := splitmix64(g.seed ^ uint64(i)*0x9e3779b97f4a7c15)
		for c := 0; c < m; c++ {
			h = splitmix64(h + uint64(c))
			buf = append(buf, ',')
			if h&0xffffffff < g.nulls {
				buf = append(buf, '\\', 'N')
				continue
			}
			points++
			buf = strconv.AppendFloat(buf, float64(int64(float64(h>>40)/float64(1<<24)*100000))/1000, 'f', -1, 64)
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return points, err
		}
	}
	return points, bw.Flush()
}

// Targets of issue 10.
const (
	targetDevCPURatio = 1.3       // bridge CPU per row at 10^6 devices ÷ at 10^3, at most
	targetDevRSS      = 300 << 20 // bridge peak RSS at 10^6 devices, below
)

func (r *report) devicesTargets() []target {
	var out []target
	top := 0
	for _, d := range r.devices {
		top = max(top, d.Devices)
	}
	for _, d := range r.devices {
		if d.Devices != top || top <= 1000 || d.Measurements != len(measurementColumns) || !d.ok() {
			continue
		}
		name := fmt.Sprintf("%s %s, %s devices", d.Engine, d.Model, human(int64(d.Devices)))
		out = append(out,
			target{fmt.Sprintf("%s: bridge CPU per row ≤ %.1f× the 1k figure", name, targetDevCPURatio), fmt.Sprintf("%.2f×", d.Ratio), passMiss(d.Ratio > 0 && d.Ratio <= targetDevCPURatio)},
			target{fmt.Sprintf("%s: bridge peak RSS < %d MB", name, targetDevRSS>>20), fmt.Sprintf("%.0f MB", mb(d.ClientRSS)), passMiss(d.ClientRSS < targetDevRSS)},
		)
	}
	return out
}

const devRowFmt = "%9s %-6s %-9s %5s %9s %9s %11s %12s %14s %11s %10s  %s\n"

func (r *report) writeDevicesText(w io.Writer) {
	o := r.opts
	fmt.Fprintf(w, "\ndevice-cardinality benchmark: rows max(--dev-rows %d, 2 × devices); %.3g NULLs; tree model with device_template, table model with tags [site, device_id]; readers %d, writers %d, batch %d; cdc catch-up in %d-row transactions\n",
		o.devRows, o.nulls, o.readers, o.writers, o.batchRows, o.cdcChunk)
	fmt.Fprintf(w, "machine: %s cores (%s), %s, MariaDB %s; all processes share these cores\n\n",
		r.env["cores"], r.env["cpu"], r.env["go"], r.env["mariadb"])
	fmt.Fprintf(w, devRowFmt, "devices", "model", "engine", "meas", "rows", "wall s", "rows/s", "bridge CPU", "iotdbtest CPU", "bridge RSS", "CPU/row", "check")
	fmt.Fprintf(w, devRowFmt, "", "", "", "", "", "", "", "s/M rows", "s/M rows", "peak MB", "vs 1k", "")
	for _, d := range r.devices {
		ratio := "-"
		if d.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f×", d.Ratio)
		}
		if d.WallS == 0 {
			fmt.Fprintf(w, devRowFmt, human(int64(d.Devices)), d.Model, d.Engine, fmt.Sprint(d.Measurements), fmt.Sprint(d.Rows), "-", "-", "-", "-", "-", "-", d.Check)
			continue
		}
		fmt.Fprintf(w, devRowFmt, human(int64(d.Devices)), d.Model, d.Engine, fmt.Sprint(d.Measurements), human(d.Rows),
			fmt.Sprintf("%.2f", d.WallS), fmt.Sprintf("%.0f", d.rowsPerS()),
			fmt.Sprintf("%.3f", d.perM(d.ClientCPUS)), fmt.Sprintf("%.3f", d.perM(d.IoTCPUS)),
			fmt.Sprintf("%.0f", mb(d.ClientRSS)), ratio, d.Check)
	}
	fmt.Fprintf(w, "\n  bridge: the backfill or cdc child's rusage; iotdbtest: /proc CPU of the fresh iotdbtest process during the case\n")
	fmt.Fprintf(w, "  (its peak RSS is in the JSON). cdc rows/s: start until IoTDB acknowledged the last row. CPU/row vs 1k: the bridge's CPU\n")
	fmt.Fprintf(w, "  per row over the 1k-device row of the same model and engine (and measurements) in this run.\n")
	if o.devRepeat > 1 {
		fmt.Fprintf(w, "  --dev-repeat %d: every case ran %d times (the models taking turns); each row is its run with the least bridge CPU\n", o.devRepeat, o.devRepeat)
		fmt.Fprintf(w, "  (a failed run if any), the wide case ran once.\n")
	}
	if ts := r.devicesTargets(); len(ts) > 0 {
		fmt.Fprintf(w, "\ntargets (a MISS is reported, not fatal):\n")
		for _, t := range ts {
			fmt.Fprintf(w, "  %-4s  %-70s %s\n", t.Status, t.Name, t.Value)
		}
	}
	fmt.Fprintln(w)
}
