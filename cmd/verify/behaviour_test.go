package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/internal/verify"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// Under on_delete: ignore an extra point in IoTDB (a deleted or moved
// source row) is listed, said to be kept, and is no difference: exit 0;
// --repair leaves it where it is.
func TestIntegrationVerifyExtrasKeptUnderOnDeleteIgnore(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	h.writeConfig("tree", "", strings.Replace(treeMapping, "on_delete: delete", "on_delete: ignore", 1))
	h.backfill()
	h.exec("DELETE FROM readings WHERE device_id = 'd1' AND id = 4") // k=3 of d1: IoTDB keeps it, as cdc would
	code, rep, r := h.verifyJSON(wire.VerifyArgs{})
	if code != 0 || !rep.Equal {
		t.Fatalf("exit %d, want 0 (extras are not differences under on_delete: ignore)\n%s", code, r.stdout)
	}
	var want []diffKey
	for _, c := range h.nonNullAt("d1", rowTime(0, 3)) {
		want = append(want, diffKey{dev("d1"), rowTime(0, 3), c, "extra"})
	}
	if len(want) == 0 {
		t.Fatal("the deleted row had no values")
	}
	sameDiffs(t, "kept extras", rep, want, r)
	for _, d := range rep.Differences {
		if !strings.Contains(d.Note, "on_delete: ignore") {
			t.Fatalf("an extra under on_delete: ignore without its note: %+v", d)
		}
	}
	if tr := rep.Tables[0]; tr.ExtrasAreDifferences || !tr.Equal || tr.Differences["extra"] != int64(len(want)) {
		t.Fatalf("table report: %+v", tr)
	}
	if !strings.Contains(h.verify(wire.VerifyArgs{}).stdout, "(kept)") {
		t.Fatal("the terminal table does not say the extras are kept")
	}
	code, rep, r = h.verifyJSON(wire.VerifyArgs{Repair: true})
	if code != 0 {
		t.Fatalf("--repair: exit %d\n%s", code, r.stdout)
	}
	if len(h.iot.Points(dev("d1")+".hum")) != countNonNull(h.nonNull("d1"), "hum")+1 {
		t.Fatal("--repair deleted a point under on_delete: ignore")
	}
}

// nonNullAt lists the measurements a device's row at t has (in IoTDB
// terms), read before the row was deleted from the source: the table's
// generator decides NULLs by k and device alone, so they are recomputed
// here from the same rule.
func (h *harness) nonNullAt(device string, t int64) []string {
	d := int(device[1] - '1')
	k := int((t - base - int64(d*7)) / stepMs)
	var out []string
	if (k+d)%7 != 3 {
		out = append(out, "temp")
	}
	if k%5 != 4 {
		out = append(out, "hum")
	}
	if k%6 != 5 {
		out = append(out, "note")
	}
	return append(out, "ok")
}

// A series IoTDB holds with another type than the mapping writes is one
// difference of kind type (its points are not compared value by value,
// the rest is); the repair cannot write it and says so.
func TestIntegrationVerifyTypeDifference(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	h.writeConfig("tree", "", treeMapping)
	h.backfill()
	must(t, h.iot.RetypeSeries(dev("d2")+".note", iotdbtest.INT64))
	code, rep, r := h.verifyJSON(wire.VerifyArgs{})
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, r.stdout, tailLines(r.stderr, 20))
	}
	sameDiffs(t, "type", rep, []diffKey{{dev("d2"), 0, "note", "type"}}, r)
	d := rep.Differences[0]
	if d.Source != "STRING" || d.IoTDB != "INT64" || !strings.Contains(d.Note, fmt.Sprintf("%d source points", countNonNull(h.nonNull("d2"), "note"))) {
		t.Fatalf("type difference: %+v", d)
	}
	code, rep, r = h.verifyJSON(wire.VerifyArgs{Repair: true})
	if code != 1 || rep.Repair == nil || len(rep.Repair.Unrepairable) != 1 || !strings.Contains(rep.Repair.Unrepairable[0], dev("d2")+".note") {
		t.Fatalf("--repair over a type difference: exit %d, want 1 with the refusal reported\n%s", code, r.stdout)
	}
	sameDiffs(t, "after the repair", rep.Repair.After, []diffKey{{dev("d2"), 0, "note", "type"}}, r)
}

