package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// phase is one measured way of moving (or just reading) the table. Each
// runs as a child process started by command; runPhase charges it the
// child's rusage and the servers' CPU deltas, then check says whether the
// right data arrived. A CDC phase (binlog read floor, cmd/cdc) is one more
// entry here plus, for its raw reader, one more worker in child.go.
type phase struct {
	name  string
	about string
	iotdb bool // gets a fresh iotdbtest before it starts
	keep  bool // runs on the iotdbtest the phase before left (verify reads what backfill wrote)
	// command builds the child for a table of n rows.
	command func(ctx context.Context, w *world, n int64) (*exec.Cmd, error)
	// check returns the points the phase delivered (or read) and "" if
	// they are right, else why not. out is the child's stdout.
	check func(ctx context.Context, w *world, n int64, out []byte) (points int64, problem string)
}

// phases run in this order; the ratios in the report refer to them by name.
var phases = []phase{
	{
		name:    "raw-scan",
		about:   "bare Go reader, binary protocol, typed Scan (the floor)",
		command: selfCommand("raw-scan"),
		check:   checkChildReport(""),
	},
	{
		name:    "backfill",
		about:   "./cmd/backfill into iotdbtest",
		iotdb:   true,
		command: backfillCommand,
		check:   checkIoTDB("root.bench.**"),
	},
	{
		name:    "verify",
		about:   "./cmd/verify of what backfill wrote (coarse: aggregates from iotdbtest)",
		keep:    true,
		command: verifyCommand,
		check:   checkVerify,
	},
	{
		name:    "insert-records",
		about:   "same scan, insertRecords in batches of --records-batch (the peers' way)",
		iotdb:   true,
		command: selfCommand("insert-records"),
		check:   checkChildReport("root.peers.**"),
	},
}

func phaseNames() []string {
	var n []string
	for _, p := range phases {
		n = append(n, p.name)
	}
	return n
}

func findPhase(name string) *phase {
	for i := range phases {
		if phases[i].name == name {
			return &phases[i]
		}
	}
	return nil
}

// result is one phase's figures. CPU and wall are seconds; RSS is bytes.
type result struct {
	Phase      string  `json:"phase"`
	Rows       int64   `json:"rows"`
	Points     int64   `json:"points"`
	WallS      float64 `json:"wall_s"`
	ClientCPUS float64 `json:"client_cpu_s"`
	MariaCPUS  float64 `json:"mariadbd_cpu_s"`
	IoTCPUS    float64 `json:"iotdbtest_cpu_s"`
	ClientRSS  int64   `json:"client_peak_rss_bytes"`
	IoTRSS     int64   `json:"iotdbtest_peak_rss_bytes,omitempty"`
	Check      string  `json:"check"` // ok | FAIL: why
	Err        string  `json:"error,omitempty"`
}

func (r *result) rowsPerS() float64   { return div(float64(r.Rows), r.WallS) }
func (r *result) pointsPerS() float64 { return div(float64(r.Points), r.WallS) }

// perM is CPU seconds per million rows.
func (r *result) perM(cpu float64) float64 { return cpu / (float64(r.Rows) / 1e6) }

func (r *result) ok() bool { return r.Err == "" && r.Check == "ok" }

// runPhase runs p once on a table of n rows and measures it. Failures end
// up in the result, never in a panic: the other phases still run.
func runPhase(ctx context.Context, w *world, p phase, n int64) *result {
	res := &result{Phase: p.name, Rows: n}
	fail := func(err error) *result {
		res.Err = err.Error()
		res.Check = "FAIL: " + firstLine(res.Err)
		logf("phase %s: %v", p.name, err)
		return res
	}
	switch {
	case p.keep:
	case p.iotdb:
		if err := w.restartIoTDB(ctx); err != nil {
			return fail(err)
		}
	default:
		w.stopIoTDB()
	}
	cmd, err := p.command(ctx, w, n)
	if err != nil {
		return fail(err)
	}
	srv := w.servers()
	before := make([]time.Duration, len(srv))
	for i, s := range srv {
		before[i], _ = procCPU(s.pid)
	}
	run, runErr := runChild(ctx, cmd, filepath.Join(w.tmp, fmt.Sprintf("%s-%d.log", p.name, n)))
	for i, s := range srv {
		after, err := procCPU(s.pid)
		if err != nil {
			return fail(fmt.Errorf("%s CPU: %w", s.name, err))
		}
		d := (after - before[i]).Seconds()
		switch s.name {
		case "mariadbd":
			res.MariaCPUS = d
		case "iotdbtest":
			res.IoTCPUS = d
			res.IoTRSS = procHWM(s.pid)
		}
	}
	res.WallS = run.wall.Seconds()
	res.ClientCPUS = run.cpu.Seconds()
	res.ClientRSS = run.maxRSS
	if runErr != nil {
		return fail(runErr)
	}
	points, problem := p.check(ctx, w, n, run.stdout)
	res.Points = points
	res.Check = "ok"
	if problem != "" {
		res.Check = "FAIL: " + problem
		logf("phase %s: FAIL: %s", p.name, problem)
	}
	logf("phase %s: %d rows in %.2fs, client CPU %.2fs, peak RSS %.0f MB",
		p.name, n, res.WallS, res.ClientCPUS, float64(res.ClientRSS)/(1<<20))
	return res
}

