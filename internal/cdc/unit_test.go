package cdc

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

func TestNewlyNull(t *testing.T) {
	for _, tc := range []struct{ before, after, want []int }{
		{nil, nil, nil},
		{nil, []int{1, 3}, []int{1, 3}},
		{[]int{1}, []int{1, 3}, []int{3}},
		{[]int{0, 1, 2}, []int{1}, nil},
		{[]int{2}, []int{0, 1, 2, 4}, []int{0, 1, 4}},
	} {
		if got := newlyNull(tc.before, tc.after); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("newlyNull(%v, %v) = %v, want %v", tc.before, tc.after, got, tc.want)
		}
	}
}

func TestDDLTables(t *testing.T) {
	tables := map[string]*tableState{"readings": {name: "readings"}, "pumps": {name: "pumps"}}
	for q, want := range map[string][]string{
		"ALTER TABLE readings ADD COLUMN x INT":                   {"readings"},
		"alter table `factory`.`Readings` drop column hum":        {"readings"},
		"/* generated */ DROP TABLE IF EXISTS pumps, readings":    {"pumps", "readings"},
		"RENAME TABLE readings TO readings_old":                   {"readings"},
		"ALTER TABLE readings_archive ADD COLUMN x INT":           nil,
		"CREATE TABLE other (readings INT)":                       {"readings"}, // harmless false positive
		"INSERT INTO readings VALUES (1)":                         nil,
		"GRANT SELECT ON factory.readings TO x":                   nil,
		"TRUNCATE readings":                                       {"readings"},
		"ALTER TABLE pumpsX ADD COLUMN y INT":                     nil,
		"create index i on pumps (name)":                          {"pumps"},
		"ALTER TABLE `readings` MODIFY temp VARCHAR(10) NOT NULL": {"readings"},
	} {
		var got []string
		for _, ts := range ddlTables(q, tables) {
			got = append(got, ts.name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ddlTables(%q) = %v, want %v", q, got, want)
		}
	}
}

// Consecutive writes share a segment, a deletion starts a new one and
// consecutive deletions share theirs: binlog order is kept.
func TestBatchSegments(t *testing.T) {
	var b batch
	p := mapping.Point{Device: "root.a.b"}
	d := iotdbsink.Deletion{Device: "root.a.b"}
	b.write(p, opMeta{}, 4)
	b.write(p, opMeta{}, 4)
	b.delete(d, opMeta{})
	b.delete(d, opMeta{})
	b.write(p, opMeta{}, 4)
	if b.ops != 5 || len(b.segs) != 3 {
		t.Fatalf("ops %d segs %d", b.ops, len(b.segs))
	}
	if b.segs[0].del || len(b.segs[0].points) != 2 || !b.segs[1].del || len(b.segs[1].dels) != 2 || b.segs[2].del || len(b.segs[2].points) != 1 {
		t.Fatalf("segments %+v", b.segs)
	}
	if len(b.segs[1].meta) != 2 {
		t.Fatal("meta not parallel to deletions")
	}

	// A reused batch starts empty, whatever its earlier segments were.
	old := b.segs[0].points[:2]
	b.commit, b.hasCommit, b.force = binlog.Position{File: "f", Pos: 9}, true, true
	b.reset()
	if !b.empty() || b.force || len(b.segs) != 0 {
		t.Fatalf("reset batch: %+v", b)
	}
	if old[0].Device != "" {
		t.Fatal("reset left a point behind (it would keep its row alive)")
	}
	b.delete(d, opMeta{})
	b.write(p, opMeta{}, 4)
	if b.ops != 2 || len(b.segs) != 2 || !b.segs[0].del || len(b.segs[0].dels) != 1 || len(b.segs[0].points) != 0 ||
		b.segs[1].del || len(b.segs[1].points) != 1 || len(b.segs[1].meta) != 1 {
		t.Fatalf("reused batch segments %+v", b.segs)
	}
	var e batch
	if !e.empty() {
		t.Fatal("empty batch")
	}
	e.commit, e.hasCommit = binlog.Position{File: "f", Pos: 4}, true
	if e.empty() {
		t.Fatal("a commit-only batch is not empty: it carries the checkpoint")
	}
}

// The checkpoint is two gauges (file number, offset), never a label that
// makes a series per position; a file name that is not valid UTF-8 or has
// no number (a hand-edited checkpoint, an odd server) is -1, not a panic.
func TestCheckpointMetricIsBounded(t *testing.T) {
	m := newMetrics(nil, nil)
	m.checkpointSaved(binlog.Position{File: "bin\xff.000001", Pos: 4, GTID: "0-1-\xfe"}, time.Now())
	if got := testutil.ToFloat64(m.ckFile); got != 1 {
		t.Fatalf("file number of bin\\xff.000001: %v, want 1", got)
	}
	m.checkpointSaved(binlog.Position{File: "custom-name", Pos: 4}, time.Now())
	if got := testutil.ToFloat64(m.ckFile); got != -1 {
		t.Fatalf("file number of custom-name: %v, want -1", got)
	}
	m.checkpointSaved(binlog.Position{File: "mysql-bin.000042", Pos: 8}, time.Now())
	if f, p := testutil.ToFloat64(m.ckFile), testutil.ToFloat64(m.ckPos); f != 42 || p != 8 {
		t.Fatalf("checkpoint gauges %v/%v, want 42/8", f, p)
	}
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.Contains(mf.GetName(), "checkpoint") && len(mf.GetMetric()) != 1 {
			t.Errorf("%s has %d series after three checkpoints, want 1", mf.GetName(), len(mf.GetMetric()))
		}
	}
}