// Wrong flags and a wrong configuration exit 2 before anything connects.
func TestIntegrationVerifyUsageErrors(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	h.writeConfig("tree", "", treeMapping)
	for _, c := range []struct {
		args wire.VerifyArgs
		msg  string
	}{
		{wire.VerifyArgs{Bucket: "1x"}, "--bucket"},
		{wire.VerifyArgs{Bucket: "0d"}, "--bucket"},
		{wire.VerifyArgs{Until: "yesterday"}, "--until"},
		{wire.VerifyArgs{Tables: "nope"}, "--tables"},
		{wire.VerifyArgs{Config: h.dir + "/missing.yaml"}, "missing.yaml"},
		{wire.VerifyArgs{LogLevel: "loud"}, "--log-level"},
	} {
		r := h.verify(c.args)
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%+v: exit %d, want 2 with %q on stderr:\n%s", c.args, r.code, c.msg, r.stderr)
		}
	}
	if n := h.iot.Stats().Connections; n != 0 {
		t.Fatalf("IoTDB saw %d connections from runs with wrong flags", n)
	}
}

// --until bounds the window: damage at or after it is not compared, and
// the report says which window was.
func TestIntegrationVerifyUntil(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	h.writeConfig("tree", "", treeMapping)
	h.backfill()
	until := rowTime(0, 18) // day two, 12:00 (+0 ms): d1's k=18 is not before it
	h.iot.DeletePoint(dev("d1")+".hum", rowTime(0, 18))
	h.iot.DeletePoint(dev("d3")+".hum", rowTime(2, 20))
	must(t, h.iot.SetPoint(dev("d2")+".temp", rowTime(1, 1), 5.0))
	untilArg := time.UnixMilli(until).UTC().Format(time.RFC3339Nano)
	code, rep, r := h.verifyJSON(wire.VerifyArgs{Until: untilArg})
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, r.stdout)
	}
	sameDiffs(t, "until", rep, []diffKey{{dev("d2"), rowTime(1, 1), "temp", "value"}}, r)
	w := rep.Window
	if !w.Bounded || w.Until == nil || *w.Until != until || w.From == nil || *w.From != base || w.UntilTime != untilArg {
		t.Fatalf("window: %+v", w)
	}
	// the points before until are all compared: rows before day two 12:00
	var wantSrc int64
	for _, dn := range []string{"d1", "d2", "d3"} {
		for _, c := range h.nonNull(dn) {
			if c[0].(int64) < until {
				wantSrc++
			}
		}
	}
	if got := rep.Tables[0].SourcePoints; got != wantSrc {
		t.Fatalf("source points compared: %d, want %d", got, wantSrc)
	}
	if !strings.Contains(h.verify(wire.VerifyArgs{Until: untilArg}).stdout, "points before --until") {
		t.Fatal("the terminal report does not say the window is bounded")
	}
}

// Beyond --max-drill-points the differing buckets are reported by their
// figures, not point by point; --repair still rewrites them.
func TestIntegrationVerifyDrillBudget(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	h.writeConfig("tree", "", treeMapping)
	h.backfill()
	h.iot.DropDevice(dev("d1"))
	h.iot.DropDevice(dev("d2"))
	code, rep, r := h.verifyJSON(wire.VerifyArgs{MaxDrillPoints: 1})
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, r.stdout)
	}
	tr := rep.Tables[0]
	if tr.DifferingBuckets != 4 || tr.UndrilledBuckets != 3 || tr.Equal {
		t.Fatalf("drilled one bucket of four: %+v", tr)
	}
	for _, d := range rep.Differences {
		if d.Device != dev("d1") || d.Time >= base+86400000 {
			t.Fatalf("a difference outside the one drilled bucket (d1, day one): %+v", d)
		}
	}
	code, rep, r = h.verifyJSON(wire.VerifyArgs{MaxDrillPoints: 1, Repair: true})
	if code != 0 || !rep.Repair.After.Equal {
		t.Fatalf("--repair with undrilled buckets: exit %d\n%s", code, r.stdout)
	}
}

