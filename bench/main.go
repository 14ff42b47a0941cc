// Command bench measures the bridge's backfill against the floor and against
// the peers' way, on one generated table, in one run, and prints a table;
// then (suite cdc, see cdc.go) cmd/cdc against a bare binlog reader, its
// commit-to-visible latency and its memory on one big transaction.
//
// Three phases run as child processes, so that each one's CPU time and peak
// RSS come from the kernel's accounting of that process alone (rusage), while
// the CPU of the two servers (mariadbd, iotdbtest) is sampled from /proc
// around each phase:
//
//	raw-scan        a bare Go reader: prepared statement (binary protocol),
//	                keyset pages, rows.Scan into typed variables. The floor.
//	backfill        ./cmd/backfill with a generated config, into iotdbtest.
//	insert-records  the same scan, rows written with insertRecords in
//	                batches of 1024 (what the peers' IoTDB sinks do).
//
// Figures are reported as ratios measured in the same run (DEVELOPERS rule:
// speed and memory goals live here, never as timed assertions in tests). A
// missed target prints MISS and still exits 0; a wrong point count prints
// FAIL and exits 1.
//
//	go run ./bench                                  # 2M rows, all phases
//	go run ./bench --rows 200000
//	go run ./bench --only backfill --sizes 1000000,10000000   # RSS flatness
//	go run ./bench --suite cdc --cdc-rows 200000 --big-tx-rows 200000 --live-seconds 10
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// options are the command-line flags.
type options struct {
	rows         int64
	devices      int
	measurements int
	nulls        float64
	seed         uint64
	sizes        []int64
	only         []string
	json         bool
	keep         bool
	readers      int
	writers      int
	partitions   int
	pageRows     int
	batchRows    int
	recordsBatch int

	// CDC suite
	suite       string // backfill | cdc | all
	cdcRows     int64
	cdcChunk    int64
	bigTxRows   int64
	liveRate    float64
	liveSeconds time.Duration
	liveWarmup  time.Duration
	liveConns   int
	livePoll    time.Duration

	cdcBatchInterval time.Duration
	cdcRepeat        int

	devOpts // the devices suite (devices.go)

	// sync suite (sync.go)
	syncRows     int64
	syncChanged  int64
	syncLookback time.Duration

	// child mode (re-executed bench process)
	phase  string
	dsn    string
	maxID  int64
	iotdb  string
	prefix string
	from   string // binlog-raw: file:pos
	to     string
}

// maxRows is the largest table any phase will see (the CDC suite's table
// grows by every phase's rows).
func (o *options) maxRows() int64 {
	n := o.rows
	for _, s := range o.sizes {
		n = max(n, s)
	}
	if slices.ContainsFunc(cdcPhaseNames(), o.wants) {
		n = max(n, o.cdcRows+o.bigTxRows+int64(o.liveRate*(o.liveSeconds+o.liveWarmup).Seconds()))
	}
	if slices.ContainsFunc(syncPhaseNames(), o.wants) {
		n += o.syncRows // a table of its own
	}
	if (o.suite == "devices" || o.suite == "all") && len(o.only) == 0 {
		n += o.devOpts.maxRows()
	}
	return n
}

