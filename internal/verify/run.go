package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Options configure Run. Tables, Scanner, Target, Precision and Bucket are
// required.
type Options struct {
	Tables  []Table
	Scanner Scanner
	Target  Target
	// Source, when set, takes the coarse pass of every table it can
	// express in SQL down to MySQL (pushdown.go); the others, and every
	// table in Exact mode, are read row by row through the Scanner.
	Source *SQLSource
	// Precision is the server's timestamp precision (ms, us, ns); Bucket
	// and Until are in its units.
	Precision string
	Bucket    int64
	// Until bounds the window: only points before it are compared
	// (math.MaxInt64 or 0: no bound).
	Until int64
	// Exact compares a hash of every (time, value) per bucket, read from
	// IoTDB in full, instead of the aggregates IoTDB computes.
	Exact bool
	// Repair rewrites the differing buckets from the source, deletes the
	// extras of mappings that propagate deletes, and verifies again.
	Repair bool
	// Show is how many differences the report lists (default 20).
	Show int
	// MaxDrillPoints bounds the points (source and IoTDB together) the
	// drill-down holds in memory (default 5,000,000); differing buckets
	// beyond it are reported by their figures only.
	MaxDrillPoints int64
	// QueryTimeout bounds one IoTDB query (default 10 minutes).
	QueryTimeout time.Duration
	// Progress returns the progress receiver of one source pass (nil:
	// none); phase names it ("scan", "drill-down", "repair").
	Progress func(phase string) backfill.Progress
	Log      zerolog.Logger
}

type verifier struct {
	opts         Options
	tables       []*tableInfo
	bySchema     map[*mapping.Schema]*tableInfo
	win          window
	precision    string
	queryTimeout time.Duration
	target       Target
	log          zerolog.Logger

	// pushed: per table, its source figures came from MySQL's aggregates
	pushed []bool
	// pushWhy: per table not pushed down (Source set, coarse mode), why
	pushWhy []string

	badOnce sync.Once
	badErr  error
	// noHash: IoTDB refused the table model's crc32 figures (before
	// 2.0.10); they are left out for the rest of the run.
	noHash bool
}

