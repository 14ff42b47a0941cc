package verify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Target is the IoTDB side: *iotdbsink.Sink.
type Target interface {
	Query(ctx context.Context, sql string, timeout time.Duration, start func(iotdbsink.QueryResult) error, row func(*iotdbsink.Row) error) error
	Write(ctx context.Context, pts []mapping.Point) (iotdbsink.Result, error)
	Delete(ctx context.Context, dels []iotdbsink.Deletion) error
}

// Scanner reads the source: the backfill engine's planning, paging and
// parallel readers over the named tables, with every mapped point handed
// to w instead of IoTDB (package wire builds it from the job's
// configuration). Rows the mapping refuses are dirty rows and never reach
// w. Scan may be called more than once (each call reads the tables anew).
type Scanner interface {
	Scan(ctx context.Context, tables []string, w backfill.PointWriter, p backfill.Progress) (backfill.Summary, error)
}

// Table is one mapped table to verify.
type Table struct {
	Mapper  *mapping.Mapper
	Mapping *config.Mapping
	// Source is the table's mysql.tables entry (in code when the YAML has
	// none): the pushed-down pass splits the table by its partition
	// settings and filters it by its where, as the Scanner does.
	Source config.Table
}

// tableInfo is what verify derives from a compiled mapping.
type tableInfo struct {
	name    string
	idx     int
	schema  *mapping.Schema
	model   string
	deletes bool // on_delete: delete: extras in IoTDB are differences, and repair deletes them

	// fields are the measurements compared, as indexes into
	// schema.Measurements (the table model's tags are not measurements).
	fields []int
	types  []client.TSDataType // per field
	names  []string            // per field: the wire name (tree: quoted node; table: column name)

	// tree
	match *deviceMatcher
	// table model
	tags []string // TAG column names, in the schema's order
}

func newTableInfo(idx int, t Table) (*tableInfo, error) {
	sc := t.Mapper.Schema()
	ti := &tableInfo{name: t.Mapper.Table(), idx: idx, schema: sc, model: sc.Model,
		deletes: strings.EqualFold(t.Mapping.OnDelete, "delete")}
	for i, m := range sc.Measurements {
		if sc.Categories != nil && sc.Categories[i] == client.TAG {
			ti.tags = append(ti.tags, m)
			continue
		}
		ti.fields = append(ti.fields, i)
		ti.types = append(ti.types, sc.Types[i])
		ti.names = append(ti.names, m)
	}
	if ti.model == "tree" {
		m, err := newDeviceMatcher(t.Mapping.Device)
		if err != nil {
			return nil, fmt.Errorf("%s: mapping for table %s: %w", t.Mapping.Pos, ti.name, err)
		}
		ti.match = m
	}
	return ti, nil
}

// fieldOf returns the field index of a measurement name as IoTDB spells
// it, or -1.
func (ti *tableInfo) fieldOf(name string) int {
	if ti.model == "tree" {
		name = canonicalNode(name)
		for i, n := range ti.names {
			if n == name {
				return i
			}
		}
		return -1
	}
	for i, n := range ti.names {
		if strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

// showDevice renders a device key for the report: the tree path, or the
// table model's tags as tag=value pairs.
func (ti *tableInfo) showDevice(dev string) string {
	if ti.model == "tree" {
		return dev
	}
	vals := strings.Split(dev, "\x00")
	var b strings.Builder
	b.WriteString(ti.schema.TargetTable)
	b.WriteByte('[')
	for i, tag := range ti.tags {
		if i > 0 {
			b.WriteByte(',')
		}
		v := ""
		if i < len(vals) {
			v = vals[i]
		}
		if v == nullTag {
			v = "NULL"
		}
		fmt.Fprintf(&b, "%s=%s", tag, v)
	}
	b.WriteByte(']')
	return b.String()
}

// nullTag stands for a NULL tag value in a device key: the bridge never
// writes one (a NULL device column is a dirty row), and a control
// character cannot be a tag value it writes.
const nullTag = "\x01"

// checkOverlaps refuses mappings whose points verify could not tell
// apart: two tree mappings that can produce the same device and share a
// measurement name, or two table-model mappings into one IoTDB table.
func checkOverlaps(ts []*tableInfo) error {
	for i, a := range ts {
		for _, b := range ts[i+1:] {
			if a.model == "table" {
				if strings.EqualFold(a.schema.TargetTable, b.schema.TargetTable) {
					return fmt.Errorf("tables %s and %s are both mapped to the IoTDB table %s: verify cannot tell their rows apart (nor can IoTDB)", a.name, b.name, a.schema.TargetTable)
				}
				continue
			}
			if !a.match.overlaps(b.match) {
				continue
			}
			for _, n := range a.names {
				for _, m := range b.names {
					if n == m {
						return fmt.Errorf("tables %s and %s can write the same series (their device templates overlap and both write measurement %s): verify cannot tell their points apart (nor can IoTDB)", a.name, b.name, n)
					}
				}
			}
		}
	}
	return nil
}