// Two source rows mapping to one point (a collision) leave one of them in
// IoTDB: equal, with a note; a NULL device column makes a dirty row, which
// is expected absent.
func TestIntegrationVerifyCollisionsAndDirtyRows(t *testing.T) {
	h := newHarness(t)
	h.exec(`CREATE TABLE readings (id INT PRIMARY KEY, site VARCHAR(16) NULL, device_id VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL, temp DOUBLE NULL, hum FLOAT NULL, note VARCHAR(32) NULL, ok TINYINT(1) NULL)`,
		`INSERT INTO readings VALUES
  (1,'s1','d1','2024-01-01 00:00:00.000',1.5,2.5,'a',1),
  (2,'s1','d1','2024-01-01 00:00:00.000',9.5,NULL,'b',0),
  (3,'s1','d1','2024-01-01 00:00:01.000',3.5,4.5,'c',1),
  (4,NULL,'d1','2024-01-01 00:00:02.000',5.5,6.5,'d',1)`)
	h.writeConfig("tree", "", treeMapping)
	h.backfill()
	for _, exact := range []bool{false, true} {
		code, rep, r := h.verifyJSON(wire.VerifyArgs{Exact: exact})
		if code != 0 || !rep.Equal {
			t.Fatalf("exact=%v: exit %d\n%s", exact, code, r.stdout)
		}
		notes := strings.Join(rep.Notes, "\n")
		if !strings.Contains(notes, "1 source rows are dirty") || !strings.Contains(notes, "(collisions)") {
			t.Fatalf("notes do not mention the dirty row and the collision:\n%s", notes)
		}
		if tr := rep.Tables[0]; tr.RowsRead != 4 || tr.DirtyRows != 1 {
			t.Fatalf("%+v", tr)
		}
	}
	// IoTDB's value of the collided point changed to neither row's: a difference
	must(t, h.iot.SetPoint(dev("d1")+".temp", 1704067200000, 7.0))
	code, rep, r := h.verifyJSON(wire.VerifyArgs{})
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, r.stdout)
	}
	sameDiffs(t, "collision", rep, []diffKey{{dev("d1"), 1704067200000, "temp", "value"}}, r)
	if s := rep.Differences[0].Source; !strings.Contains(s, "one of 1.5 | 9.5") {
		t.Fatalf("the colliding values are not shown: %q", s)
	}
}

// At microsecond precision buckets and --until are in microseconds: a
// clean copy is equal, a lost point is found at its time.
func TestIntegrationVerifyMicroseconds(t *testing.T) {
	h := &harness{t: t, my: testenv.StartMariaDB(t)}
	h.root, h.iot, h.dir = h.my.DB(t), iotdbtest.Start(t, iotdbtest.Options{Precision: "us"}), t.TempDir()
	h.createReadings()
	h.writeConfig("tree", "", treeMapping)
	h.backfill()
	code, rep, r := h.verifyJSON(wire.VerifyArgs{Bucket: "6h", Until: "2024-01-02T00:00:00Z"})
	if code != 0 || rep.Window.Precision != "us" || rep.Window.Bucket != "6h" || *rep.Window.Until != 1704153600000000 {
		t.Fatalf("exit %d, window %+v\n%s", code, rep.Window, r.stdout)
	}
	tus := rowTime(0, 4) * 1000
	if !h.iot.DeletePoint(dev("d1")+".temp", tus) {
		t.Fatal("no point at", tus)
	}
	code, rep, r = h.verifyJSON(wire.VerifyArgs{Bucket: "6h"})
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, r.stdout)
	}
	sameDiffs(t, "us", rep, []diffKey{{dev("d1"), tus, "temp", "missing"}}, r)
}

// Against an IoTDB that holds nothing every source point is missing; the
// repair copies the table (a backfill of the differing buckets) and the
// second comparison is equal.
func TestIntegrationVerifyEmptyIoTDB(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	h.writeConfig("tree", "", treeMapping)
	var cells int64
	if err := h.root.QueryRow("SELECT SUM((temp IS NOT NULL) + (hum IS NOT NULL) + (note IS NOT NULL) + (ok IS NOT NULL)) FROM readings").Scan(&cells); err != nil {
		t.Fatal(err)
	}
	code, rep, r := h.verifyJSON(wire.VerifyArgs{})
	tr := rep.Tables[0]
	if code != 1 || tr.Differences["missing"] != cells || tr.IoTDBPoints != 0 || tr.DifferingBuckets != devices*2 || rep.DifferencesTotal != cells {
		t.Fatalf("exit %d, want 1 with %d missing\n%s", code, cells, r.stdout)
	}
	code, rep, r = h.verifyJSON(wire.VerifyArgs{Repair: true})
	if code != 0 || rep.Repair.Written != devices*perDev {
		t.Fatalf("--repair: exit %d\n%s", code, r.stdout)
	}
	if got := h.iot.TotalPoints(); got != cells {
		t.Fatalf("IoTDB holds %d points after the repair, want %d", got, cells)
	}
}

