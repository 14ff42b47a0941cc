package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// The CDC suite reads its own table (same shape as the backfill's), so the
// backfill table and its counts are never touched. Rows come from the same
// generator, at indexes after every row an earlier CDC phase inserted: ids
// and (device, created_at) stay unique, so every point is a new point.
const (
	cdcTable  = "cdc_readings"
	cdcPrefix = "root.cdc"
)

var cdcTableDDL = strings.Replace(tableDDL, "CREATE TABLE "+tableName, "CREATE TABLE "+cdcTable, 1)

// cdcPhases run in this order (the catch-up pair shares one insert).
var cdcPhases = []struct{ name, about string }{
	{"binlog-raw", "bare go-mysql BinlogSyncer decoding the catch-up range (the floor)"},
	{"cdc-catchup", "./cmd/cdc from the catch-up start position into iotdbtest"},
	{"cdc-bigtx", "./cmd/cdc over one big transaction: peak RSS, checkpoint only at the commit"},
	{"cdc-live", "./cmd/cdc, single-row transactions at --live-rate: commit-to-visible latency"},
}

func cdcPhaseNames() []string {
	var n []string
	for _, p := range cdcPhases {
		n = append(n, p.name)
	}
	return n
}

// cdcResult is one CDC phase's figures. WallS (and so rows/s) runs from the
// child's start until the last row was acknowledged by IoTDB; the child's
// CPU and peak RSS are from its rusage after it exited (so they include the
// short flush-and-checkpoint shutdown, TotalWallS).
type cdcResult struct {
	result
	TotalWallS     float64    `json:"total_wall_s,omitempty"`
	Walls          []float64  `json:"walls_s,omitempty"` // every run's wall with --cdc-repeat`
	From           string     `json:"from,omitempty"`
	To             string     `json:"to,omitempty"`
	Checkpoint     string     `json:"checkpoint,omitempty"`      // saved position after exit
	CheckpointSeen []string   `json:"checkpoint_seen,omitempty"` // distinct positions sampled while running
	Live           *liveStats `json:"live,omitempty"`
}

// liveStats are the live phase's latencies (commit returned to the writer →
// the row's points counted by iotdbtest) over the rows after the warm-up.
type liveStats struct {
	Rows          int     `json:"rows"`
	WarmupRows    int     `json:"warmup_rows"`
	Conns         int     `json:"conns"`
	TargetRate    float64 `json:"target_rate"`
	AchievedRate  float64 `json:"achieved_rate"`
	MaxBehindMS   float64 `json:"writer_max_behind_ms"`
	P50MS         float64 `json:"p50_ms"`
	P90MS         float64 `json:"p90_ms"`
	P99MS         float64 `json:"p99_ms"`
	MaxMS         float64 `json:"max_ms"`
	Clamped       int     `json:"clamped"` // rows attributed a visible time before their commit returned (set to 0)
	PollMeanUS    float64 `json:"poll_mean_us"`
	HarnessCPUS   float64 `json:"harness_cpu_s"` // writer + in-process iotdbtest + observer
	CommitMeanUS  float64 `json:"commit_mean_us"`
	Observations  int     `json:"observations"`
	VisiblePoints int64   `json:"visible_points"`
}

