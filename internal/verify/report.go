package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
)

// Report is the outcome of Run. Its JSON form is what `verify --json`
// prints.
type Report struct {
	// Equal is true when nothing differs but extras that the mappings
	// keep on purpose (on_delete: ignore).
	Equal  bool          `json:"equal"`
	Mode   string        `json:"mode"` // coarse | exact
	Window WindowReport  `json:"window"`
	Tables []TableReport `json:"tables"`
	// Differences lists the first differences (--show), in table, device,
	// time order; DifferencesTotal counts them all.
	Differences      []Diff        `json:"differences"`
	DifferencesTotal int64         `json:"differences_total"`
	Notes            []string      `json:"notes,omitempty"`
	Repair           *RepairReport `json:"repair,omitempty"`
	ScanSeconds      float64       `json:"scan_seconds"`
	Seconds          float64       `json:"seconds"`

	Bucket    int64  `json:"-"`
	Precision string `json:"-"`
	Until     int64  `json:"-"`
	scan      backfill.Summary
}

// WindowReport is the time range compared.
type WindowReport struct {
	From      *int64 `json:"from"`       // start of the first bucket compared (server units); null when no bucket held points
	Until     *int64 `json:"until"`      // end of the window (exclusive)
	FromTime  string `json:"from_time"`  // the same as UTC times
	UntilTime string `json:"until_time"` //
	Bounded   bool   `json:"bounded"`    // --until was given: later points were not compared
	Bucket    string `json:"bucket"`
	Precision string `json:"precision"`
}

// TableReport is one table's figures.
type TableReport struct {
	Table    string `json:"table"`
	Model    string `json:"model"`
	OnDelete string `json:"on_delete"`
	// RowsRead and DirtyRows are from the source scan: a dirty row is
	// expected to be absent from IoTDB.
	RowsRead  int64 `json:"rows_read"`
	DirtyRows int64 `json:"dirty_rows"`
	// Collisions counts source rows mapping to a (device, time) another row
	// maps to (the scan's count); IoTDB holds one of them.
	Collisions       int64 `json:"collisions"`
	Devices          int64 `json:"devices"`
	Buckets          int64 `json:"buckets"`
	SourcePoints     int64 `json:"source_points"`
	IoTDBPoints      int64 `json:"iotdb_points"`
	DifferingBuckets int64 `json:"differing_buckets"`
	UndrilledBuckets int64 `json:"undrilled_buckets"` // differing, beyond the drill-down budget: not listed point by point
	// UnexplainedBuckets differ by their figures while their points,
	// read one by one, compare equal: IoTDB changed between the reads, or
	// holds a device verify cannot select point by point (a NULL tag).
	UnexplainedBuckets int64 `json:"unexplained_buckets"`
	// Source says where the source's coarse figures came from: "mysql"
	// (aggregates pushed down to MySQL) or "rows" (the rows read through
	// the mapping; always so in exact mode).
	Source string `json:"source"`
	// SettledBuckets (source "mysql") differed by their figures and were
	// found equal point by point: rows the mapping refuses or that
	// collide, which MySQL's figures count. Dirty rows and collisions are
	// counted only in the buckets drilled into.
	SettledBuckets int64            `json:"settled_buckets"`
	Differences    map[string]int64 `json:"differences"` // by kind: missing, extra, value, type
	// ExtrasAreDifferences is true under on_delete: delete; otherwise
	// extras are listed but expected (deleted or moved rows stay).
	ExtrasAreDifferences bool `json:"extras_are_differences"`
	Equal                bool `json:"equal"`
}

// Diff is one difference.
type Diff struct {
	Table       string `json:"table"`
	Device      string `json:"device"`
	Time        int64  `json:"time"` // server units; 0 for a type difference
	TimeText    string `json:"time_text,omitempty"`
	Measurement string `json:"measurement"`
	Kind        string `json:"kind"`
	Source      string `json:"source,omitempty"`
	IoTDB       string `json:"iotdb,omitempty"`
	Note        string `json:"note,omitempty"`

	table, field int
}

