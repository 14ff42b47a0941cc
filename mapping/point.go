// Package mapping turns one source row into one IoTDB point. It is pure: no
// I/O once compiled. Backfill (database/sql, binary protocol) and cdc (binlog
// row images) hand it the same column values in the Go types their drivers
// deliver; the per-type conversion functions normalise both, so the two
// binaries write the identical point for the identical row.
package mapping

import "github.com/apache/iotdb-client-go/v2/client"

// Schema is the measurement layout shared by every point of one compiled
// mapping. Points of one mapping carry the same *Schema pointer, so the sink
// can group them without comparing slices.
type Schema struct {
	SourceTable string // MySQL table name
	Model       string // "tree" or "table"
	Database    string // tree: database path (root.x); table model: database name
	TargetTable string // table model only: IoTDB table name
	Aligned     bool   // tree: aligned device (table model is always aligned)
	// Template names the IoTDB device template of the mapping (tree model,
	// config device_template; "" for none), set on TemplatePath: the device
	// path's fixed beginning, nodes quoted as IoTDB stores them.
	Template     string
	TemplatePath string

	// Measurements holds the IoTDB measurement names exactly as sent on the wire
	// (tree: path nodes quoted per docs/iotdb.md §4; table model: column names).
	// Types and Categories are parallel to it. Categories is nil in the tree model.
	Measurements []string
	Types        []client.TSDataType
	Categories   []client.ColumnCategory
}

// Point is one mapped row.
type Point struct {
	// Device is the full device path with quoted nodes (tree), or, in the table
	// model, the tag values joined by "\x00" (only used for grouping).
	Device string
	// Time is in the IoTDB server's precision (ms, us or ns).
	Time   int64
	Schema *Schema
	// Values is parallel to Schema.Measurements; nil is NULL. Each non-nil value
	// has the Go type client.Tablet.SetValueAt expects for its TSDataType
	// (bool, int32, int64, float32, float64, string, []byte, time.Time for DATE).
	Values []any
}

// HasValues reports whether the point carries at least one measurement
// value: a row whose mapped measurements are all NULL writes nothing to
// IoTDB (a NULL in a write creates no point, docs/iotdb.md §3.3). Table
// model tags are not measurements.
func (p *Point) HasValues() bool {
	for i, v := range p.Values {
		if v != nil && (p.Schema == nil || i >= len(p.Schema.Categories) || p.Schema.Categories[i] != client.TAG) {
			return true
		}
	}
	return false
}