// runCDCSuite runs the wanted CDC phases.
func runCDCSuite(ctx context.Context, w *world, want func(string) bool) []*cdcResult {
	o := w.opts
	var out []*cdcResult
	fail := func(name string, rows int64, err error) {
		r := &cdcResult{result: result{Phase: name, Rows: rows, Err: err.Error(), Check: "FAIL: " + firstLine(err.Error())}}
		logf("phase %s: %v", name, err)
		out = append(out, r)
	}
	if err := w.ensureCDCTable(ctx); err != nil {
		fail("cdc-setup", 0, err)
		return out
	}
	if want("binlog-raw") || want("cdc-catchup") {
		logf("cdc catch-up: inserting %d rows in %d-row transactions", o.cdcRows, o.cdcChunk)
		rng, err := w.insertCDCRows(ctx, o.cdcRows, o.cdcChunk)
		if err != nil {
			fail("cdc-catchup", o.cdcRows, err)
			return out
		}
		// On a shared machine one run of each can be unlucky: with
		// --cdc-repeat the pair runs alternately and the fastest of each is
		// reported (every wall is kept in the JSON).
		var raw, cu *cdcResult
		for i := range o.cdcRepeat {
			if want("binlog-raw") && ctx.Err() == nil {
				logf("phase binlog-raw (%d/%d): %s", i+1, o.cdcRepeat, cdcPhases[0].about)
				raw = faster(raw, w.runBinlogRaw(ctx, rng))
			}
			if want("cdc-catchup") && ctx.Err() == nil {
				logf("phase cdc-catchup (%d/%d): %s", i+1, o.cdcRepeat, cdcPhases[1].about)
				cu = faster(cu, w.runCDCRange(ctx, "cdc-catchup", rng))
			}
		}
		for _, r := range []*cdcResult{raw, cu} {
			if r != nil {
				out = append(out, r)
			}
		}
	}
	if want("cdc-bigtx") && ctx.Err() == nil {
		logf("cdc big transaction: inserting %d rows in one transaction", o.bigTxRows)
		rng, err := w.insertCDCRows(ctx, o.bigTxRows, o.bigTxRows)
		if err != nil {
			fail("cdc-bigtx", o.bigTxRows, err)
			return out
		}
		logf("phase cdc-bigtx: %s", cdcPhases[2].about)
		out = append(out, w.runCDCRange(ctx, "cdc-bigtx", rng))
	}
	if want("cdc-live") && ctx.Err() == nil {
		logf("phase cdc-live: %s", cdcPhases[3].about)
		out = append(out, w.runCDCLive(ctx))
	}
	return out
}

// faster keeps the run with the shorter wall (a failed run only if every
// run failed) and collects every run's wall.
func faster(best, x *cdcResult) *cdcResult {
	if best == nil {
		x.Walls = []float64{x.WallS}
		return x
	}
	walls := append(best.Walls, x.WallS)
	if x.ok() && (!best.ok() || x.WallS < best.WallS) {
		best = x
	}
	best.Walls = walls
	return best
}