// selfCommand re-executes this bench binary as the child of a phase.
func selfCommand(name string) func(context.Context, *world, int64) (*exec.Cmd, error) {
	return func(ctx context.Context, w *world, n int64) (*exec.Cmd, error) {
		o := w.opts
		args := []string{
			"--phase", name,
			"--dsn", w.db.BridgeDSN(),
			"--max-id", strconv.FormatInt(n, 10),
			"--readers", strconv.Itoa(o.readers),
			"--page-rows", strconv.Itoa(o.pageRows),
			"--records-batch", strconv.Itoa(o.recordsBatch),
		}
		if w.iot != nil {
			args = append(args, "--iotdb", w.iotAddr, "--prefix", "root.peers")
		}
		return exec.CommandContext(ctx, w.self, args...), nil
	}
}

// checkChildReport checks the rows and points a bench child says it handled
// and, with a pattern, the points iotdbtest holds.
func checkChildReport(pattern string) func(context.Context, *world, int64, []byte) (int64, string) {
	return func(ctx context.Context, w *world, n int64, out []byte) (int64, string) {
		var rep childReport
		if err := json.Unmarshal(bytes.TrimSpace(out), &rep); err != nil {
			return 0, fmt.Sprintf("child report %q: %v", out, err)
		}
		if rep.Rows != n || rep.Points != w.points {
			return rep.Points, fmt.Sprintf("read %d rows, %d points; table has %d, %d", rep.Rows, rep.Points, n, w.points)
		}
		if pattern == "" {
			return rep.Points, ""
		}
		return checkIoTDB(pattern)(ctx, w, n, out)
	}
}

// checkIoTDB counts the points under pattern in iotdbtest: they must equal
// the table's non-NULL cells.
func checkIoTDB(pattern string) func(context.Context, *world, int64, []byte) (int64, string) {
	return func(ctx context.Context, w *world, n int64, _ []byte) (int64, string) {
		got, err := w.countPoints(ctx, pattern)
		if err != nil {
			return w.points, fmt.Sprintf("count %s in iotdbtest: %v", pattern, err)
		}
		if got != w.points {
			return got, fmt.Sprintf("iotdbtest holds %d points under %s, want %d (non-NULL cells)", got, pattern, w.points)
		}
		return got, ""
	}
}

// backfillCommand writes a config for this table and iotdbtest, with a
// fresh state file, and returns the backfill child.
func backfillCommand(ctx context.Context, w *world, n int64) (*exec.Cmd, error) {
	return w.childCommand(ctx, "backfill", fmt.Sprintf("backfill-%d", n), mappingSpec{})
}

// params are the configuration parameters of this world's servers and
// options, with state files in dir.
func (w *world) params(dir string) bfParams {
	o := w.opts
	return bfParams{
		host: w.db.Host, port: w.db.Port,
		user: w.db.BridgeUser, password: w.db.BridgePassword, dbName: w.db.Database,
		iotdb: w.iotAddr, dir: dir,
		readers: o.readers, writers: o.writers, partitions: o.partitions,
		pageRows: o.pageRows, batchRows: o.batchRows,
	}
}

// childCommand builds binary bin, writes a configuration of this world
// (mapping spec, state in a fresh folder name under the bench's temp dir)
// and returns the command running bin on it with args.
func (w *world) childCommand(ctx context.Context, bin, name string, spec mappingSpec, args ...string) (*exec.Cmd, error) {
	path, err := w.build(ctx, bin)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(w.tmp, name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bp := w.params(dir)
	bp.spec = spec
	cfg := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(cfg, []byte(backfillConfig(bp)), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, append([]string{"--config", cfg}, args...)...)
	cmd.Dir = dir
	return cmd, nil
}

// bfParams is what the backfill config depends on.
type bfParams struct {
	host                   string
	port                   int
	user, password, dbName string
	iotdb                  string // host:port
	dir                    string // state and dirty-rows files go here
	readers, writers       int
	partitions, pageRows   int
	batchRows              int
	spec                   mappingSpec // the mapping (devices.go); zero: the backfill suite's
}

// yamlStr quotes s for the config: Go's %q is valid YAML double-quoted
// text, and "$$" keeps a "$" from being read as ${VAR} expansion.
func yamlStr(s string) string {
	return strings.ReplaceAll(strconv.Quote(s), "$", "$$")
}

// backfillConfig is the YAML for cmd/backfill (keys: config/types.go,
// config.example.yaml).
func backfillConfig(p bfParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mysql:\n")
	fmt.Fprintf(&b, "  host: %s\n  port: %d\n", yamlStr(p.host), p.port)
	fmt.Fprintf(&b, "  user: %s\n  password: %s\n", yamlStr(p.user), yamlStr(p.password))
	fmt.Fprintf(&b, "  database: %s\n  tls: disabled\n", yamlStr(p.dbName))
	spec := p.spec.orDefault(tableName, "root.bench")
	fmt.Fprintf(&b, "  tables:\n    - name: %s\n      partition: {column: id, count: %d}\n", spec.srcTable, p.partitions)
	fmt.Fprintf(&b, "iotdb:\n")
	fmt.Fprintf(&b, "  nodes: [%s]\n  user: root\n  password: root\n  create_schema: true\n", yamlStr(p.iotdb))
	fmt.Fprintf(&b, "  batch: {rows: %d}\n", p.batchRows)
	spec.writeMapping(&b)
	fmt.Fprintf(&b, "backfill:\n  readers: %d\n  writers: %d\n  page_rows: %d\n", p.readers, p.writers, p.pageRows)
	fmt.Fprintf(&b, "  state: %s\n", yamlStr(filepath.Join(p.dir, "state.json")))
	fmt.Fprintf(&b, "dirty_rows:\n  file: %s\n", yamlStr(filepath.Join(p.dir, "dirty-rows.jsonl")))
	fmt.Fprintf(&b, "metrics:\n  listen: \"\"\n")
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
