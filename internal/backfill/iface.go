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
	// Add reports rows written (or skipped as dirty) for table.
	Add(table string, rows int64)
	// Finish is called once at the end, after the last Add.
	Finish()
}

// NopProgress discards progress.
type NopProgress struct{}

func (NopProgress) Start(*Plan, int64) {}
func (NopProgress) Add(string, int64)  {}
func (NopProgress) Finish()            {}
