package backfill

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/mysql-iotdb-bridge/bridge/internal/jsonl"
)

// DirtyRecord is one line of the dirty-rows file.
type DirtyRecord struct {
	Time   time.Time `json:"time"`
	Table  string    `json:"table"`
	Key    string    `json:"key"`
	Column string    `json:"column,omitempty"`
	Value  any       `json:"value,omitempty"`
	Reason string    `json:"reason"`
	Detail string    `json:"detail,omitempty"`
}

// dirtyFile writes DirtyRecords to the dirty-rows file.
type dirtyFile struct{ out *jsonl.File }

func (d *dirtyFile) used() bool { return d.out.Lines() > 0 }

func (d *dirtyFile) Record(r DirtyRecord) error {
	r.Value = jsonValue(r.Value)
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(DirtyRecord{Time: r.Time, Table: r.Table, Key: r.Key, Column: r.Column, Value: fmt.Sprint(r.Value), Reason: r.Reason, Detail: r.Detail})
	}
	if err := d.out.Write(b); err != nil {
		return fmt.Errorf("dirty-rows file: %w", err)
	}
	return nil
}

// Sync flushes and fsyncs the file.
func (d *dirtyFile) Sync() error { return d.out.Sync() }

func (d *dirtyFile) Close() error { return d.out.Close() }

// jsonValue makes a source value readable in JSON: text as a string, other
// bytes as "0x..." hex, times in RFC 3339.
func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return "0x" + hex.EncodeToString(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	default:
		return v
	}
}