// RepairReport says what --repair did, and what verify found after it.
type RepairReport struct {
	Buckets int64    `json:"buckets"` // differing buckets rewritten from the source
	Written int64    `json:"points_written"`
	Deleted int64    `json:"points_deleted"`    // extras deleted (on_delete: delete)
	Kept    int64    `json:"extras_kept"`       // extras left in place (on_delete: ignore)
	Refused []string `json:"refused,omitempty"` // writes IoTDB refused
	// Unrepairable lists the type differences: IoTDB refuses every write
	// to such a series, so the repair does not try.
	Unrepairable []string `json:"unrepairable,omitempty"`
	After        *Report  `json:"after"`
}

func (r *Report) fill(v *verifier, res *result, sum backfill.Summary) {
	r.Window = WindowReport{Bounded: v.win.until != math.MaxInt64, Bucket: v.bucketText(), Precision: v.precision}
	if res.fromSet {
		from, until := res.from, res.until
		if r.Window.Bounded {
			until = v.win.until
		}
		r.Window.From, r.Window.Until = &from, &until
		r.Window.FromTime, r.Window.UntilTime = v.timeText(from), v.timeText(until)
	} else if r.Window.Bounded {
		until := v.win.until
		r.Window.Until, r.Window.UntilTime = &until, v.timeText(until)
	}
	scanned := map[string]backfill.TableSummary{}
	for _, t := range sum.Tables {
		scanned[t.Table] = t
	}
	for _, t := range res.rowsRead {
		if s, ok := scanned[t.Table]; ok && s.DirtyRows < t.DirtyRows {
			// a pushed-down table, read in full by the drill-down: its
			// dirty rows are known, not only those with a refused device
			s.DirtyRows = t.DirtyRows
			scanned[t.Table] = s
		}
	}
	r.Equal = true
	r.Tables = nil
	for _, ti := range v.tables {
		sc := scanned[ti.name]
		devs := map[string]bool{}
		for d := range res.srcDevices[ti.idx] {
			devs[d] = true
		}
		for d := range res.iotDevices[ti.idx] {
			devs[d] = true
		}
		tr := TableReport{Table: ti.name, Model: ti.model, OnDelete: "ignore", RowsRead: sc.RowsRead, DirtyRows: sc.DirtyRows,
			Collisions: sc.Collisions, Devices: int64(len(devs)), Buckets: res.buckets[ti.idx],
			SourcePoints: res.srcPoints[ti.idx], IoTDBPoints: res.iotPoints[ti.idx],
			Differences: map[string]int64{}, ExtrasAreDifferences: ti.deletes}
		if ti.deletes {
			tr.OnDelete = "delete"
		}
		tr.Source = "rows"
		if v.pushed[ti.idx] {
			tr.Source = "mysql"
			tr.SettledBuckets = res.settled[ti.idx]
		}
		for k := range res.differ {
			if k.table == ti.idx {
				tr.DifferingBuckets++
			}
		}
		for _, k := range res.undrilled {
			if k.table == ti.idx {
				tr.UndrilledBuckets++
			}
		}
		for _, k := range res.unexplained {
			if k.table == ti.idx {
				tr.UnexplainedBuckets++
			}
		}
		for _, kind := range []string{KindMissing, KindExtra, KindValue, KindType} {
			tr.Differences[kind] = res.counts[ti.idx][kind]
		}
		d := tr.Differences
		tr.Equal = d[KindMissing]+d[KindValue]+d[KindType] == 0 && tr.UndrilledBuckets == 0 && tr.UnexplainedBuckets == 0 && (!ti.deletes || d[KindExtra] == 0)
		r.Equal = r.Equal && tr.Equal
		for _, n := range d {
			r.DifferencesTotal += n
		}
		if d[KindExtra] > 0 && !ti.deletes {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %d points in IoTDB have no source row; under on_delete: ignore deleted or moved rows stay in IoTDB, so they are listed but are not differences (repair leaves them)", ti.name, d[KindExtra]))
		}
		if sc.DirtyRows > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %d source rows are dirty (the mapping refuses them) and are expected to be absent from IoTDB", ti.name, sc.DirtyRows))
		}
		if res.collisions[ti.idx] > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %d compared points have more than one source row (collisions): IoTDB holds one of them, which counts as equal", ti.name, res.collisions[ti.idx]))
		}
		if why := v.pushWhy[ti.idx]; why != "" {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: the source rows were read through the mapping, not aggregated by MySQL: %s", ti.name, why))
		}
		if tr.UndrilledBuckets > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %d differing buckets lie beyond the drill-down budget (--max-drill-points) and are not listed point by point; --repair rewrites them too", ti.name, tr.UndrilledBuckets))
		}
		if strings.EqualFold(v.opts.Tables[ti.idx].Mapping.OnUpdate, "ignore") {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: on_update: ignore: source rows updated after they were copied differ from IoTDB by design", ti.name))
		}
		r.Tables = append(r.Tables, tr)
	}
	for i, k := range append(res.undrilled[:len(res.undrilled):len(res.undrilled)], res.unexplained...) {
		if len(r.Notes) > 40 {
			break
		}
		what := "not drilled down"
		if i >= len(res.undrilled) {
			what = "the figures differ, the points read one by one do not: IoTDB changed meanwhile, or a device with a NULL tag; run verify again"
		}
		ti := v.tables[k.table]
		r.Notes = append(r.Notes, fmt.Sprintf("%s %s bucket %s: %s (%s)", ti.name, ti.showDevice(k.dev), v.timeText(k.bucket*v.win.bucket), res.differ[k], what))
	}
	r.Differences = res.diffs
	for i := range r.Differences {
		if r.Differences[i].Kind != KindType {
			r.Differences[i].TimeText = v.timeText(r.Differences[i].Time)
		}
	}
	if r.Differences == nil {
		r.Differences = []Diff{}
	}
	if !v.opts.Exact {
		r.Notes = append(r.Notes, "coarse mode compares aggregates: "+coarseBlindSpot(v.tables, v.noHash)+"; --exact compares every (time, value)")
		var pushed []string
		for _, ti := range v.tables {
			if v.pushed[ti.idx] {
				pushed = append(pushed, ti.name)
			}
		}
		if len(pushed) > 0 {
			r.Notes = append(r.Notes, strings.Join(pushed, ", ")+": the source figures are MySQL's aggregates (count and sum per measurement; in the table model also crc32 sums of integers and text, true counts and time × value sums), without first/last values or times: in the tree model a text or boolean value changed with its count kept, and in both models a value of a type SQL cannot convert (dates, ENUM, JSON, BIT) changed with its count kept, are seen by --exact or --no-pushdown")
		}
	}
}

