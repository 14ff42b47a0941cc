package dirty

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

func readRecords(t *testing.T, path string) []Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func TestSkipUpToMaxThenStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	l := New(config.DirtyRows{Policy: config.DirtySkip, File: path, Max: 2})
	de := &mapping.DirtyError{Table: "t", Key: "id=1", Column: "v", Value: "NULL", Reason: mapping.ReasonNullTime, Detail: "x"}
	for i := range 2 {
		if err := l.Record(FromMapping("t", de)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	err := l.Record(Rejected("t", "id=2", "root.a.b", 507, "type mismatch"))
	if !IsStop(err) || !strings.Contains(err.Error(), "more than dirty_rows.max=2") || !strings.Contains(err.Error(), "key id=2") {
		t.Fatalf("third record: %v, want a stop naming max and the key", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rs := readRecords(t, path)
	if len(rs) != 3 || rs[0].Column != "v" || rs[0].Reason != mapping.ReasonNullTime || rs[2].Reason != ReasonRejected ||
		rs[2].Detail != "status 507: type mismatch" || rs[2].Value != "root.a.b" || rs[0].Time.IsZero() {
		t.Fatalf("records %+v", rs)
	}
}

func TestFailStopsAtTheFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	l := New(config.DirtyRows{Policy: config.DirtyFail, File: path, Max: -1})
	err := l.Record(Record{Table: "t", Key: "id=9", Reason: "unconvertible", Position: "bin.000001:42"})
	if !IsStop(err) || !strings.Contains(err.Error(), "binlog bin.000001:42") || !strings.Contains(err.Error(), "policy is fail") {
		t.Fatalf("got %v", err)
	}
	// The record is durable before the stop is returned.
	if rs := readRecords(t, path); len(rs) != 1 || rs[0].Key != "id=9" {
		t.Fatalf("records %+v", rs)
	}
	_ = l.Close()
}

func TestValuesAreReadableJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	l := New(config.DirtyRows{File: path, Max: -1})
	_ = l.Record(Record{Table: "t", Reason: "r", Value: []byte{0xff, 0x00}})
	_ = l.Record(Record{Table: "t", Reason: "r", Value: []byte("text")})
	_ = l.Close()
	rs := readRecords(t, path)
	if rs[0].Value != "0xff00" || rs[1].Value != "text" {
		t.Fatalf("values %v %v", rs[0].Value, rs[1].Value)
	}
	if l.Used() != true {
		t.Fatal("Used after records")
	}
}