// wants says whether phase name runs: its suite is selected and --only
// (when given) names it.
func (o *options) wants(name string) bool {
	suite := "backfill"
	if slices.Contains(cdcPhaseNames(), name) {
		suite = "cdc"
	}
	if slices.Contains(syncPhaseNames(), name) {
		suite = "sync"
	}
	if o.suite != "all" && o.suite != suite {
		return false
	}
	return len(o.only) == 0 || slices.Contains(o.only, name)
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Int64Var(&o.rows, "rows", 2_000_000, "rows in the generated table")
	fs.IntVar(&o.devices, "devices", 1000, "distinct devices (device_id values)")
	fs.IntVar(&o.measurements, "measurements", 5, "measurements per row (the table has exactly 5)")
	fs.Float64Var(&o.nulls, "nulls", 0.01, "fraction of NULL cells per measurement")
	fs.Uint64Var(&o.seed, "seed", 1, "data generator seed")
	sizes := fs.String("sizes", "", "comma-separated row counts: also run the backfill at each size and report peak RSS per size")
	only := fs.String("only", "", "comma-separated phases to run (default all: "+strings.Join(phaseNames(), ",")+")")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON instead of a table")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (configs, logs of every child) and print its path; servers are stopped anyway")
	fs.IntVar(&o.readers, "readers", 2, "parallel readers: raw scan and insert-records split the id range this many ways; backfill.readers")
	fs.IntVar(&o.writers, "writers", 2, "backfill.writers")
	fs.IntVar(&o.partitions, "partitions", 8, "mysql.tables[].partition.count for the backfill")
	fs.IntVar(&o.pageRows, "page-rows", 10000, "keyset page size (every reader; backfill.page_rows)")
	fs.IntVar(&o.batchRows, "batch-rows", 10000, "iotdb.batch.rows for the backfill")
	fs.IntVar(&o.recordsBatch, "records-batch", 1024, "rows per insertRecords call in the insert-records phase")
	fs.StringVar(&o.suite, "suite", "all", "backfill | cdc | sync | devices | all")
	devFlags := o.devOpts.register(fs)
	fs.Int64Var(&o.syncRows, "sync-rows", 10_000_000, "sync: rows in its table (cursor column indexed)")
	fs.Int64Var(&o.syncChanged, "sync-changed", 10_000, "sync: rows whose cursor moves before the second run")
	fs.DurationVar(&o.syncLookback, "sync-lookback", time.Minute, "sync: cursor.lookback of the runs (the span re-read before the mark: 1000 rows per second of it)")
	fs.Int64Var(&o.cdcRows, "cdc-rows", 1_000_000, "cdc catch-up: rows already in the binlog when cdc starts")
	fs.Int64Var(&o.cdcChunk, "cdc-tx-rows", 1000, "cdc catch-up: rows per transaction")
	fs.Int64Var(&o.bigTxRows, "big-tx-rows", 1_000_000, "cdc big transaction: rows in the one transaction")
	fs.Float64Var(&o.liveRate, "live-rate", 2000, "cdc live: single-row transactions per second")
	liveSeconds := fs.Float64("live-seconds", 30, "cdc live: seconds of measured writing")
	fs.DurationVar(&o.liveWarmup, "live-warmup", time.Second, "cdc live: writing at --live-rate before the measured rows (new devices' schema creation; excluded from the latencies)")
	fs.IntVar(&o.liveConns, "live-conns", 4, "cdc live: writer connections (one cannot always keep up on a loaded machine)")
	fs.DurationVar(&o.cdcBatchInterval, "cdc-batch-interval", 0, "iotdb.batch.interval for every cdc phase (default: not set, cdc's default 200ms)")
	fs.IntVar(&o.cdcRepeat, "cdc-repeat", 1, "run binlog-raw and cdc-catchup alternately this many times; report the fastest of each")
	fs.DurationVar(&o.livePoll, "live-poll", 200*time.Microsecond, "cdc live: how often the observer reads iotdbtest's written-points counter")
	fs.StringVar(&o.phase, "phase", "", "internal: run as the child process of this phase")
	fs.StringVar(&o.dsn, "dsn", "", "internal: MySQL DSN for a child phase")
	fs.Int64Var(&o.maxID, "max-id", 0, "internal: scan ids (0, max-id]")
	fs.StringVar(&o.iotdb, "iotdb", "", "internal: iotdbtest host:port")
	fs.StringVar(&o.prefix, "prefix", "root.peers", "internal: device prefix for insert-records")
	fs.StringVar(&o.from, "binlog-from", "", "internal: binlog-raw start file:pos")
	fs.StringVar(&o.to, "binlog-to", "", "internal: binlog-raw end file:pos")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	o.liveSeconds = time.Duration(*liveSeconds * float64(time.Second))
	if *sizes != "" {
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("--sizes: bad size %q", s)
			}
			o.sizes = append(o.sizes, n)
		}
		slices.Sort(o.sizes)
		o.sizes = slices.Compact(o.sizes)
	}
	if err := devFlags(); err != nil {
		return nil, err
	}
	if *only != "" {
		for _, p := range strings.Split(*only, ",") {
			p = strings.TrimSpace(p)
			if findPhase(p) == nil && !slices.Contains(cdcPhaseNames(), p) && !slices.Contains(syncPhaseNames(), p) {
				return nil, fmt.Errorf("--only: unknown phase %q (have %s)", p, strings.Join(append(phaseNames(), cdcPhaseNames()...), ", "))
			}
			o.only = append(o.only, p)
		}
	}
	switch {
	case o.rows < 1:
		return nil, errors.New("--rows must be positive")
	case o.devices < 1:
		return nil, errors.New("--devices must be positive")
	case o.measurements != 5:
		return nil, errors.New("--measurements: the generated table has exactly 5 measurements")
	case o.nulls < 0 || o.nulls >= 1:
		return nil, errors.New("--nulls must be in [0, 1)")
	case o.readers < 1 || o.writers < 1 || o.partitions < 1 || o.pageRows < 1 || o.batchRows < 1 || o.recordsBatch < 1:
		return nil, errors.New("--readers, --writers, --partitions, --page-rows, --batch-rows, --records-batch must be positive")
	case o.suite != "backfill" && o.suite != "cdc" && o.suite != "sync" && o.suite != "devices" && o.suite != "all":
		return nil, fmt.Errorf("--suite %q: want backfill, cdc, sync, devices or all", o.suite)
	case o.syncRows < 1 || o.syncChanged < 1 || o.syncLookback < 0:
		return nil, errors.New("--sync-rows and --sync-changed must be positive, --sync-lookback not negative")
	case o.cdcRows < 1 || o.cdcChunk < 1 || o.bigTxRows < 1 || o.liveConns < 1 || o.cdcRepeat < 1:
		return nil, errors.New("--cdc-rows, --cdc-tx-rows, --big-tx-rows, --live-conns, --cdc-repeat must be positive")
	case o.liveRate <= 0 || o.liveSeconds <= 0 || o.liveWarmup < 0 || o.livePoll <= 0:
		return nil, errors.New("--live-rate, --live-seconds, --live-poll must be positive, --live-warmup not negative")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// Ctrl-C or SIGTERM cancels ctx: children get SIGTERM, and run's
	// deferred cleanup stops the servers and removes the temp dir.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.phase != "" {
		os.Exit(childMain(ctx, o.phase, childOpts{
			dsn: o.dsn, readers: o.readers, maxID: o.maxID, page: o.pageRows,
			iotdb: o.iotdb, batch: o.recordsBatch, prefix: o.prefix,
			from: o.from, to: o.to,
		}))
	}
	code := run(ctx, o)
	stop()
	os.Exit(code)
}

