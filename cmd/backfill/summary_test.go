package main

import (
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// TestIntegrationRowsWithoutValues: a row whose mapped measurements are all
// NULL writes nothing to IoTDB (a NULL write creates no point), so it is
// counted as a row without values, not as a point written and not as a
// dirty row; the summary's number words agree with their counts (1 dirty
// row, not 1 dirty rows); the log has one structured line per table.
func TestIntegrationRowsWithoutValues(t *testing.T) {
	h := newHarness(t, iotdbtest.Options{})
	h.exec(
		"CREATE TABLE readings (id INT PRIMARY KEY, dev VARCHAR(8) NULL, ts DATETIME(3) NOT NULL, a DOUBLE NULL, b INT NULL)",
		// 100 rows; every 10th has both measurements NULL; row 7 has a NULL device (the one dirty row).
		"INSERT INTO readings SELECT seq, IF(seq = 7, NULL, CONCAT('d', seq % 3)), '2024-01-01' + INTERVAL seq SECOND, "+
			"IF(seq % 10 = 0, NULL, seq / 2), IF(seq % 10 = 0 OR seq % 4 = 0, NULL, seq) FROM seq_1_to_100",
	)
	cfg := h.writeConfig(`
mysql:
  {{mysql}}
iotdb:
  {{iotdb}}
  mappings:
    - table: readings
      device: "root.nv.${dev}"
      time: {column: ts}
      measurements: [{column: a}, {column: b}]
backfill:
  {{state}}
  page_rows: 30
dirty_rows:
  {{dirty}}
log:
  format: json
`)
	r := h.run(flags{config: cfg})
	mustSucceed(t, r)
	sum, _, _ := parseSummary(t, r.stdout)
	s := sum["readings"]
	if s == nil || s.rows != 100 || s.dirty != 1 || s.empty != 10 || s.points != 89 || s.skipped["null_device"] != 1 {
		t.Fatalf("summary %+v, want 100 rows read, 1 dirty, 10 without values, 89 points written:\n%s", s, r.stdout)
	}
	if !strings.Contains(r.stdout, "1 dirty row skipped (null_device 1), 10 rows without values") {
		t.Errorf("summary wording:\n%s", r.stdout)
	}
	// IoTDB has a point for each of the 89 rows with a value, none for the
	// others (a of row 10 would be at 2024-01-01 00:00:10).
	want := h.expectFromSQL("SELECT CONCAT('root.nv.', dev, '.a'), ts, FLOOR(a) FROM readings WHERE dev IS NOT NULL AND a IS NOT NULL")
	got := storedPoints(h.iot, "root.nv.")
	times := map[int64]bool{}
	for _, pts := range got {
		for ts := range pts {
			times[ts] = true
		}
	}
	if len(times) != 89 {
		t.Errorf("IoTDB holds points at %d times, want the 89 rows with a value", len(times))
	}
	for series, pts := range want {
		for ts := range pts {
			if _, ok := got[series][ts]; !ok {
				t.Errorf("missing %s @%d", series, ts)
			}
		}
	}
	checkLogLines(t, r.stderr)
	var tableLine string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, `"message":"table copied"`) {
			tableLine = l
		}
	}
	for _, want := range []string{`"table":"readings"`, `"rows_read":100`, `"points_written":89`, `"dirty_rows":1`, `"rows_without_values":10`, `"duration_s":`, `"rows_per_s":`} {
		if !strings.Contains(tableLine, want) {
			t.Errorf("log line %q lacks %s", tableLine, want)
		}
	}
}
