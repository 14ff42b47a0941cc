package backfill

import (
	"context"
	"fmt"

	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// RowMapper turns rows of one table into points. cmd/backfill adapts
// *mapping.Mapper to it (see the package doc).
type RowMapper interface {
	// Columns lists the source columns Map needs, in the order Map wants
	// them. The reader selects exactly these (plus the key columns, which it
	// keeps to itself).
	Columns() []string
	// Map maps one row. A row that cannot be mapped is a dirty row: return a
	// *DirtyError to name the column, value and reason; any other error is
	// recorded as a dirty row too, with the error text as the reason.
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

// DirtyError is what RowMapper.Map returns for a row that cannot be mapped.
// Reason should be a short category (the summary counts rows by it); Detail
// is the human explanation.
type DirtyError struct {
	Column string
	Value  any
	Reason string
	Detail string
}

func (e *DirtyError) Error() string {
	if e.Column == "" {
		return e.Reason
	}
	return fmt.Sprintf("column %s: %s", e.Column, e.Reason)
}

// PointWriter writes points to IoTDB. cmd/backfill adapts *iotdbsink.Sink
// to it.
type PointWriter interface {
	// Write writes points and returns once IoTDB acknowledged them. A
	// non-nil error means the whole batch must be written again: the engine
	// retries it with backoff (wrap the error with backoff.Permanent to stop
	// at once). Points IoTDB refused for good are reported in
	// WriteResult.Rejected and become dirty rows; all other points are
	// written. The points slice is only valid during the call: the engine
	// reuses it for a later page.
	Write(ctx context.Context, points []mapping.Point) (WriteResult, error)
}

// WriteResult is the outcome of a successful PointWriter.Write.
type WriteResult struct {
	Rejected []Rejection
}

// Rejection is a set of points IoTDB refused with one status.
type Rejection struct {
	Device  string
	Code    int
	Message string
	Points  []int // indexes into the points passed to Write
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