func (w *world) ensureCDCTable(ctx context.Context) error {
	for _, q := range []string{"DROP TABLE IF EXISTS " + cdcTable, cdcTableDDL} {
		if err := w.db.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	w.cdcNext = 0
	return nil
}

func (w *world) binlogPos(ctx context.Context) (binlogPos, error) {
	f, p, _, err := w.db.BinlogPosition(ctx)
	return binlogPos{File: f, Pos: p}, err
}

// cdcRange is a stretch of binlog holding rows generator rows, points
// non-NULL measurement cells, inserted by the bench alone.
type cdcRange struct {
	from, to     binlogPos
	rows, points int64
}

// insertCDCRows appends n generated rows to cdc_readings with LOAD DATA of
// chunk rows per statement (autocommit: one transaction per statement) and
// returns the binlog positions around them.
func (w *world) insertCDCRows(ctx context.Context, n, chunk int64) (cdcRange, error) {
	var rng cdcRange
	var err error
	if rng.from, err = w.binlogPos(ctx); err != nil {
		return rng, err
	}
	start := time.Now()
	for lo := w.cdcNext; lo < w.cdcNext+n; lo += chunk {
		hi := min(lo+chunk, w.cdcNext+n)
		pr, pw := io.Pipe()
		var st genStats
		go func() {
			var err error
			st, err = w.gen.writeCSV(pw, lo, hi)
			pw.CloseWithError(err)
		}()
		loaded, err := w.db.LoadCSV(ctx, cdcTable, loadColumns, pr)
		pr.CloseWithError(errors.New("load ended"))
		if err != nil {
			return rng, fmt.Errorf("load %s: %w", cdcTable, err)
		}
		if loaded != hi-lo {
			return rng, fmt.Errorf("load %s: %d rows loaded, want %d", cdcTable, loaded, hi-lo)
		}
		rng.rows += st.rows
		rng.points += st.points
	}
	w.cdcNext += n
	if rng.to, err = w.binlogPos(ctx); err != nil {
		return rng, err
	}
	logf("inserted %d rows (%d points) in %.1fs; binlog %s .. %s", rng.rows, rng.points, time.Since(start).Seconds(), rng.from, rng.to)
	return rng, nil
}

// runBinlogRaw runs the binlog-raw child over rng.
func (w *world) runBinlogRaw(ctx context.Context, rng cdcRange) *cdcResult {
	w.stopIoTDB()
	res := &cdcResult{result: result{Phase: "binlog-raw", Rows: rng.rows}, From: rng.from.String(), To: rng.to.String()}
	cmd := exec.CommandContext(ctx, w.self, "--phase", "binlog-raw", "--dsn", w.db.BridgeDSN(),
		"--binlog-from", rng.from.String(), "--binlog-to", rng.to.String())
	cpu := w.sampleServers()
	run, err := runChild(ctx, cmd, filepath.Join(w.tmp, "binlog-raw.log"))
	cpu.done(&res.result)
	res.WallS, res.ClientCPUS, res.ClientRSS = run.wall.Seconds(), run.cpu.Seconds(), run.maxRSS
	res.TotalWallS = res.WallS
	if err != nil {
		return res.fail(err)
	}
	var rep childReport
	if err := json.Unmarshal(bytes.TrimSpace(run.stdout), &rep); err != nil {
		return res.fail(fmt.Errorf("child report %q: %v", run.stdout, err))
	}
	res.Points = rep.Points
	res.Check = "ok"
	if rep.Rows != rng.rows || rep.Points != rng.points {
		res.Check = fmt.Sprintf("FAIL: decoded %d rows, %d values; inserted %d, %d", rep.Rows, rep.Points, rng.rows, rng.points)
	}
	res.log()
	return res
}

func (r *cdcResult) fail(err error) *cdcResult {
	r.Err = err.Error()
	r.Check = "FAIL: " + firstLine(r.Err)
	logf("phase %s: %v", r.Phase, err)
	return r
}

func (r *cdcResult) log() {
	logf("phase %s: %d rows in %.2fs (%.0f rows/s), client CPU %.2fs, peak RSS %.0f MB, %s",
		r.Phase, r.Rows, r.WallS, r.rowsPerS(), r.ClientCPUS, mb(r.ClientRSS), r.Check)
}

// serverCPU samples the servers' CPU before a phase; done charges the
// deltas to a result.
type serverCPU struct {
	w      *world
	srv    []server
	before []time.Duration
}

func (w *world) sampleServers() *serverCPU {
	s := &serverCPU{w: w, srv: w.servers()}
	for _, x := range s.srv {
		d, _ := procCPU(x.pid)
		s.before = append(s.before, d)
	}
	return s
}

func (s *serverCPU) done(r *result) {
	for i, x := range s.srv {
		after, err := procCPU(x.pid)
		if err != nil {
			continue
		}
		d := (after - s.before[i]).Seconds()
		switch x.name {
		case "mariadbd":
			r.MariaCPUS = d
		case "iotdbtest":
			r.IoTCPUS = d
			r.IoTRSS = procHWM(x.pid)
		}
	}
}

// cdcDir makes a fresh directory for one cdc run and writes its config.
func (w *world) cdcSetup(ctx context.Context, name, start, iotdb string, spec mappingSpec) (cmd *exec.Cmd, ckPath, metricsAddr string, err error) {
	bin, err := w.build(ctx, "cdc")
	if err != nil {
		return nil, "", "", err
	}
	dir := filepath.Join(w.tmp, name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", "", err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", "", err
	}
	metricsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ckPath = filepath.Join(dir, "checkpoint.json")
	cfg := cdcConfig(cdcParams{
		host: w.db.Host, port: w.db.Port, user: w.db.BridgeUser, password: w.db.BridgePassword, dbName: w.db.Database,
		iotdb: iotdb, dir: dir, start: start, metrics: metricsAddr,
		batchRows: w.opts.batchRows, batchInterval: w.opts.cdcBatchInterval, spec: spec,
	})
	path := filepath.Join(dir, "cdc.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, "", "", err
	}
	cmd = exec.Command(bin, "--config", path)
	cmd.Dir = dir
	cmd.Env = profileEnv(name)
	return cmd, ckPath, metricsAddr, nil
}

// cdcParams is what the cdc config depends on.
type cdcParams struct {
	host                   string
	port                   int
	user, password, dbName string
	iotdb                  string // host:port
	dir                    string // checkpoint and dirty-rows files go here
	start                  string // YAML value of cdc.start
	metrics                string // host:port
	batchRows              int
	batchInterval          time.Duration // 0: cdc's default (iotdb.batch.interval, 200ms)
	spec                   mappingSpec   // the mapping (devices.go); zero: the cdc suite's
}

// cdcConfig is the YAML for cmd/cdc: every key not set here keeps its
// default (config.example.yaml), as a user's config would.
func cdcConfig(p cdcParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mysql:\n")
	fmt.Fprintf(&b, "  host: %s\n  port: %d\n", yamlStr(p.host), p.port)
	fmt.Fprintf(&b, "  user: %s\n  password: %s\n", yamlStr(p.user), yamlStr(p.password))
	fmt.Fprintf(&b, "  database: %s\n  tls: disabled\n", yamlStr(p.dbName))
	spec := p.spec.orDefault(cdcTable, cdcPrefix)
	fmt.Fprintf(&b, "  tables:\n    - name: %s\n", spec.srcTable)
	fmt.Fprintf(&b, "iotdb:\n")
	fmt.Fprintf(&b, "  nodes: [%s]\n  user: root\n  password: root\n  create_schema: true\n", yamlStr(p.iotdb))
	if p.batchInterval > 0 {
		fmt.Fprintf(&b, "  batch: {rows: %d, interval: %s}\n", p.batchRows, p.batchInterval)
	} else {
		fmt.Fprintf(&b, "  batch: {rows: %d}\n", p.batchRows)
	}
	spec.writeMapping(&b)
	fmt.Fprintf(&b, "cdc:\n  start: %s\n", p.start)
	fmt.Fprintf(&b, "  checkpoint:\n    path: %s\n", yamlStr(filepath.Join(p.dir, "checkpoint.json")))
	fmt.Fprintf(&b, "dirty_rows:\n  file: %s\n", yamlStr(filepath.Join(p.dir, "dirty-rows.jsonl")))
	fmt.Fprintf(&b, "metrics:\n  listen: %s\n", yamlStr(p.metrics))
	fmt.Fprintf(&b, "log:\n  level: info\n")
	return b.String()
}

// runCDCRange runs cmd/cdc from rng.from into a fresh iotdbtest process
// until every row of rng is acknowledged (mysql_iotdb_bridge_cdc_rows_total), then
// SIGTERMs it. It checks the points in iotdbtest and the saved checkpoint
// (rng.to) and, sampling the checkpoint file while cdc runs, that it never
// named a position strictly inside rng when rng is one transaction (or any
// position that is not a commit of the range, which the check cannot see
// for many transactions: there it only records them).
func (w *world) runCDCRange(ctx context.Context, name string, rng cdcRange) *cdcResult {
	return w.runCDCRangeAs(ctx, name, rng, mappingSpec{})
}

// runCDCRangeAs is runCDCRange with the mapping spec (devices.go).
func (w *world) runCDCRangeAs(ctx context.Context, name string, rng cdcRange, spec mappingSpec) *cdcResult {
	spec = spec.orDefault(cdcTable, cdcPrefix)
	res := &cdcResult{result: result{Phase: name, Rows: rng.rows}, From: rng.from.String(), To: rng.to.String()}
	if err := w.restartIoTDB(ctx); err != nil {
		return res.fail(err)
	}
	start := fmt.Sprintf("{file: %s, pos: %d}", yamlStr(rng.from.File), rng.from.Pos)
	cmd, ckPath, maddr, err := w.cdcSetup(ctx, name, start, w.iotAddr, spec)
	if err != nil {
		return res.fail(err)
	}
	hc := scrapeClient()
	seen := map[binlogPos]bool{}
	var seenOrder []binlogPos
	sample := func() {
		if p, ok, _ := readCheckpoint(ckPath); ok && !seen[p] {
			seen[p] = true
			seenOrder = append(seenOrder, p)
		}
	}
	timeout := 2*time.Minute + time.Duration(rng.rows/2000)*time.Second // >= 2k rows/s or give up
	body := func(ctx context.Context) error {
		start := time.Now()
		deadline := start.Add(timeout)
		for {
			// Every 50ms, and for long runs every 1% of the time so far:
			// the end is known to 1% and the child does not spend a
			// share of its CPU answering the harness (a scrape renders
			// every metric).
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(max(50*time.Millisecond, time.Since(start)/100)):
			}
			sample()
			written, dirty, err := scrapeRows(hc, maddr)
			if err == nil && dirty > 0 {
				return fmt.Errorf("cdc recorded %v dirty rows", dirty)
			}
			if err == nil && written >= float64(rng.rows) {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("not caught up after %v: %v rows written (scrape error: %v)", timeout, written, err)
			}
		}
	}
	cpu := w.sampleServers()
	run, caught, err := runService(ctx, cmd, filepath.Join(w.tmp, name+".log"), body)
	cpu.done(&res.result)
	res.WallS, res.TotalWallS = caught.Seconds(), run.wall.Seconds()
	res.ClientCPUS, res.ClientRSS = run.cpu.Seconds(), run.maxRSS
	if err != nil {
		return res.fail(err)
	}
	sample()
	var problems []string
	final, ok, err := readCheckpoint(ckPath)
	switch {
	case err != nil:
		problems = append(problems, err.Error())
	case !ok:
		problems = append(problems, "no checkpoint saved")
	case final != rng.to:
		problems = append(problems, fmt.Sprintf("checkpoint %s, want %s (the last commit)", final, rng.to))
	}
	res.Checkpoint = final.String()
	for _, p := range seenOrder {
		res.CheckpointSeen = append(res.CheckpointSeen, p.String())
		if rng.from.before(p) && p.before(rng.to) && name == "cdc-bigtx" {
			problems = append(problems, fmt.Sprintf("checkpoint named %s, inside the transaction %s..%s", p, rng.from, rng.to))
		}
	}
	got, err := w.countSpec(ctx, spec)
	res.Points = got
	if err != nil {
		problems = append(problems, fmt.Sprintf("count points: %v", err))
	} else if got != rng.points {
		problems = append(problems, fmt.Sprintf("iotdbtest holds %d points in %s, want %d", got, spec.where(), rng.points))
	}
	res.Check = "ok"
	if len(problems) > 0 {
		res.Check = "FAIL: " + strings.Join(problems, "; ")
	}
	res.log()
	return res
}

