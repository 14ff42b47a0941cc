package backfill

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// TestKeylessCollisionKey: a table without a primary key has an empty key
// string, so the collision counter keys its rows by the whole mapped row:
// two different rows at the same (device, time) are a collision, the same
// row delivered twice (a partition read again) is not.
func TestKeylessCollisionKey(t *testing.T) {
	m := &testMapper{cols: []string{"v", "dev", "ts"}, keyCols: 0, devCol: 1, timeCol: 2}
	tr, err := newTableRun("nokey", &TablePlan{Table: "nokey", Paged: false, Partitions: []Partition{{}}}, m)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := [][]any{
		{int64(1), []byte("d1"), ts},
		{int64(1), []byte("d1"), ts}, // the same row again (read twice): not a collision
		{int64(2), []byte("d1"), ts}, // same device and time, another row: a collision
		{nil, []byte("d1"), ts},      // NULL is a value of its own: a collision
		{"2", []byte("d1"), ts},      // so is the same digit as another Go type
		{int64(1), []byte("d2"), ts}, // another device
		{int64(1), []byte("d1"), ts.Add(time.Second)},
	}
	var hs []pointHash
	var key []byte
	for _, row := range rows {
		p, err := m.Map(row)
		if err != nil {
			t.Fatal(err)
		}
		key = tr.appendKey(key[:0], row)
		hs = append(hs, tr.coll.hash(p.Device, p.Time, key))
	}
	tr.coll.observeHashes(hs)
	if got := tr.coll.total(); got != 3 {
		t.Fatalf("collisions %d, want 3", got)
	}

	// A table with a key keeps using it: rows with the same key and
	// different values are one row read twice, not a collision.
	keyed, err := newTableRun("keyed", &TablePlan{Table: "keyed", Paged: true}, &testMapper{cols: m.cols, keyCols: 1, devCol: 1, timeCol: 2})
	if err != nil {
		t.Fatal(err)
	}
	a := keyed.appendKey(nil, []any{int64(1), []byte("d1"), ts})
	b := keyed.appendKey(nil, []any{int64(1), []byte("d9"), ts.Add(time.Hour)})
	if string(a) != "1" || string(b) != "1" {
		t.Fatalf("keyed table keys %q, %q: want the mapper's key string", a, b)
	}
}

// TestIntegrationKeylessCollisions runs a keyless table whose rows collide
// and checks the summary counts them.
func TestIntegrationKeylessCollisions(t *testing.T) {
	f := newFixture(t)
	f.exec(
		"CREATE TABLE nokey_coll (dev VARCHAR(8), ts DATETIME, v INT)",
		// 300 distinct (dev, ts) points ...
		"INSERT INTO nokey_coll SELECT CONCAT('d', seq % 3), '2024-01-01' + INTERVAL seq MINUTE, seq FROM seq_1_to_300",
		// ... 25 other rows at points already taken: collisions ...
		"INSERT INTO nokey_coll SELECT CONCAT('d', seq % 3), '2024-01-01' + INTERVAL seq MINUTE, -seq FROM seq_1_to_25",
		// ... and 5 exact copies of rows: the same point written twice, not a collision.
		"INSERT INTO nokey_coll SELECT CONCAT('d', seq % 3), '2024-01-01' + INTERVAL seq MINUTE, seq FROM seq_100_to_104",
	)
	m := &testMapper{cols: []string{"v", "dev", "ts"}, keyCols: 0, devCol: 1, timeCol: 2}
	for _, part := range []config.Partition{{}, {Column: "ts", Count: 4}} {
		w := newMemWriter()
		opts := f.opts(w, Table{Config: config.Table{Name: "nokey_coll", Partition: part}, Mapper: m})
		opts.Backfill.State = filepath.Join(t.TempDir(), "s.json")
		sum, err := Run(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if ts := sum.Tables[0]; ts.RowsRead != 330 || ts.Collisions != 25 {
			t.Errorf("partition %+v: rows %d, collisions %d; want 330, 25", part, ts.RowsRead, ts.Collisions)
		}
	}
}
