package cdc

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/jsonl"
)

// DirtyRecord is one line of the dirty-rows file written by cdc. Backfill
// writes the same fields except position and action.
type DirtyRecord struct {
	Time     time.Time `json:"time"`
	Table    string    `json:"table"`
	Key      string    `json:"key"`
	Column   string    `json:"column,omitempty"`
	Value    string    `json:"value,omitempty"`
	Reason   string    `json:"reason"`
	Detail   string    `json:"detail,omitempty"`
	Action   string    `json:"action,omitempty"`   // insert | update | delete
	Position string    `json:"position,omitempty"` // binlog position of the rows event ("file:pos")
	GTID     string    `json:"gtid,omitempty"`     // GTID of the transaction, when the source has GTIDs
}

// dirtyLog writes DirtyRecords to the dirty-rows file and applies the
// policy. Sync runs before every checkpoint save so a saved checkpoint never
// gets ahead of the rows it skipped.
type dirtyLog struct {
	cfg     config.DirtyRows
	out     *jsonl.File
	skipped atomic.Int64
}

func newDirtyLog(cfg config.DirtyRows) *dirtyLog {
	if cfg.File == "" {
		cfg.File = "dirty-rows.jsonl"
	}
	if cfg.Policy == "" {
		cfg.Policy = config.DirtySkip
	}
	return &dirtyLog{cfg: cfg, out: jsonl.New(cfg.File)}
}

// record writes r and returns a non-nil error when the run must stop: the
// policy is fail, or more than max rows were skipped.
func (d *dirtyLog) record(r DirtyRecord) error {
	r.Time = time.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("dirty-rows file: %w", err)
	}
	if err := d.out.Write(b); err != nil {
		return fmt.Errorf("dirty-rows file: %w", err)
	}
	what := fmt.Sprintf("table %s, key %s", r.Table, r.Key)
	if r.Column != "" {
		what += ", column " + r.Column
	}
	if r.Position != "" {
		what += ", binlog " + r.Position
	}
	if d.cfg.Policy == config.DirtyFail {
		_ = d.sync()
		return &fatalError{fmt.Errorf("dirty row (%s): %s %s; dirty_rows.policy is fail (recorded in %s)", what, r.Reason, r.Detail, d.cfg.File)}
	}
	n := d.skipped.Add(1)
	if d.cfg.Max >= 0 && n > int64(d.cfg.Max) {
		_ = d.sync()
		return &fatalError{fmt.Errorf("more than dirty_rows.max=%d rows skipped (last: %s: %s); see %s", d.cfg.Max, what, r.Reason, d.cfg.File)}
	}
	return nil
}

// sync flushes and fsyncs the file.
func (d *dirtyLog) sync() error {
	if err := d.out.Sync(); err != nil {
		return fmt.Errorf("dirty-rows file: %w", err)
	}
	return nil
}

func (d *dirtyLog) close() error { return d.out.Close() }

func posString(p binlog.Position) string {
	if p.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", p.File, p.Pos)
}