// coarseBlindSpot says what the coarse figures cannot see, for the
// models being compared.
func coarseBlindSpot(ts []*tableInfo, noHash bool) string {
	tree, table := false, false
	for _, t := range ts {
		if t.model == "tree" {
			tree = true
		} else {
			table = true
		}
	}
	var s []string
	if tree {
		s = append(s, "tree model: a point moved in time inside its bucket, a text or boolean value changed, or values swapped between times, unless at the bucket's first or last point")
	}
	if table && noHash {
		s = append(s, "table model (this IoTDB has no crc32, before 2.0.10): a text value changed, values swapped between times, a text point moved in time")
	} else if table {
		s = append(s, "table model: a DATE value changed or moved inside its bucket unless at its first or last point (and, once in 65521 chances, a change that leaves the crc32 residues equal)")
	}
	return strings.Join(s, "; ")
}

func (v *verifier) unitNs() int64 {
	switch v.precision {
	case "us":
		return 1_000
	case "ns":
		return 1
	}
	return 1_000_000
}

func (v *verifier) timeText(t int64) string {
	u := v.unitNs()
	if t > math.MaxInt64/u || t < math.MinInt64/u {
		return fmt.Sprintf("%d%s", t, v.precision)
	}
	return time.Unix(0, t*u).UTC().Format("2006-01-02T15:04:05.999999999Z")
}

func (v *verifier) bucketText() string {
	return FormatBucket(time.Duration(v.win.bucket * v.unitNs()))
}