// readCheckpoint reads the position of cdc's checkpoint file; ok is false
// while there is none.
func readCheckpoint(path string) (binlogPos, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return binlogPos{}, false, nil
	}
	if err != nil {
		return binlogPos{}, false, err
	}
	var st struct {
		Position binlogPos `json:"position"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return binlogPos{}, false, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return st.Position, true, nil
}

// scrapeClient is the HTTP client of the harness's scrapes: uncompressed,
// so that gzip does not add to the CPU charged to the child (Go's client
// asks for gzip by default, and the metrics handler then compresses every
// answer).
func scrapeClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}
}

// scrapeRows reads mysql_iotdb_bridge_cdc_rows_total from cdc's /metrics: rows
// acknowledged by IoTDB as written, and rows recorded as dirty.
func scrapeRows(hc *http.Client, addr string) (written, dirty float64, err error) {
	resp, err := hc.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	written, dirty = parseRowsMetric(resp.Body)
	return written, dirty, nil
}

func parseRowsMetric(r io.Reader) (written, dirty float64) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "mysql_iotdb_bridge_cdc_rows_total{")
		if !ok {
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(labels, `outcome="insert_written"`):
			written += v
		case strings.Contains(labels, `outcome="dirty"`):
			dirty += v
		}
	}
	return written, dirty
}

// runService starts a long-running child, runs body while it runs, then
// sends SIGTERM and waits for it to exit (SIGKILL after 60s). caught is
// the time from start until body returned. The child must exit 0 after
// SIGTERM; exiting before body is done is an error. CPU and peak RSS are
// the child's rusage, as in runChild.
func runService(ctx context.Context, cmd *exec.Cmd, logPath string, body func(context.Context) error) (run childRun, caught time.Duration, err error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return run, 0, err
	}
	defer lf.Close()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return run, 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopPerf := attachPerf(cmd.Process.Pid, logPath)
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bodyErr := make(chan error, 1)
	go func() { bodyErr <- body(bctx) }()
	var werr, berr error
	select {
	case berr = <-bodyErr:
		caught = time.Since(start)
		stopPerf()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr = <-exited:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			werr = errors.New("did not exit within 60s of SIGTERM")
		}
	case werr = <-exited:
		stopPerf()
		cancel()
		<-bodyErr
		caught = time.Since(start)
		if werr == nil {
			werr = errors.New("exited before the phase was done")
		}
	}
	run.wall = time.Since(start)
	run.stdout = out.Bytes()
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			run.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			run.maxRSS = ru.Maxrss << 10
		}
	}
	if werr != nil {
		return run, caught, fmt.Errorf("%s: %w\n%s", filepath.Base(cmd.Path), werr, tailFile(logPath, 2000))
	}
	if berr != nil {
		return run, caught, fmt.Errorf("%s: %w\n%s", filepath.Base(cmd.Path), berr, tailFile(logPath, 2000))
	}
	return run, caught, nil
}

// attachPerf profiles a running child with `perf record -g` when
// BENCH_PERF is set (cmd/cdc has no CPU-profile switch of its own): the
// profile goes next to the child's log as <log>.perf.data, read it with
// `perf report -i FILE`. Attached by pid, so the child's rusage is its own.
// The returned func stops perf (SIGINT) and waits for it.
func attachPerf(pid int, logPath string) func() {
	if os.Getenv("BENCH_PERF") == "" {
		return func() {}
	}
	out := strings.TrimSuffix(logPath, ".log") + ".perf.data"
	p := exec.Command("perf", "record", "-g", "-F", "499", "-o", out, "-p", strconv.Itoa(pid))
	p.Stdout, p.Stderr = io.Discard, io.Discard
	if err := p.Start(); err != nil {
		logf("BENCH_PERF: %v", err)
		return func() {}
	}
	logf("BENCH_PERF: recording pid %d into %s", pid, out)
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = p.Process.Signal(syscall.SIGINT)
			_ = p.Wait()
		})
	}
}

// ---- live ----

// obsPoint is one change of iotdbtest's written-points counter, seen at t.
type obsPoint struct {
	t time.Time
	n int64
}

// liveRow is one single-row transaction of the live phase.
type liveRow struct {
	due, commit time.Time
	points      int64
}

// runCDCLive measures commit-to-visible latency. cdc (start: latest) writes
// into an iotdbtest server running inside this process, whose written-points
// counter (Stats().PointsWritten, incremented under the store lock when a
// write is applied) an observer goroutine polls every --live-poll. The
// writer commits rows in order at --live-rate; cdc applies them in binlog
// (commit) order, so the visible points are always a prefix of the rows in
// commit order: the k-th row is visible at the first observation whose
// count reaches the cumulative points of rows 1..k. Resolution: the poll
// interval (its measured mean is reported) plus scheduling delay.
func (w *world) runCDCLive(ctx context.Context) *cdcResult {
	o := w.opts
	period := time.Duration(float64(time.Second) / o.liveRate)
	warm := int(o.liveWarmup.Seconds() * o.liveRate)
	measured := int(o.liveSeconds.Seconds() * o.liveRate)
	total := warm + measured
	res := &cdcResult{result: result{Phase: "cdc-live", Rows: int64(total)}}
	w.stopIoTDB()
	srv, err := iotdbtest.NewServer(iotdbtest.Options{})
	if err != nil {
		return res.fail(err)
	}
	defer srv.Close()
	cmd, _, maddr, err := w.cdcSetup(ctx, "cdc-live", "latest", srv.Addr(), mappingSpec{})
	if err != nil {
		return res.fail(err)
	}
	base := w.cdcNext
	w.cdcNext += int64(total)
	rows := make([]liveRow, total)
	var r row
	var wantPoints int64
	for i := range rows {
		w.gen.at(base+int64(i), &r)
		for _, v := range r.valid {
			if v {
				rows[i].points++
			}
		}
		wantPoints += rows[i].points
	}
	var (
		obs      []obsPoint
		polls    int64
		pollSpan time.Duration
		harness0 = selfCPU()
		harness1 time.Duration
	)
	hc := scrapeClient()
	body := func(ctx context.Context) error {
		// Ready: streaming and lag known.
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := hc.Get("http://" + maddr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return errors.New("cdc not ready (/readyz) after 60s")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		base0 := srv.Stats().PointsWritten
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			last := base0
			t0 := time.Now()
			for {
				select {
				case <-stop:
					pollSpan = time.Since(t0)
					return
				default:
				}
				n := srv.Stats().PointsWritten
				polls++
				if n != last {
					obs = append(obs, obsPoint{time.Now(), n - base0})
					last = n
				}
				time.Sleep(o.livePoll)
			}
		})
		logf("cdc-live: ready; writing %d rows (%d warm-up) at %.0f/s on %d connections", total, warm, o.liveRate, o.liveConns)
		werr := w.liveWrite(ctx, rows, base, period)
		// Wait until every point is visible.
		deadline = time.Now().Add(2 * time.Minute)
		for werr == nil && srv.Stats().PointsWritten-base0 < wantPoints {
			if time.Now().After(deadline) {
				werr = fmt.Errorf("after 2 min iotdbtest has %d of %d points", srv.Stats().PointsWritten-base0, wantPoints)
				break
			}
			select {
			case <-ctx.Done():
				werr = ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
		time.Sleep(2 * o.livePoll)
		close(stop)
		wg.Wait()
		harness1 = selfCPU()
		return werr
	}
	cpu := w.sampleServers()
	run, caught, err := runService(ctx, cmd, filepath.Join(w.tmp, "cdc-live.log"), body)
	cpu.done(&res.result)
	res.WallS, res.TotalWallS = caught.Seconds(), run.wall.Seconds()
	res.ClientCPUS, res.ClientRSS = run.cpu.Seconds(), run.maxRSS
	if err != nil {
		return res.fail(err)
	}
	ls := liveSummary(rows, warm, obs)
	ls.Conns, ls.TargetRate = o.liveConns, o.liveRate
	ls.Observations = len(obs)
	if polls > 0 {
		ls.PollMeanUS = float64(pollSpan.Microseconds()) / float64(polls)
	}
	ls.HarnessCPUS = (harness1 - harness0).Seconds()
	if len(obs) > 0 {
		ls.VisiblePoints = obs[len(obs)-1].n
	}
	res.Live = ls
	res.Points = ls.VisiblePoints
	res.Check = "ok"
	if ls.VisiblePoints != wantPoints {
		res.Check = fmt.Sprintf("FAIL: %d points visible, want %d", ls.VisiblePoints, wantPoints)
	}
	// rows/s in the table is the commit rate achieved, not cdc's speed.
	res.WallS = float64(total) / max(ls.AchievedRate, 1e-9)
	logf("phase cdc-live: %d rows at %.0f/s; latency p50 %.2f ms, p90 %.2f, p99 %.2f, max %.2f; cdc CPU %.2fs, RSS %.0f MB",
		total, ls.AchievedRate, ls.P50MS, ls.P90MS, ls.P99MS, ls.MaxMS, res.ClientCPUS, mb(res.ClientRSS))
	return res
}

// liveWrite commits rows as single-row autocommit INSERTs, row i due at
// start + i*period, on --live-conns connections, and records each one's
// commit-return time.
func (w *world) liveWrite(ctx context.Context, rows []liveRow, base int64, period time.Duration) error {
	conns := w.opts.liveConns
	dsn, err := scanDSN(w.db.RootDSN())
	if err != nil {
		return err
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	stmt, err := db.PrepareContext(ctx, "INSERT INTO "+cdcTable+" ("+strings.Join(loadColumns, ", ")+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer stmt.Close()
	// Open every connection now, so the first rows do not pay for
	// connecting (the statement is prepared on each at its first use, in
	// the warm-up).
	var held []*sql.Conn
	for range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Close()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan int, conns)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range conns {
		wg.Go(func() {
			var r row
			args := make([]any, 9)
			for i := range ch {
				w.gen.at(base+int64(i), &r)
				args[0], args[1], args[2] = r.id, w.gen.devID[r.device], w.gen.site[r.device]
				args[3] = time.UnixMilli(r.createdMs).UTC()
				for m := range 5 {
					args[4+m] = nil
					if r.valid[m] {
						if m == 4 {
							args[4+m] = int64(r.vals[m])
						} else {
							args[4+m] = r.vals[m]
						}
					}
				}
				if _, err := stmt.ExecContext(ctx, args...); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("row %d: %w", i, err))
					mu.Unlock()
					cancel()
					return
				}
				rows[i].commit = time.Now()
			}
		})
	}
	start := time.Now().Add(5 * time.Millisecond)
	func() {
		defer close(ch)
		for i := range rows {
			due := start.Add(time.Duration(i) * period)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			rows[i].due = due
			select {
			case ch <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return ctx.Err()
}

// liveSummary attributes observations to rows (see runCDCLive) and returns
// the latency distribution of the rows after the first warm ones.
func liveSummary(rows []liveRow, warm int, obs []obsPoint) *liveStats {
	ls := &liveStats{WarmupRows: warm, Rows: len(rows) - warm}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	// Commit order is binlog order (up to commits that overlap on
	// different connections).
	slices.SortStableFunc(idx, func(a, b int) int { return rows[a].commit.Compare(rows[b].commit) })
	lat := make([]time.Duration, 0, ls.Rows)
	var cum int64
	j := 0
	var sumCommit time.Duration
	var firstDue, lastCommit time.Time
	for _, i := range idx {
		cum += rows[i].points
		for j < len(obs) && obs[j].n < cum {
			j++
		}
		if i < warm {
			continue
		}
		if firstDue.IsZero() || rows[i].due.Before(firstDue) {
			firstDue = rows[i].due
		}
		if rows[i].commit.After(lastCommit) {
			lastCommit = rows[i].commit
		}
		sumCommit += rows[i].commit.Sub(rows[i].due)
		ls.MaxBehindMS = max(ls.MaxBehindMS, ms(rows[i].commit.Sub(rows[i].due)))
		if j == len(obs) {
			continue // never seen: the point check fails
		}
		d := obs[j].t.Sub(rows[i].commit)
		if d < 0 {
			ls.Clamped++
			d = 0
		}
		lat = append(lat, d)
	}
	if n := ls.Rows; n > 0 {
		ls.CommitMeanUS = float64(sumCommit.Microseconds()) / float64(n)
		ls.AchievedRate = float64(n) / lastCommit.Sub(firstDue).Seconds()
	}
	slices.Sort(lat)
	ls.P50MS, ls.P90MS, ls.P99MS = ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99))
	if len(lat) > 0 {
		ls.MaxMS = ms(lat[len(lat)-1])
	}
	return ls
}

// pct is the nearest-rank percentile of sorted d.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	k := int(p/100*float64(len(d))+0.999999) - 1
	return d[min(max(k, 0), len(d)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// selfCPU is this process's CPU so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