// run is the parent: set up, run the phases, report, tear down.
func run(ctx context.Context, o *options) (code int) {
	defer func() {
		if ctx.Err() != nil {
			logf("interrupted")
			code = 130
		}
	}()
	w, err := newWorld(ctx, o)
	if err != nil {
		logf("%v", err)
		return 1
	}
	defer w.Close()

	rep := &report{opts: o, env: describeEnv(ctx, w)}
	var backfillPhases []phase
	for _, p := range phases {
		if o.wants(p.name) {
			backfillPhases = append(backfillPhases, p)
		}
	}
	if len(backfillPhases) > 0 {
		if err := w.ensureRows(ctx, o.rows); err != nil {
			logf("%v", err)
			return 1
		}
	}
	for _, p := range backfillPhases {
		logf("phase %s: %s", p.name, p.about)
		res := runPhase(ctx, w, p, o.rows)
		rep.results = append(rep.results, res)
		if ctx.Err() != nil {
			return 130
		}
	}
	// RSS flatness: the backfill alone at each size, smallest first, so the
	// table grows by appending.
	for _, n := range o.sizes {
		if o.suite == "cdc" {
			break
		}
		var res *result
		for _, r := range rep.results {
			if r.Phase == "backfill" && r.Rows == n && r.Err == "" {
				res = r
			}
		}
		if res == nil {
			if err := w.ensureRows(ctx, n); err != nil {
				logf("%v", err)
				return 1
			}
			logf("phase backfill at %d rows", n)
			res = runPhase(ctx, w, *findPhase("backfill"), n)
		}
		rep.sizes = append(rep.sizes, res)
		if ctx.Err() != nil {
			return 130
		}
	}
	if slices.ContainsFunc(cdcPhaseNames(), o.wants) {
		rep.cdc = runCDCSuite(ctx, w, o.wants)
		if ctx.Err() != nil {
			return 130
		}
	}
	if (o.suite == "devices" || o.suite == "all") && len(o.only) == 0 {
		rep.devices = runDevicesSuite(ctx, w)
		if ctx.Err() != nil {
			return 130
		}
	}
	var syncRes []*syncResult
	if slices.ContainsFunc(syncPhaseNames(), o.wants) {
		syncRes = runSyncSuite(ctx, w)
		if ctx.Err() != nil {
			return 130
		}
	}
	if o.json {
		err = rep.writeJSON(os.Stdout)
	} else {
		err = rep.writeText(os.Stdout)
	}
	if err != nil {
		logf("%v", err)
		return 1
	}
	if len(syncRes) > 0 {
		if o.json {
			_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"sync": syncRes})
		} else {
			writeSyncText(os.Stdout, o, syncRes)
		}
	}
	for _, r := range syncRes {
		if !r.ok() {
			return 1
		}
	}
	if rep.failed() {
		return 1
	}
	return 0
}