// FormatBucket renders a bucket width in its largest whole unit (1d, 6h,
// 90m, 500ms), else Go's form.
func FormatBucket(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}} {
		if d >= u.d && d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.name)
		}
	}
	return d.String()
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as the terminal tables.
func (r *Report) WriteText(w io.Writer) {
	r.writeText(w, "")
}

func (r *Report) writeText(w io.Writer, title string) {
	win := r.Window
	from, until := "(no points)", "(end of data)"
	if win.From != nil {
		from = win.FromTime
	}
	if win.Until != nil {
		until = win.UntilTime
	}
	bound := "every point"
	if win.Bounded {
		bound = "points before --until"
	}
	if title == "" {
		title = "verify"
	}
	fmt.Fprintf(w, "%s (%s mode): window [%s, %s), %s; buckets of %s; timestamps in %s\n", title, r.Mode, from, until, bound, win.Bucket, win.Precision)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "table\tmodel\tsource\trows read\tdevices\tbuckets\tsource points\tiotdb points\tdiffering buckets\tmissing\textra\tvalue\ttype\tresult")
	for _, t := range r.Tables {
		res := "equal"
		if !t.Equal {
			res = "DIFFERENT"
		}
		extra := fmt.Sprint(t.Differences[KindExtra])
		if !t.ExtrasAreDifferences && t.Differences[KindExtra] > 0 {
			extra += " (kept)"
		}
		src := "rows"
		if t.Source == "mysql" {
			src = "MySQL aggregates"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%s\n", t.Table, t.Model, src, t.RowsRead, t.Devices, t.Buckets,
			t.SourcePoints, t.IoTDBPoints, t.DifferingBuckets, t.Differences[KindMissing], extra, t.Differences[KindValue], t.Differences[KindType], res)
	}
	tw.Flush()
	if len(r.Differences) > 0 {
		fmt.Fprintf(w, "differences (first %d of %d):\n", len(r.Differences), r.DifferencesTotal)
		for _, d := range r.Differences {
			fmt.Fprintf(w, "  %s\n", d.line())
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "notes:")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	if rp := r.Repair; rp != nil {
		fmt.Fprintf(w, "repair: %d differing buckets rewritten from the source (%d points written), %d extras deleted, %d extras kept (on_delete: ignore)\n",
			rp.Buckets, rp.Written, rp.Deleted, rp.Kept)
		for _, s := range rp.Refused {
			fmt.Fprintf(w, "  refused by IoTDB: %s\n", s)
		}
		for _, s := range rp.Unrepairable {
			fmt.Fprintf(w, "  not repaired: %s\n", s)
		}
		if rp.After != nil {
			rp.After.writeText(w, "after the repair")
			return
		}
	}
	if r.Equal {
		fmt.Fprintln(w, "result: EQUAL")
	} else {
		fmt.Fprintln(w, "result: DIFFERENT")
	}
}

func (d Diff) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", d.Table, d.Device)
	if d.Kind != KindType {
		fmt.Fprintf(&b, " @%d (%s)", d.Time, d.TimeText)
	}
	fmt.Fprintf(&b, " %s: %s", d.Measurement, d.Kind)
	switch d.Kind {
	case KindMissing:
		fmt.Fprintf(&b, " in IoTDB (source %s)", d.Source)
	case KindExtra:
		fmt.Fprintf(&b, " in IoTDB (%s, no source row)", d.IoTDB)
	case KindValue:
		fmt.Fprintf(&b, ": source %s, IoTDB %s", d.Source, d.IoTDB)
	case KindType:
		fmt.Fprintf(&b, ": the mapping writes %s, IoTDB holds %s", d.Source, d.IoTDB)
	}
	if d.Note != "" {
		fmt.Fprintf(&b, " [%s]", d.Note)
	}
	return b.String()
}

// Final is the report whose result decides the exit code: the one after
// the repair when there was one.
func (r *Report) Final() *Report {
	if r.Repair != nil && r.Repair.After != nil {
		return r.Repair.After
	}
	return r
}