// The coarse pass pushed down to MySQL: devices that differ only in case
// stay apart (a case-insensitive GROUP BY would merge them, and the
// drill-down would have to settle their buckets), a dirty row makes its
// bucket's figures differ and the drill-down settles it as equal, and a
// table whose time zone SQL cannot follow is read row by row instead.
func TestIntegrationVerifyPushdown(t *testing.T) {
	h := newHarness(t)
	h.exec(`CREATE TABLE readings (id INT PRIMARY KEY, site VARCHAR(16) NOT NULL, device_id VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL, temp DOUBLE NULL, hum FLOAT NULL, note VARCHAR(32) NULL, ok TINYINT(1) NULL)`,
		`INSERT INTO readings VALUES
  (1,'s1','d1','2024-01-01 00:00:00.000',1.5,2.5,'a',1),
  (2,'s1','D1','2024-01-01 00:00:00.000',9.5,NULL,'b',0),
  (3,'s1','d1','2024-01-02 00:00:01.000',3.5,4.5,'c',1),
  (4,'s1','D1','2024-01-03 00:00:02.000',5.5,6.5,'d',1),
  (5,'s1','d2','2024-01-03 00:00:03.000',7.5,8.5,'e',2),
  (6,'s1','d2','2024-01-04 00:00:03.000',7.5,8.5,'e',3)`,
		`CREATE TABLE local_readings (id INT PRIMARY KEY, device_id VARCHAR(16) NOT NULL, created_at DATETIME(3) NOT NULL, temp DOUBLE NULL)`,
		`INSERT INTO local_readings VALUES (1,'d1','2024-03-31 01:30:00',1.5), (2,'d1','2024-03-31 03:30:00',2.5)`,
		// an epoch in seconds that overflows BIGINT at ms: MySQL refuses
		// the aggregate (the mapping makes the row dirty)
		`CREATE TABLE epochs (id INT PRIMARY KEY, device_id VARCHAR(16) NOT NULL, e BIGINT NOT NULL, temp DOUBLE NULL)`,
		`INSERT INTO epochs VALUES (1,'d1',1704067200,1.5), (2,'d1',100000000000000000,2.5)`)
	h.writeConfig("tree", "", treeMapping+`    - table: local_readings
      device: "root.vl.${device_id}"
      time: {column: created_at, zone: Europe/Berlin}
      measurements:
        - {column: temp}
    - table: epochs
      device: "root.ve.${device_id}"
      time: {column: e, unit: s}
      measurements:
        - {column: temp}
`)
	h.backfill()
	code, rep, r := h.verifyJSON(wire.VerifyArgs{LogLevel: "info"})
	if code != 0 || !rep.Equal {
		t.Fatalf("clean copy: exit %d\n%s\n%s", code, r.stdout, tailLines(r.stderr, 20))
	}
	// the MySQL pass reports its progress like a backfill (every row, every
	// key range), and reads the key ranges a backfill reads: the table's
	// partition: {count: 3}
	progress, ranges := false, -1
	for _, line := range strings.Split(r.stderr, "\n") {
		var ev struct {
			Phase, Message, Table string
			Rows                  int64
			KeyRanges             int `json:"key_ranges"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		if ev.Phase == "mysql" && strings.HasSuffix(ev.Message, "finished") && ev.Rows == 6 {
			progress = true
		}
		if ev.Table == "readings" && ev.Message == "coarse pass pushed down to MySQL" {
			ranges = ev.KeyRanges
		}
	}
	if !progress {
		t.Fatalf("no progress line of the MySQL pass with its 6 rows:\n%s", tailLines(r.stderr, 30))
	}
	if ranges != 3 {
		t.Fatalf("the MySQL pass read readings in %d key ranges, want the 3 of its partition setting:\n%s", ranges, tailLines(r.stderr, 30))
	}
	byName := map[string]verify.TableReport{}
	for _, tr := range rep.Tables {
		byName[tr.Table] = tr
	}
	rd, lr := byName["readings"], byName["local_readings"]
	if rd.Source != "mysql" || rd.RowsRead != 6 || rd.Devices != 3 || rd.SettledBuckets != 2 || rd.DirtyRows != 2 {
		t.Fatalf("readings: want MySQL's figures, 6 rows, 3 devices, 2 settled buckets and 2 dirty rows (d2's): %+v", rd)
	}
	if lr.Source != "rows" || lr.RowsRead != 2 || lr.SourcePoints != 2 {
		t.Fatalf("local_readings (Europe/Berlin): want the rows read through the mapping: %+v", lr)
	}
	if ep := byName["epochs"]; ep.Source != "rows" || ep.RowsRead != 2 || ep.DirtyRows != 1 || ep.SourcePoints != 1 || ep.IoTDBPoints != 1 {
		t.Fatalf("epochs (MySQL refuses the aggregate): want the rows read through the mapping: %+v", ep)
	}
	if notes := strings.Join(rep.Notes, "\n"); !strings.Contains(notes, "epochs: the source rows were read through the mapping, not aggregated by MySQL: MySQL refused the aggregate query") {
		t.Fatalf("the notes do not say why epochs was read row by row:\n%s", notes)
	}
	if notes := strings.Join(rep.Notes, "\n"); !strings.Contains(notes, "local_readings: the source rows were read through the mapping") || !strings.Contains(notes, "Europe/Berlin") {
		t.Fatalf("the notes do not say why local_readings was read row by row:\n%s", notes)
	}
	// With a drill-down too small for both of those buckets, the table is
	// read row by row instead, and is equal.
	code, rep, r = h.verifyJSON(wire.VerifyArgs{Tables: "readings", MaxDrillPoints: 1})
	if code != 0 || !rep.Equal || rep.Tables[0].Source != "rows" || rep.Tables[0].UndrilledBuckets != 0 || rep.Tables[0].DirtyRows != 2 {
		t.Fatalf("a drill-down budget of 1 point: exit %d, want the rows read and equal\n%s", code, r.stdout)
	}
	if notes := strings.Join(rep.Notes, "\n"); !strings.Contains(notes, "more buckets than the drill-down holds") {
		t.Fatalf("the notes do not say why readings was read row by row:\n%s", notes)
	}
	// A difference in the case-twin is found in its own device.
	must(t, h.iot.SetPoint(dev("D1")+".temp", 1704240002000, 0.5))
	code, rep, r = h.verifyJSON(wire.VerifyArgs{Tables: "readings"})
	if code != 1 {
		t.Fatalf("after damage: exit %d\n%s", code, r.stdout)
	}
	sameDiffs(t, "case twin", rep, []diffKey{{dev("D1"), 1704240002000, "temp", "value"}}, r)
}

// A table's where filter bounds MySQL's aggregates as it bounds backfill:
// the rows it leaves out are neither copied nor expected.
func TestIntegrationVerifyPushdownWhere(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	cfg := h.writeConfig("tree", "", treeMapping)
	b, err := os.ReadFile(cfg)
	must(t, err)
	y := strings.Replace(string(b), "      partition: {count: 3}\n", "      partition: {count: 3}\n      where: \"device_id <> 'd2' AND id % 5 <> 0\"\n", 1)
	must(t, os.WriteFile(cfg, []byte(y), 0o600))
	h.backfill()
	for _, a := range []wire.VerifyArgs{{}, {NoPushdown: true}} {
		code, rep, r := h.verifyJSON(a)
		if code != 0 || !rep.Equal {
			t.Fatalf("%+v: exit %d\n%s", a, code, r.stdout)
		}
		want := int64(perDev*2 - perDev*2/5)
		if tr := rep.Tables[0]; tr.RowsRead != want || tr.Devices != 2 {
			t.Fatalf("%+v: %d rows read, %d devices; want %d rows of d1 and d3", a, tr.RowsRead, tr.Devices, want)
		}
	}
}
