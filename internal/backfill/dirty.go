package backfill

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
	"unicode/utf8"
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

// dirtyFile appends DirtyRecords as JSON lines. It is opened on the first
// record, so a clean run creates no file; Sync is called before each state
// save, so a saved state never gets ahead of the dirty rows it skipped.
type dirtyFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	seen bool // a record was written
}

func (d *dirtyFile) used() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen
}

func (d *dirtyFile) Record(r DirtyRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("opening dirty-rows file: %w", err)
		}
		d.f, d.w = f, bufio.NewWriter(f)
	}
	d.seen = true
	r.Value = jsonValue(r.Value)
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(DirtyRecord{Time: r.Time, Table: r.Table, Key: r.Key, Column: r.Column, Value: fmt.Sprint(r.Value), Reason: r.Reason, Detail: r.Detail})
	}
	b = append(b, '\n')
	if _, err := d.w.Write(b); err != nil {
		return fmt.Errorf("writing dirty-rows file %s: %w", d.path, err)
	}
	return nil
}

// Sync flushes and fsyncs the file.
func (d *dirtyFile) Sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("writing dirty-rows file %s: %w", d.path, err)
	}
	return d.f.Sync()
}

func (d *dirtyFile) Close() error {
	err := d.Sync()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f != nil {
		if cerr := d.f.Close(); err == nil {
			err = cerr
		}
		d.f = nil
	}
	return err
}

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