// Run verifies the tables: a source pass folds the mapped points into
// per-(device, bucket, measurement) figures, IoTDB computes the same
// figures, the buckets that differ are compared point by point, and with
// Repair they are rewritten and verified again. It returns an error only
// when the comparison could not be made; differences are in the Report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Bucket <= 0 {
		return nil, errors.New("verify: bucket must be positive")
	}
	if opts.Until <= 0 {
		opts.Until = math.MaxInt64
	}
	if opts.Show <= 0 {
		opts.Show = 20
	}
	if opts.MaxDrillPoints <= 0 {
		opts.MaxDrillPoints = 5_000_000
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 10 * time.Minute
	}
	v := &verifier{opts: opts, bySchema: map[*mapping.Schema]*tableInfo{},
		win: window{bucket: opts.Bucket, until: opts.Until}, precision: opts.Precision,
		queryTimeout: opts.QueryTimeout, target: opts.Target,
		log: opts.Log.With().Str("component", "verify").Logger()}
	for i, t := range opts.Tables {
		ti, err := newTableInfo(i, t)
		if err != nil {
			return nil, err
		}
		v.tables = append(v.tables, ti)
		v.bySchema[ti.schema] = ti
	}
	if len(v.tables) == 0 {
		return nil, errors.New("verify: no tables")
	}
	if err := checkOverlaps(v.tables); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Mode: v.mode(), Bucket: opts.Bucket, Precision: opts.Precision, Until: opts.Until}

	// 1. The source: MySQL's aggregates where it can compute them, the
	// rest folded from the rows.
	src := newCells()
	scanStart := time.Now()
	v.pushed = make([]bool, len(v.tables))
	v.pushWhy = make([]string, len(v.tables))
	var sum backfill.Summary
	var early *earlyIoT
	if !opts.Exact && opts.Source != nil && opts.Source.DB != nil {
		qs := make([]*pushQuery, len(v.tables))
		for i, ti := range v.tables {
			q, err := v.newPushQuery(ti, opts.Tables[i])
			if err != nil {
				v.log.Info().Str("table", ti.name).Str("reason", err.Error()).Msg("coarse pass not pushed down to MySQL: the rows are read through the mapping")
				v.pushWhy[i] = err.Error()
				continue
			}
			qs[i], v.pushed[i] = q, true
		}
		// IoTDB computes its figures meanwhile: they do not depend on the
		// source's (the time spans to query come from IoTDB's own).
		early = v.startIoT(ctx)
		defer early.wait()
		for i, q := range qs {
			if q == nil {
				continue
			}
			ts, ok, err := v.pushTable(ctx, q, src)
			if err != nil {
				return nil, err
			}
			if ok {
				sum.Tables = append(sum.Tables, ts)
			} else {
				v.pushed[i] = false
				early.invalidate(i) // asked for too few figures: asked again
			}
		}
	}
	var rest []string
	for i, ti := range v.tables {
		if !v.pushed[i] {
			rest = append(rest, ti.name)
		}
	}
	if len(rest) > 0 {
		scanned, err := v.foldRows(ctx, rest, src)
		if err != nil {
			return nil, err
		}
		sum.Tables = append(sum.Tables, scanned...)
	}
	rep.ScanSeconds = time.Since(scanStart).Seconds()
	rep.scan = sum

	// 2. Compare, drill down.
	res, err := v.compare(ctx, src, opts.Repair, early)
	if err != nil {
		return nil, err
	}
	// A pushed-down table with more differing buckets than the drill-down
	// holds (many dirty rows or collisions make MySQL's figures differ
	// everywhere) is read row by row and compared again: MySQL's figures
	// must never leave a verdict the rows would have given open.
	if again := v.undrilledPushed(res); len(again) > 0 {
		var names []string
		for _, i := range again {
			names = append(names, v.tables[i].name)
			v.pushed[i] = false
			v.pushWhy[i] = "MySQL's figures differed in more buckets than the drill-down holds (--max-drill-points)"
			src.drop(i)
		}
		v.log.Info().Strs("tables", names).Msg("MySQL's figures differ in more buckets than the drill-down holds: reading these tables row by row")
		scanned, err := v.foldRows(ctx, names, src)
		if err != nil {
			return nil, err
		}
		kept := sum.Tables[:0]
		for _, t := range sum.Tables {
			if !slices.Contains(names, t.Table) {
				kept = append(kept, t)
			}
		}
		sum.Tables = append(kept, scanned...)
		if res, err = v.compare(ctx, src, opts.Repair, nil); err != nil {
			return nil, err
		}
	}
	rep.fill(v, res, sum)
	// 3. Repair and compare again.
	if opts.Repair && !res.clean(v.tables) {
		rr, err := v.repair(ctx, res)
		if err != nil {
			return rep, fmt.Errorf("repair: %w", err)
		}
		after, err := v.compare(ctx, src, false, nil)
		if err != nil {
			return rep, fmt.Errorf("verifying after the repair: %w", err)
		}
		rr.After = &Report{Mode: rep.Mode, Bucket: rep.Bucket, Precision: rep.Precision, Until: rep.Until}
		rr.After.fill(v, after, sum)
		rep.Repair = rr
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func (v *verifier) mode() string {
	if v.opts.Exact {
		return "exact"
	}
	return "coarse"
}

func (v *verifier) bad(err error) {
	v.badOnce.Do(func() { v.badErr = fmt.Errorf("verify: %w", err) })
}

// earlyIoT is IoTDB's side of the first comparison, computed while MySQL
// computes the source's.
type earlyIoT struct {
	done  chan struct{}
	cells *cells
	sides []*iotSide // per table; nil: to be read by compare
	err   error
}

// startIoT reads IoTDB's figures of every table in the background, over
// the time spans IoTDB holds points in (the source's spans are not known
// yet; a bucket only the source holds needs no IoTDB query to differ).
func (v *verifier) startIoT(ctx context.Context) *earlyIoT {
	e := &earlyIoT{done: make(chan struct{}), cells: newCells(), sides: make([]*iotSide, len(v.tables))}
	pushed := slices.Clone(v.pushed)
	go func() {
		defer close(e.done)
		for i, ti := range v.tables {
			s, err := v.iotFiguresLean(ctx, ti, newCells(), e.cells, pushed[i])
			if err != nil {
				e.err = fmt.Errorf("table %s: reading IoTDB: %w", ti.name, err)
				return
			}
			e.sides[i] = s
		}
	}()
	return e
}

// wait returns when the background reads are done.
func (e *earlyIoT) wait() error {
	<-e.done
	return e.err
}

// invalidate drops table i's early figures: they were asked for as if
// MySQL computed the source's, and it did not.
func (e *earlyIoT) invalidate(i int) {
	<-e.done
	e.sides[i] = nil
	e.cells.drop(i)
}

// foldRows reads the rows of the named tables through their mappings
// into src's figures.
func (v *verifier) foldRows(ctx context.Context, names []string, src *cells) ([]backfill.TableSummary, error) {
	f := &fold{win: v.win, tables: v.bySchema, cells: src, bad: v.bad}
	scanned, err := v.scan(ctx, "scan", names, f)
	if err != nil {
		return nil, fmt.Errorf("reading the source: %w", err)
	}
	if v.badErr != nil {
		return nil, v.badErr
	}
	return scanned.Tables, nil
}

// undrilledPushed lists the pushed-down tables with undrilled buckets.
func (v *verifier) undrilledPushed(res *result) []int {
	var out []int
	for i := range v.tables {
		if !v.pushed[i] {
			continue
		}
		for _, k := range res.undrilled {
			if k.table == i {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// namesOf lists the tables of the keys in want, in configuration order.
func (v *verifier) namesOf(want map[key]bool) []string {
	has := make([]bool, len(v.tables))
	for k := range want {
		has[k.table] = true
	}
	var out []string
	for i, ti := range v.tables {
		if has[i] {
			out = append(out, ti.name)
		}
	}
	return out
}

func (v *verifier) scan(ctx context.Context, phase string, names []string, w backfill.PointWriter) (backfill.Summary, error) {
	var p backfill.Progress
	if v.opts.Progress != nil {
		p = v.opts.Progress(phase)
	}
	v.log.Info().Str("phase", phase).Strs("tables", names).Msg("reading the source")
	return v.opts.Scanner.Scan(ctx, names, w, p)
}

// pushTable runs the pushed-down pass of one table into src. ok is false
// when the table is to be read row by row instead: MySQL refused the query
// (an epoch that overflows, say).
func (v *verifier) pushTable(ctx context.Context, q *pushQuery, src *cells) (backfill.TableSummary, bool, error) {
	ti := q.ti
	log := v.log.With().Str("table", ti.name).Logger()
	start := time.Now()
	got, err := v.push(ctx, q)
	if err != nil {
		if ctx.Err() != nil {
			return backfill.TableSummary{}, false, ctx.Err()
		}
		log.Warn().Err(err).Msg("MySQL refused the pushed-down coarse pass: the rows are read through the mapping instead")
		v.pushWhy[ti.idx] = "MySQL refused the aggregate query: " + err.Error()
		return backfill.TableSummary{}, false, nil
	}
	for k, ce := range got.cells {
		sh := &src.shards[src.shard(k.dev)]
		sh.mu.Lock()
		sh.m[k] = ce
		sh.mu.Unlock()
	}
	d := time.Since(start)
	log.Info().Int64("rows", got.rows).Int("buckets", len(got.cells)).Int("key_ranges", got.ranges).
		Float64("elapsed_s", d.Seconds()).Msg("coarse pass pushed down to MySQL")
	return backfill.TableSummary{Table: ti.name, RowsRead: got.rows, DirtyRows: got.refused, Duration: d}, true, nil
}

// result is one comparison.
type result struct {
	src, iot    *cells
	sides       []*iotSide
	differ      map[key]string // differing buckets and why (the first figure that differs)
	undrilled   []key
	unexplained []key                   // drilled, figures differ, points equal
	rowsRead    []backfill.TableSummary // the drill-down's reading of the source (pushed-down tables: their dirty rows)
	settled     []int64                 // per table: pushed-down buckets whose figures differed and whose points are equal
	diffs       []Diff                  // the first Show, in order
	counts      []map[string]int64
	extras      []Diff // the extras of deleting mappings (for the repair), drilled buckets
	collisions  []int64
	iotDevices  []map[string]bool
	srcDevices  []map[string]bool
	buckets     []int64
	srcPoints   []int64
	iotPoints   []int64
	from, until int64 // the window compared, in server units
	fromSet     bool
}

// clean reports whether nothing differs but the extras that mappings
// under on_delete: ignore keep.
func (r *result) clean(tables []*tableInfo) bool {
	if len(r.undrilled)+len(r.unexplained) > 0 {
		return false
	}
	for i, c := range r.counts {
		if c[KindMissing]+c[KindValue]+c[KindType] > 0 || (tables[i].deletes && c[KindExtra] > 0) {
			return false
		}
	}
	return true
}

// compare reads IoTDB's figures (or takes those early computed while the
// source was read), compares them with src's and drills into the buckets
// that differ.
func (v *verifier) compare(ctx context.Context, src *cells, keepExtras bool, early *earlyIoT) (*result, error) {
	res := &result{src: src, iot: newCells(), differ: map[key]string{}}
	var pre []*iotSide
	if early != nil {
		if err := early.wait(); err != nil {
			return nil, err
		}
		res.iot, pre = early.cells, early.sides
	}
	n := len(v.tables)
	res.counts = make([]map[string]int64, n)
	res.collisions = make([]int64, n)
	res.settled = make([]int64, n)
	res.iotDevices, res.srcDevices = make([]map[string]bool, n), make([]map[string]bool, n)
	res.buckets, res.srcPoints, res.iotPoints = make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range n {
		res.counts[i] = map[string]int64{}
		res.iotDevices[i], res.srcDevices[i] = map[string]bool{}, map[string]bool{}
	}
	for i, ti := range v.tables {
		if pre != nil && pre[i] != nil {
			res.sides = append(res.sides, pre[i])
			continue
		}
		s, err := v.iotFigures(ctx, ti, src, res.iot)
		if err != nil {
			return nil, fmt.Errorf("table %s: reading IoTDB: %w", ti.name, err)
		}
		res.sides = append(res.sides, s)
	}
	v.coarse(res)
	if err := v.drill(ctx, res, keepExtras); err != nil {
		return nil, err
	}
	return res, nil
}

// iotFigures reads IoTDB's figures of one table into iot (and its side
// facts), over the time spans where either side holds points.
func (v *verifier) iotFigures(ctx context.Context, ti *tableInfo, src, iot *cells) (*iotSide, error) {
	return v.iotFiguresLean(ctx, ti, src, iot, v.pushed[ti.idx])
}

// iotFiguresLean is iotFigures; lean asks only for the figures MySQL's
// side compares (the table was pushed down).
func (v *verifier) iotFiguresLean(ctx context.Context, ti *tableInfo, src, iot *cells, lean bool) (*iotSide, error) {
	s := newIotSide()
	s.cells = iot
	s.lean = lean
	if ti.model == "tree" {
		if err := v.treeSchema(ctx, ti, s); err != nil {
			return nil, err
		}
		if len(s.devices) > 0 {
			if err := v.treeSpans(ctx, ti, s); err != nil {
				return nil, err
			}
		}
	} else {
		if err := v.tableSchema(ctx, ti, s); err != nil {
			return nil, err
		}
		if err := v.tableSpans(ctx, ti, s); err != nil {
			return nil, err
		}
	}
	for _, iv := range v.intervals(ti, src, s) {
		lo, hi := iv[0]*v.win.bucket, v.bucketEnd(iv[1])
		var err error
		switch {
		case v.opts.Exact && ti.model == "tree":
			err = v.treeExact(ctx, ti, s, lo, hi)
		case v.opts.Exact:
			err = v.tableRaw(ctx, ti, s, "", lo, hi, func(dev string, t int64, fi int, x val) {
				v.exactAdd(s, ti, dev, t, fi, x)
			})
		case ti.model == "tree":
			err = v.treeFigures(ctx, ti, s, lo, hi)
		default:
			err = v.tableFigures(ctx, ti, s, lo, hi)
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// bucketEnd is the end of bucket b, cut at the window's end.
func (v *verifier) bucketEnd(b int64) int64 {
	end := (b + 1) * v.win.bucket
	if end > v.win.until || end < b*v.win.bucket { // cut, or overflow
		return v.win.until
	}
	return end
}

func (v *verifier) treeExact(ctx context.Context, ti *tableInfo, s *iotSide, lo, hi int64) error {
	devs := make([]string, 0, len(s.devices))
	for d := range s.devices {
		if sp, ok := s.spans[d]; ok && sp[1] >= lo && sp[0] < hi {
			devs = append(devs, d)
		}
	}
	sort.Strings(devs)
	for _, dev := range devs {
		if err := v.treeRaw(ctx, ti, s, dev, lo, hi, func(t int64, fi int, x val) { v.exactAdd(s, ti, dev, t, fi, x) }); err != nil {
			return err
		}
	}
	return nil
}

func (v *verifier) exactAdd(s *iotSide, ti *tableInfo, dev string, t int64, fi int, x val) {
	if !v.win.in(t) {
		return
	}
	ce := s.cells.get(key{table: ti.idx, dev: dev, bucket: v.win.bucketOf(t)}, len(ti.fields))
	f := &ce.figs[fi]
	f.n++
	f.hash += pointHash(t, x, classOf(ti.types[fi]))
	f.have |= fCount | fHash
}

// intervals returns the bucket ranges to query: the spans of every device
// on either side, merged when they lie close (so a stray point far away
// does not make one query over every empty bucket between).
func (v *verifier) intervals(ti *tableInfo, src *cells, s *iotSide) [][2]int64 {
	var spans [][2]int64
	perDev := map[string][2]int64{}
	src.each(func(k key, _ *cell) {
		if k.table != ti.idx {
			return
		}
		sp, ok := perDev[k.dev]
		if !ok {
			sp = [2]int64{k.bucket, k.bucket}
		}
		sp[0], sp[1] = min(sp[0], k.bucket), max(sp[1], k.bucket)
		perDev[k.dev] = sp
	})
	for _, sp := range perDev {
		spans = append(spans, sp)
	}
	last := v.win.bucketOf(v.win.until - 1)
	if v.win.until == math.MaxInt64 {
		last = math.MaxInt64
	}
	for _, sp := range s.spans {
		if sp[0] >= v.win.until {
			continue
		}
		spans = append(spans, [2]int64{v.win.bucketOf(sp[0]), min(v.win.bucketOf(sp[1]), last)})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	const gap = 64 // empty buckets bridged rather than split into another query
	var out [][2]int64
	for _, sp := range spans {
		if n := len(out); n > 0 && sp[0] <= out[n-1][1]+gap {
			out[n-1][1] = max(out[n-1][1], sp[1])
			continue
		}
		out = append(out, sp)
	}
	return out
}

// coarse compares the figures of every bucket either side holds.
func (v *verifier) coarse(res *result) {
	check := func(k key, s, i *cell) {
		ti := v.tables[k.table]
		side := res.sides[k.table]
		var zero cell
		if s == nil {
			zero.figs = make([]fig, len(ti.fields))
			s = &zero
		}
		missing := i == nil
		if missing {
			i = &cell{figs: make([]fig, len(ti.fields))}
		}
		res.buckets[k.table]++
		why := ""
		for fi := range ti.fields {
			if side.wrongType(k.dev, fi) {
				continue
			}
			sf, iff := &s.figs[fi], &i.figs[fi]
			if missing || iff.have == 0 {
				iff.have = fCount
			}
			res.srcPoints[k.table] += sf.n
			res.iotPoints[k.table] += iff.n
			if why == "" {
				if d := diffFigs(sf, iff, ti.types[fi], v.win.bucket); d != "" {
					why = ti.names[fi] + ": " + d
				}
			}
		}
		if anyPoints(s) {
			res.srcDevices[k.table][k.dev] = true
		}
		if !missing {
			res.iotDevices[k.table][k.dev] = true
		}
		start := k.bucket * v.win.bucket
		if !res.fromSet || start < res.from {
			res.from, res.fromSet = start, true
		}
		res.until = max(res.until, v.bucketEnd(k.bucket))
		if why != "" {
			res.differ[k] = why
		}
	}
	res.src.each(func(k key, s *cell) { check(k, s, res.iot.lookup(k)) })
	res.iot.each(func(k key, i *cell) {
		if res.src.lookup(k) == nil {
			check(k, nil, i)
		}
	})
}

func anyPoints(c *cell) bool {
	for i := range c.figs {
		if c.figs[i].n > 0 {
			return true
		}
	}
	return false
}

func cellPoints(c *cell) int64 {
	if c == nil {
		return 0
	}
	var n int64
	for i := range c.figs {
		n += c.figs[i].n
	}
	return n
}

// sortedKeys returns the keys of m in report order.
func sortedKeys(m map[key]string) []key {
	out := make([]key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return keyLess(out[i], out[j]) })
	return out
}

func keyLess(a, b key) bool {
	if a.table != b.table {
		return a.table < b.table
	}
	if a.dev != b.dev {
		return a.dev < b.dev
	}
	return a.bucket < b.bucket
}

// Difference kinds.
const (
	KindMissing = "missing" // the source has the point, IoTDB does not
	KindExtra   = "extra"   // IoTDB has a point the source does not
	KindValue   = "value"   // both have it, with different values
	KindType    = "type"    // IoTDB holds the series with another type than the mapping writes
)

// iotPoint is one (device, time) IoTDB holds in a drilled bucket.
type iotPoint struct {
	vals []val
	has  []bool
}

// drill compares the differing buckets point by point, within the memory
// budget: IoTDB's points are read per device and run of buckets, the
// source's by one more pass that keeps only those buckets.
func (v *verifier) drill(ctx context.Context, res *result, keepExtras bool) error {
	keys := sortedKeys(res.differ)
	var budget int64
	want := map[key]bool{}
	for _, k := range keys {
		n := cellPoints(res.src.lookup(k)) + cellPoints(res.iot.lookup(k))
		if budget+n > v.opts.MaxDrillPoints && len(want) > 0 {
			res.undrilled = append(res.undrilled, k)
			continue
		}
		budget += n
		want[k] = true
	}
	if len(want) == 0 {
		v.typeDiffs(res)
		return nil
	}
	// IoTDB's points of the drilled buckets.
	iot := map[key]map[int64]*iotPoint{}
	for _, ti := range v.tables {
		s := res.sides[ti.idx]
		byDev := map[string][]int64{}
		for k := range want {
			if k.table == ti.idx && res.iot.lookup(k) != nil {
				byDev[k.dev] = append(byDev[k.dev], k.bucket)
			}
		}
		devs := make([]string, 0, len(byDev))
		for d := range byDev {
			devs = append(devs, d)
		}
		sort.Strings(devs)
		for _, dev := range devs {
			bs := byDev[dev]
			slices.Sort(bs)
			for i := 0; i < len(bs); {
				j := i
				for j+1 < len(bs) && bs[j+1] == bs[j]+1 {
					j++
				}
				lo, hi := bs[i]*v.win.bucket, v.bucketEnd(bs[j])
				put := func(d string, t int64, fi int, x val) {
					k := key{table: ti.idx, dev: d, bucket: v.win.bucketOf(t)}
					if !want[k] {
						return
					}
					m := iot[k]
					if m == nil {
						m = map[int64]*iotPoint{}
						iot[k] = m
					}
					p := m[t]
					if p == nil {
						p = &iotPoint{vals: make([]val, len(ti.fields)), has: make([]bool, len(ti.fields))}
						m[t] = p
					}
					if fi >= 0 {
						p.vals[fi], p.has[fi] = x, true
					}
				}
				var err error
				if ti.model == "tree" {
					err = v.treeRaw(ctx, ti, s, dev, lo, hi, func(t int64, fi int, x val) { put(dev, t, fi, x) })
				} else {
					err = v.tableRaw(ctx, ti, s, dev, lo, hi, put)
				}
				if err != nil {
					return fmt.Errorf("table %s: reading the points of %s: %w", ti.name, ti.showDevice(dev), err)
				}
				i = j + 1
			}
		}
	}
	// The source's points of the drilled buckets.
	srcWant := map[key]bool{}
	for k := range want {
		if res.src.lookup(k) != nil {
			srcWant[k] = true
		}
	}
	got := map[key]map[int64]*srcPoint{}
	if len(srcWant) > 0 {
		c := &collect{win: v.win, tables: v.bySchema, want: srcWant, got: got, bad: v.bad}
		ds, err := v.scan(ctx, "drill-down", v.namesOf(srcWant), c)
		if err != nil {
			return fmt.Errorf("reading the source for the drill-down: %w", err)
		}
		// The drill-down read these tables' rows through the mapping:
		// its dirty rows and collisions are the whole tables'.
		res.rowsRead = ds.Tables
	}
	// Compare, bucket by bucket in report order.
	for _, k := range keys {
		if !want[k] {
			continue
		}
		if !v.compareBucket(res, k, got[k], iot[k], keepExtras) {
			if v.pushed[k.table] {
				// MySQL's figures count what the mapping refuses (dirty
				// rows, collisions): the points decide, and are equal.
				res.settled[k.table]++
				continue
			}
			// The figures differed, the points do not: IoTDB changed
			// between the two reads, or holds what verify cannot read
			// point by point (a NULL tag). Not equal, but not listed.
			res.unexplained = append(res.unexplained, k)
		}
	}
	v.typeDiffs(res)
	return nil
}

// compareBucket compares one drilled bucket point by point. It returns
// whether it found a difference or a collision: one of them explains why
// the bucket's figures differed.
func (v *verifier) compareBucket(res *result, k key, src map[int64]*srcPoint, iot map[int64]*iotPoint, keepExtras bool) bool {
	ti := v.tables[k.table]
	side := res.sides[k.table]
	times := make([]int64, 0, len(src)+len(iot))
	for t := range src {
		times = append(times, t)
	}
	for t := range iot {
		if src[t] == nil {
			times = append(times, t)
		}
	}
	slices.Sort(times)
	explained := false
	for _, t := range times {
		sp, ip := src[t], iot[t]
		for fi := range ti.fields {
			if side.wrongType(k.dev, fi) {
				continue
			}
			var cands []val
			if sp != nil {
				cands = sp.vals[fi]
			}
			has := ip != nil && ip.has[fi]
			typ := ti.types[fi]
			c := classOf(typ)
			if len(cands) > 1 || (sp != nil && sp.rows > 1) {
				explained = true
				if len(cands) > 1 {
					res.collisions[k.table]++
				}
			}
			switch {
			case len(cands) == 0 && !has:
			case !has:
				explained = true
				v.addDiff(res, Diff{table: k.table, Device: k.dev, Time: t, Measurement: ti.names[fi], Kind: KindMissing, Source: showCands(typ, cands)})
			case len(cands) == 0:
				explained = true
				d := Diff{table: k.table, Device: k.dev, Time: t, Measurement: ti.names[fi], field: fi, Kind: KindExtra, IoTDB: render(typ, ip.vals[fi])}
				v.addDiff(res, d)
				if keepExtras && ti.deletes {
					res.extras = append(res.extras, d)
				}
			default:
				match := false
				for _, x := range cands {
					if x.equal(ip.vals[fi], c) {
						match = true
					}
				}
				if !match {
					explained = true
					v.addDiff(res, Diff{table: k.table, Device: k.dev, Time: t, Measurement: ti.names[fi], Kind: KindValue, Source: showCands(typ, cands), IoTDB: render(typ, ip.vals[fi])})
				}
			}
		}
	}
	return explained
}

// showCands renders the source value of a point, or the values of the
// rows that collide on it.
func showCands(t client.TSDataType, cands []val) string {
	if len(cands) == 1 {
		return render(t, cands[0])
	}
	var parts []string
	for _, c := range cands {
		parts = append(parts, render(t, c))
	}
	return "one of " + strings.Join(parts, " | ") + " (source rows collide on this point)"
}

// addDiff counts d and keeps it for the report while fewer than Show are.
func (v *verifier) addDiff(res *result, d Diff) {
	res.counts[d.table][d.Kind]++
	if len(res.diffs) < v.opts.Show {
		ti := v.tables[d.table]
		d.Table, d.Device = ti.name, ti.showDevice(d.Device)
		if d.Kind == KindExtra && !ti.deletes {
			d.Note = "kept by on_delete: ignore, not a difference"
		}
		res.diffs = append(res.diffs, d)
	}
}

// typeDiffs reports the series IoTDB holds with another type, with the
// source points they keep from being compared.
func (v *verifier) typeDiffs(res *result) {
	for _, ti := range v.tables {
		s := res.sides[ti.idx]
		tks := make([]typeKey, 0, len(s.typeDiff))
		for tk := range s.typeDiff {
			tks = append(tks, tk)
		}
		sort.Slice(tks, func(i, j int) bool {
			if tks[i].dev != tks[j].dev {
				return tks[i].dev < tks[j].dev
			}
			return tks[i].field < tks[j].field
		})
		for _, tk := range tks {
			var n int64
			res.src.each(func(k key, c *cell) {
				if k.table == ti.idx && (tk.dev == "" || k.dev == tk.dev) {
					n += c.figs[tk.field].n
				}
			})
			dev := tk.dev
			if dev == "" {
				dev = "(every device)"
			}
			d := Diff{table: ti.idx, Device: dev, Measurement: ti.names[tk.field], Kind: KindType,
				Source: iotdbsink.TypeName(ti.types[tk.field]), IoTDB: s.typeDiff[tk],
				Note: fmt.Sprintf("%d source points not compared; IoTDB refuses the mapping's writes to this series: drop or rename it, then --repair", n)}
			res.counts[ti.idx][KindType]++
			if len(res.diffs) < v.opts.Show {
				d.Table = ti.name
				if tk.dev != "" {
					d.Device = ti.showDevice(tk.dev)
				}
				res.diffs = append(res.diffs, d)
			}
		}
	}
}

// repair deletes the extras of the mappings that propagate deletes, then
// rewrites every differing bucket from the source.
func (v *verifier) repair(ctx context.Context, res *result) (*RepairReport, error) {
	rr := &RepairReport{}
	var dels []iotdbsink.Deletion
	rowSeen := map[key]map[int64]bool{}
	for _, d := range res.extras {
		ti := v.tables[d.table]
		if ti.model == "table" {
			// the table model deletes whole rows: once per (device, time)
			k := key{table: d.table, dev: d.Device}
			if rowSeen[k] == nil {
				rowSeen[k] = map[int64]bool{}
			}
			if rowSeen[k][d.Time] {
				continue
			}
			rowSeen[k][d.Time] = true
			dels = append(dels, iotdbsink.Deletion{Schema: ti.schema, Device: d.Device, Time: d.Time})
			continue
		}
		dels = append(dels, iotdbsink.Deletion{Schema: ti.schema, Device: d.Device, Time: d.Time, Measurements: []int{ti.fields[d.field]}})
	}
	if len(dels) > 0 {
		v.log.Info().Int("deletions", len(dels)).Msg("repair: deleting the extras")
		if err := v.target.Delete(ctx, dels); err != nil {
			return rr, err
		}
		rr.Deleted = int64(len(dels))
	}
	want := map[key]bool{}
	for k := range res.differ {
		if res.src.lookup(k) != nil {
			want[k] = true
		}
	}
	rr.Buckets = int64(len(res.differ))
	if len(want) > 0 {
		w := &rewrite{win: v.win, tables: v.bySchema, want: want, sink: v.target}
		if _, err := v.scan(ctx, "repair", v.namesOf(want), w); err != nil {
			return rr, err
		}
		rr.Written = w.written
		for _, rj := range w.refused {
			rr.Refused = append(rr.Refused, fmt.Sprintf("%s: %s (status %d)", rj.Device, rj.Message, rj.Code))
		}
	}
	for i, c := range res.counts {
		if c[KindExtra] > 0 && !v.tables[i].deletes {
			rr.Kept += c[KindExtra]
		}
	}
	for _, ti := range v.tables {
		s := res.sides[ti.idx]
		for tk, iotType := range s.typeDiff {
			series := ti.schema.TargetTable + "." + ti.names[tk.field]
			if tk.dev != "" {
				series = tk.dev + "." + ti.names[tk.field]
			}
			rr.Unrepairable = append(rr.Unrepairable, fmt.Sprintf("%s: IoTDB holds %s, the mapping of table %s writes %s; IoTDB refuses those writes: drop or rename the series, then run --repair again",
				series, iotType, ti.name, iotdbsink.TypeName(ti.types[tk.field])))
		}
	}
	sort.Strings(rr.Unrepairable)
	return rr, nil
}
