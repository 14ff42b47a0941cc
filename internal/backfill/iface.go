package backfill

import (
	"context"

	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// RowMapper turns rows of one table into points. *mapping.Mapper is the
// production one (package wire passes it as is); tests use small fakes.
type RowMapper interface {
	// Columns lists the source columns Map needs, in the order Map wants
	// them. The reader selects exactly these (plus the key columns, which it
	// keeps to itself).
	Columns() []string
	// Map maps one row. A row that cannot be mapped is a dirty row: return a
	// *mapping.DirtyError to name the column, value and reason; any other
	// error is recorded as a dirty row too, with the error text as the
	// reason.
	//
	// row is only valid during the call: the engine reuses the slice for a
	// later row, so Map must not keep it. The values themselves ([]byte
	// included) are owned by the page and never overwritten, so a Point may
	// reference them.
	Map(row []any) (mapping.Point, error)
	// KeyString renders the row's primary key for the dirty-rows file.
	KeyString(row []any) string
}

// SelectLister is optionally implemented by a RowMapper whose columns must
// be read through expressions (mapping.Mapper reads DATE/DATETIME as text):
// one SELECT expression per Columns() entry, in the same order.
type SelectLister interface {
	SelectList() []string
}

// PointWriter writes points to IoTDB; *iotdbsink.Sink is the production
// one.
type PointWriter interface {
	// Write writes points and returns once IoTDB acknowledged them. It
	// retries transient failures itself (the sink does, under iotdb.retry),
	// so an error is final for this run: the engine stops, saves its state
	// and leaves the page unacknowledged for the next run. Points IoTDB
	// refused for good are reported in Result.Rejected and become dirty
	// rows; all other points are written. The points slice is only valid
	// during the call: the engine reuses it for a later page.
	Write(ctx context.Context, points []mapping.Point) (iotdbsink.Result, error)
}

// Progress receives the run's progress. Implementations must be safe for
// concurrent use.
type Progress interface {
	// Start is called once with the plan and the estimated number of rows
	// left to read (partitions of this shard that are not finished yet).
	Start(plan *Plan, remaining int64)
	// Add reports rows of table handled (written, skipped as dirty, or
	// without values) and the points of them IoTDB acknowledged.
	Add(table string, rows, points int64)
	// Finish is called once at the end, after the last Add.
	Finish()
}

// PartitionProgress is implemented by a Progress that wants to know each
// partition's real size (the displays of this package do): the engine calls
// Partitions once, right after Start, with the number of partitions this run
// reads, and PartitionDone as each of them finishes, with the estimate
// Start's total counted for it and the rows it really had in this run. A
// display replaces estimates by counts as they become known, ends at the
// true total, and tells a finished run (every partition done) from an
// interrupted one.
type PartitionProgress interface {
	Partitions(n int)
	PartitionDone(table string, estimated, rows int64)
}

// Tee sends progress to every non-nil p.
func Tee(ps ...Progress) Progress {
	var t tee
	for _, p := range ps {
		if p != nil {
			t = append(t, p)
		}
	}
	return t
}

type tee []Progress

func (t tee) Start(plan *Plan, remaining int64) {
	for _, p := range t {
		p.Start(plan, remaining)
	}
}

func (t tee) Add(table string, rows, points int64) {
	for _, p := range t {
		p.Add(table, rows, points)
	}
}

func (t tee) Partitions(n int) {
	for _, p := range t {
		if pp, ok := p.(PartitionProgress); ok {
			pp.Partitions(n)
		}
	}
}

func (t tee) PartitionDone(table string, estimated, rows int64) {
	for _, p := range t {
		if pp, ok := p.(PartitionProgress); ok {
			pp.PartitionDone(table, estimated, rows)
		}
	}
}

func (t tee) Finish() {
	for _, p := range t {
		p.Finish()
	}
}

// NopProgress discards progress.
type NopProgress struct{}

func (NopProgress) Start(*Plan, int64)       {}
func (NopProgress) Add(string, int64, int64) {}
func (NopProgress) Finish()                  {}
