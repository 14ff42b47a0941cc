package main

import (
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

const partitionConfig = `
mysql:
  {{mysql}}
  tables:
    - name: skewed
      partition: {count: 4}
    - name: keyless
      partition: {column: n, count: 3}
    - name: filtered
      where: "dev = 'd1' OR v % 3 = 0"
      partition: {count: 3}
    - name: composite
      partition: {count: 5}
iotdb:
  {{iotdb}}
  mappings:
    - table: skewed
      device: "root.skew.${dev}"
      time: {column: ts}
      measurements: [{column: v}]
    - table: keyless
      device: "root.keyless.${dev}"
      time: {column: ts}
      measurements: [{column: v}]
    - table: filtered
      device: "root.filtered.${dev}"
      time: {column: ts}
      measurements: [{column: v}]
    - table: composite
      device: "root.comp.${site}.${dev}"
      time: {column: ts}
      measurements: [{column: v}]
backfill:
  {{state}}
  readers: 3
  writers: 2
  page_rows: 97
  queue: 4
dirty_rows:
  {{dirty}}
`

// TestIntegrationPartitioning runs the command over tables that stress the
// planner and the readers, and checks that IoTDB holds exactly the points
// the source implies (computed from a SELECT, not from the mapper).
func TestIntegrationPartitioning(t *testing.T) {
	h := newHarness(t, iotdbtest.Options{})
	h.exec(
		// 20000 dense keys and 50 keys spread over [1e9, 1.05e9]: the four
		// equal-span ranges put every dense row into the first one.
		"CREATE TABLE skewed (id BIGINT PRIMARY KEY, dev VARCHAR(16) NOT NULL, ts DATETIME(3) NOT NULL, v BIGINT NOT NULL)",
		"INSERT INTO skewed SELECT seq, CONCAT('d', seq % 10), '2024-01-01' + INTERVAL seq SECOND, seq * 7 FROM seq_1_to_20000",
		"INSERT INTO skewed SELECT 1000000000 + seq * 1000000, CONCAT('d', seq % 10), '2025-01-01 00:00:00.001' + INTERVAL seq SECOND, -seq FROM seq_1_to_50",
		// No primary key; the partition column is nullable and has gaps.
		"CREATE TABLE keyless (dev VARCHAR(16) NOT NULL, ts DATETIME(3) NOT NULL, v BIGINT NOT NULL, n INT NULL, KEY (n))",
		"INSERT INTO keyless SELECT CONCAT('k', seq % 7), '2024-02-01' + INTERVAL seq SECOND, seq, seq * 3 FROM seq_1_to_5000",
		"INSERT INTO keyless SELECT CONCAT('k', seq % 7), '2024-03-01' + INTERVAL seq SECOND, -seq, NULL FROM seq_1_to_100",
		// A filter with OR: it must stay parenthesised inside the range conditions.
		"CREATE TABLE filtered (id INT PRIMARY KEY, dev VARCHAR(16) NOT NULL, ts DATETIME(3) NOT NULL, v BIGINT NOT NULL)",
		"INSERT INTO filtered SELECT seq, CONCAT('d', seq % 5), '2024-04-01' + INTERVAL seq SECOND, seq FROM seq_1_to_3000",
		// Composite key led by a DATETIME shared by 40 rows each, device
		// template over two columns.
		"CREATE TABLE composite (site VARCHAR(8) NOT NULL, dev VARCHAR(8) NOT NULL, ts DATETIME(3) NOT NULL, v BIGINT NOT NULL, PRIMARY KEY (ts, site, dev))",
		"INSERT INTO composite SELECT CONCAT('s', seq % 4), CONCAT('d', (seq % 40) DIV 4), '2024-05-01' + INTERVAL (seq DIV 40) SECOND, seq FROM seq_0_to_3999",
		"INSERT INTO composite SELECT 'late', 'x', '2024-05-09 12:00:00.123' + INTERVAL seq MINUTE, 100000 + seq FROM seq_0_to_99",
	)
	cfg := h.writeConfig(partitionConfig)
	r := h.run(flags{config: cfg})
	mustSucceed(t, r)

	cases := []struct {
		table, prefix, query string
	}{
		{"skewed", "root.skew.", "SELECT CONCAT('root.skew.', dev, '.v'), ts, v FROM skewed"},
		{"keyless", "root.keyless.", "SELECT CONCAT('root.keyless.', dev, '.v'), ts, v FROM keyless"},
		{"filtered", "root.filtered.", "SELECT CONCAT('root.filtered.', dev, '.v'), ts, v FROM filtered WHERE dev = 'd1' OR v % 3 = 0"},
		{"composite", "root.comp.", "SELECT CONCAT('root.comp.', site, '.', dev, '.v'), ts, v FROM composite"},
	}
	sum, _, _ := parseSummary(t, r.stdout)
	var total int
	for _, c := range cases {
		want := h.expectFromSQL(c.query)
		total += want.count()
		comparePoints(t, c.table, want, storedPoints(h.iot, c.prefix))
		s := sum[c.table]
		if s == nil {
			t.Errorf("no summary line for %s", c.table)
			continue
		}
		if s.rows != int64(want.count()) || s.points != int64(want.count()) || s.dirty != 0 || s.collisions != 0 || s.done != s.partitions {
			t.Errorf("%s summary %+v, want %d rows read and written, all partitions done", c.table, *s, want.count())
		}
	}
	if got := h.iot.TotalPoints(); got != int64(total) {
		t.Errorf("IoTDB holds %d points, the source implies %d", got, total)
	}

	// The plans recorded in the state file.
	st := loadState(t, h.statePath())
	skew := st.Tables["skewed"].Plan
	if len(skew.Partitions) <= 4 || !strings.Contains(strings.Join(skew.Notes, "\n"), "skewed keys") {
		t.Errorf("skewed: %d partitions, notes %q: want the dense range split", len(skew.Partitions), skew.Notes)
	}
	// Actual rows per partition (the source, not the planner's estimate):
	// the 20000 dense keys must be spread over several partitions.
	var rangeTotal int64
	for _, p := range skew.Partitions {
		op := ">"
		if p.LoInclusive {
			op = ">="
		}
		n := h.count("SELECT COUNT(*) FROM skewed WHERE id " + op + " " + p.Lo.Text + " AND id <= " + p.Hi.Text)
		rangeTotal += n
		if n > 15000 {
			t.Errorf("skewed: partition p%d %s holds %d of 20050 rows: one giant partition remains", p.ID, p, n)
		}
	}
	if rangeTotal != 20050 {
		t.Errorf("skewed: the partitions cover %d rows, want 20050 (overlap or gap)", rangeTotal)
	}
	kl := st.Tables["keyless"].Plan
	if kl.Paged || kl.Column != "n" || !kl.Partitions[len(kl.Partitions)-1].Null ||
		!strings.Contains(strings.Join(kl.Notes, "\n"), "no primary key") {
		t.Errorf("keyless plan: paged %v column %q partitions %v notes %q", kl.Paged, kl.Column, kl.Partitions, kl.Notes)
	}
	cp := st.Tables["composite"].Plan
	if !cp.Paged || cp.Column != "ts" || len(cp.Order) != 3 || cp.Order[1].Name != "site" || cp.Order[2].Name != "dev" {
		t.Errorf("composite plan: column %q order %v", cp.Column, cp.Order)
	}
	for name, ts := range st.Tables {
		for i, p := range ts.Progress {
			if !p.Done {
				t.Errorf("%s partition %d not done in the state file", name, i)
			}
		}
	}
}
