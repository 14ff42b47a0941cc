package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// The readings table: three devices, a row every two hours for two days
// (twelve rows per device and daily bucket), each device at its own
// millisecond offset, some NULLs.
const (
	base    = int64(1704067200000) // 2024-01-01T00:00:00Z
	stepMs  = 2 * 3600 * 1000
	perDev  = 24
	devices = 3
)

func devName(d int) string { return fmt.Sprintf("d%d", d+1) }

func rowTime(d, k int) int64 { return base + int64(k)*stepMs + int64(d*7) }

func (h *harness) createReadings() {
	h.t.Helper()
	h.exec(`CREATE TABLE readings (
  id INT PRIMARY KEY,
  site VARCHAR(16) NOT NULL,
  device_id VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  temp DOUBLE NULL,
  hum FLOAT NULL,
  note VARCHAR(32) NULL,
  ok TINYINT(1) NULL)`)
	var vals []string
	id := 0
	for d := range devices {
		for k := range perDev {
			id++
			ts := time.UnixMilli(rowTime(d, k)).UTC().Format("2006-01-02 15:04:05.000")
			temp := fmt.Sprintf("%d.25", 10+k+d)
			if (k+d)%7 == 3 {
				temp = "NULL"
			}
			hum := fmt.Sprintf("%d.5", 40+k)
			if k%5 == 4 {
				hum = "NULL"
			}
			note := fmt.Sprintf("'n%d-%d'", d, k)
			if k%6 == 5 {
				note = "NULL"
			}
			ok := fmt.Sprint((k + d) % 2)
			vals = append(vals, fmt.Sprintf("(%d,'s1','%s','%s',%s,%s,%s,%s)", id, devName(d), ts, temp, hum, note, ok))
		}
	}
	h.exec("INSERT INTO readings VALUES " + strings.Join(vals, ","))
}

// nonNull lists the (time, measurement) of every non-NULL cell of one
// device, read from the source by SQL.
func (h *harness) nonNull(device string) [][2]any {
	h.t.Helper()
	rows, err := h.root.Query("SELECT CAST(ROUND(UNIX_TIMESTAMP(created_at)*1000) AS SIGNED), temp IS NOT NULL, hum IS NOT NULL, note IS NOT NULL, ok IS NOT NULL FROM readings WHERE device_id = ? ORDER BY created_at", device)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out [][2]any
	for rows.Next() {
		var t int64
		var a, b, c, d bool
		if err := rows.Scan(&t, &a, &b, &c, &d); err != nil {
			h.t.Fatal(err)
		}
		for i, ok := range []bool{a, b, c, d} {
			if ok {
				out = append(out, [2]any{t, []string{"temp", "hum", "note", "ok"}[i]})
			}
		}
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

const treeMapping = `    - table: readings
      device: "root.vf.${site}.${device_id}"
      time: {column: created_at}
      on_delete: delete
      measurements:
        - {column: temp}
        - {column: hum}
        - {column: note}
        - {column: ok}
`

func dev(d string) string { return "root.vf.s1." + d }

// After a clean backfill verify is equal; after damage done to the store
// directly it finds exactly that damage (coarse mode all but a point moved
// inside its bucket, which the README documents as exact mode's); --repair
// fixes it and a second verify is equal.
func TestIntegrationVerifyTreeDamage(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	h.writeConfig("tree", "", treeMapping)
	h.backfill()

	for _, exact := range []bool{false, true} {
		code, rep, r := h.verifyJSON(wire.VerifyArgs{Exact: exact})
		if code != 0 || !rep.Equal || len(rep.Differences) != 0 {
			t.Fatalf("clean backfill, exact=%v: exit %d, report:\n%s\n%s", exact, code, r.stdout, tailLines(r.stderr, 20))
		}
		tr := rep.Tables[0]
		if tr.RowsRead != devices*perDev || tr.Devices != devices || tr.Buckets != devices*2 || tr.SourcePoints != tr.IoTDBPoints || tr.SourcePoints == 0 {
			t.Fatalf("clean backfill figures: %+v", tr)
		}
	}

	// The damage.
	var want []diffKey
	// 1. a point deleted
	if !h.iot.DeletePoint(dev("d1")+".temp", rowTime(0, 5)) {
		t.Fatal("no point to delete")
	}
	want = append(want, diffKey{dev("d1"), rowTime(0, 5), "temp", "missing"})
	// 2. a value changed
	must(t, h.iot.SetPoint(dev("d2")+".temp", rowTime(1, 7), 99.5))
	want = append(want, diffKey{dev("d2"), rowTime(1, 7), "temp", "value"})
	// 3. an extra point on an existing device
	must(t, h.iot.SetPoint(dev("d1")+".hum", rowTime(0, 3)+1, float32(1.5)))
	want = append(want, diffKey{dev("d1"), rowTime(0, 3) + 1, "hum", "extra"})
	// 4. an extra point on a new device
	must(t, h.iot.AddPoint(dev("d9"), "temp", iotdbtest.DOUBLE, true, rowTime(0, 20), 1.0))
	want = append(want, diffKey{dev("d9"), rowTime(0, 20), "temp", "extra"})
	// 5. a whole device dropped
	if !h.iot.DropDevice(dev("d3")) {
		t.Fatal("no device d3")
	}
	for _, c := range h.nonNull("d3") {
		want = append(want, diffKey{dev("d3"), c[0].(int64), c[1].(string), "missing"})
	}
	// 6. one timestamp moved by 1 ms, inside its bucket (k=15: day two,
	// neither its first nor its last point, in a bucket nothing else
	// damaged)
	must(t, h.iot.MovePoint(dev("d2")+".hum", rowTime(1, 15), rowTime(1, 15)+1))
	moved := []diffKey{{dev("d2"), rowTime(1, 15), "hum", "missing"}, {dev("d2"), rowTime(1, 15) + 1, "hum", "extra"}}

	code, rep, r := h.verifyJSON(wire.VerifyArgs{})
	if code != 1 || rep.Equal {
		t.Fatalf("coarse verify after damage: exit %d, want 1\n%s", code, r.stdout)
	}
	sameDiffs(t, "coarse", rep, want, r)

	code, rep, r = h.verifyJSON(wire.VerifyArgs{Exact: true})
	if code != 1 {
		t.Fatalf("exact verify after damage: exit %d, want 1\n%s", code, r.stdout)
	}
	sameDiffs(t, "exact", rep, append(append([]diffKey(nil), want...), moved...), r)

	// Repair (exact, so that the moved point is repaired too), then verify.
	code, rep, r = h.verifyJSON(wire.VerifyArgs{Exact: true, Repair: true})
	if code != 0 || rep.Repair == nil || rep.Repair.After == nil || !rep.Repair.After.Equal || len(rep.Repair.After.Differences) != 0 {
		t.Fatalf("verify --repair: exit %d, want 0 and an equal report after the repair\n%s\n%s", code, r.stdout, tailLines(r.stderr, 30))
	}
	if rep.Repair.Deleted != 3 {
		t.Fatalf("repair deleted %d extras, want 3 (d1 hum, d9 temp, the moved point's new time)", rep.Repair.Deleted)
	}
	for _, exact := range []bool{false, true} {
		code, rep, r = h.verifyJSON(wire.VerifyArgs{Exact: exact})
		if code != 0 || !rep.Equal {
			t.Fatalf("verify after the repair (exact=%v): exit %d\n%s", exact, code, r.stdout)
		}
	}
	// and the store says the same, directly
	if p := h.iot.Points(dev("d9") + ".temp"); len(p) != 0 {
		t.Fatalf("the extra device's point is still there: %v", p)
	}
	if got, want := len(h.iot.Points(dev("d3")+".note")), countNonNull(h.nonNull("d3"), "note"); got != want {
		t.Fatalf("d3 note after repair: %d points, want %d", got, want)
	}
}

func countNonNull(cells [][2]any, m string) int {
	n := 0
	for _, c := range cells {
		if c[1] == m {
			n++
		}
	}
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const tableMapping = `    - table: readings
      device: readings
      tags: [site, device_id]
      time: {column: created_at}
      on_delete: delete
      measurements:
        - {column: temp}
        - {column: hum}
        - {column: note}
        - {column: ok}
`

func tdev(d string) string { return "readings[site=s1,device_id=" + d + "]" }

// cellsAt lists the measurements of one device's row at time t that are
// not NULL in the source.
func cellsAt(cells [][2]any, t int64) []string {
	var out []string
	for _, c := range cells {
		if c[0].(int64) == t {
			out = append(out, c[1].(string))
		}
	}
	return out
}

// The same damage in the table model, where a row is the unit (deletes,
// moves): coarse mode sees every one of them, the moved row too (the sum
// of row times per bucket).
func TestIntegrationVerifyTableDamage(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	h.writeConfig("table", "vfdb", tableMapping)
	h.backfill()
	for _, exact := range []bool{false, true} {
		code, rep, r := h.verifyJSON(wire.VerifyArgs{Exact: exact})
		if code != 0 || !rep.Equal {
			t.Fatalf("clean backfill, exact=%v: exit %d\n%s\n%s", exact, code, r.stdout, tailLines(r.stderr, 20))
		}
		if tr := rep.Tables[0]; tr.Devices != devices || tr.Buckets != devices*2 || tr.SourcePoints != tr.IoTDBPoints || tr.SourcePoints == 0 {
			t.Fatalf("clean backfill figures: %+v", tr)
		}
	}
	tags := func(d string) []string { return []string{"s1", d} }
	d1, d2, d3 := h.nonNull("d1"), h.nonNull("d2"), h.nonNull("d3")
	var want []diffKey
	// 1. a row deleted
	if !h.iot.DeleteRow("vfdb", "readings", tags("d1"), rowTime(0, 5)) {
		t.Fatal("no row to delete")
	}
	for _, m := range cellsAt(d1, rowTime(0, 5)) {
		want = append(want, diffKey{tdev("d1"), rowTime(0, 5), m, "missing"})
	}
	// 2. a value changed
	must(t, h.iot.SetRowValue("vfdb", "readings", tags("d2"), rowTime(1, 7), "temp", 99.5))
	want = append(want, diffKey{tdev("d2"), rowTime(1, 7), "temp", "value"})
	// 3. an extra point on an existing device
	must(t, h.iot.SetRowValue("vfdb", "readings", tags("d1"), rowTime(0, 3)+1, "hum", float32(1.5)))
	want = append(want, diffKey{tdev("d1"), rowTime(0, 3) + 1, "hum", "extra"})
	// 4. an extra point on a new device
	must(t, h.iot.SetRowValue("vfdb", "readings", tags("d9"), rowTime(0, 20), "temp", 1.0))
	want = append(want, diffKey{tdev("d9"), rowTime(0, 20), "temp", "extra"})
	// 5. a whole device dropped
	if !h.iot.DropRowDevice("vfdb", "readings", tags("d3")) {
		t.Fatal("no device d3")
	}
	for _, c := range d3 {
		want = append(want, diffKey{tdev("d3"), c[0].(int64), c[1].(string), "missing"})
	}
	// 6. one row moved by 1 ms inside its bucket
	must(t, h.iot.MoveRow("vfdb", "readings", tags("d2"), rowTime(1, 15), rowTime(1, 15)+1))
	for _, m := range cellsAt(d2, rowTime(1, 15)) {
		want = append(want, diffKey{tdev("d2"), rowTime(1, 15), m, "missing"}, diffKey{tdev("d2"), rowTime(1, 15) + 1, m, "extra"})
	}
	// What the tree model's aggregates cannot see, the table model's can
	// (docs/verify.md §2): 7. a text value changed inside its bucket,
	must(t, h.iot.SetRowValue("vfdb", "readings", tags("d1"), rowTime(0, 8), "note", "changed"))
	want = append(want, diffKey{tdev("d1"), rowTime(0, 8), "note", "value"})
	// 8. a boolean flipped,
	must(t, h.iot.SetRowValue("vfdb", "readings", tags("d2"), rowTime(1, 2), "ok", false)) // (2+1)%2 = 1: true in the source
	want = append(want, diffKey{tdev("d2"), rowTime(1, 2), "ok", "value"})
	// 9. two values swapped between times.
	// 7, 8 and 9 each lie in a 12-hour bucket nothing else damaged, so
	// that the coarse figures alone must see them.
	must(t, h.iot.SetRowValue("vfdb", "readings", tags("d1"), rowTime(0, 13), "temp", 24.25))
	must(t, h.iot.SetRowValue("vfdb", "readings", tags("d1"), rowTime(0, 14), "temp", 23.25))
	want = append(want, diffKey{tdev("d1"), rowTime(0, 13), "temp", "value"}, diffKey{tdev("d1"), rowTime(0, 14), "temp", "value"})

	for _, exact := range []bool{false, true} {
		code, rep, r := h.verifyJSON(wire.VerifyArgs{Exact: exact, Bucket: "12h"})
		if code != 1 || rep.Equal {
			t.Fatalf("verify after damage (exact=%v): exit %d, want 1\n%s", exact, code, r.stdout)
		}
		sameDiffs(t, fmt.Sprintf("exact=%v", exact), rep, want, r)
	}
	code, rep, r := h.verifyJSON(wire.VerifyArgs{Repair: true})
	if code != 0 || rep.Repair == nil || rep.Repair.After == nil || !rep.Repair.After.Equal {
		t.Fatalf("verify --repair: exit %d, want 0\n%s\n%s", code, r.stdout, tailLines(r.stderr, 30))
	}
	for _, exact := range []bool{false, true} {
		code, rep, r = h.verifyJSON(wire.VerifyArgs{Exact: exact})
		if code != 0 || !rep.Equal {
			t.Fatalf("verify after the repair (exact=%v): exit %d\n%s", exact, code, r.stdout)
		}
	}
	for _, row := range h.iot.TableRows("vfdb", "readings") {
		if row["device_id"] == "d9" {
			t.Fatalf("the extra device's row is still there: %v", row)
		}
	}
}

// A table-model row whose fields are all NULL is no data: backfill writes
// none, cdc writes one (tags only). Either way verify finds no difference.
func TestIntegrationVerifyTableValuelessRow(t *testing.T) {
	h := newHarness(t)
	h.createReadings()
	h.exec("INSERT INTO readings VALUES (1000, 's1', 'd1', '2024-01-01 05:00:00.000', NULL, NULL, NULL, NULL)")
	h.writeConfig("table", "vfdb", tableMapping)
	h.backfill()
	// what cdc would send for that row: the tags and NULL fields
	sess, err := client.NewTableSession(&client.Config{Host: h.iot.Host(), Port: strconv.Itoa(h.iot.Port()), UserName: "root", Password: "root", Database: "vfdb"}, false, 0)
	must(t, err)
	defer sess.Close()
	tab, err := client.NewRelationalTablet("readings", []*client.MeasurementSchema{
		{Measurement: "site", DataType: client.STRING}, {Measurement: "device_id", DataType: client.STRING}, {Measurement: "temp", DataType: client.DOUBLE}},
		[]client.ColumnCategory{client.TAG, client.TAG, client.FIELD}, 1)
	must(t, err)
	tab.SetTimestamp(base+5*3600*1000, 0)
	must(t, tab.SetValueAt("s1", 0, 0))
	must(t, tab.SetValueAt("d1", 1, 0))
	must(t, tab.SetValueAt(nil, 2, 0))
	tab.RowSize = 1
	must(t, sess.Insert(tab))
	found := false
	for _, row := range h.iot.TableRows("vfdb", "readings") {
		if row["device_id"] == "d1" && row["time"] == base+5*3600*1000 {
			found = true
		}
	}
	if !found {
		t.Fatal("the valueless row did not reach iotdbtest: the test tests nothing")
	}
	for _, exact := range []bool{false, true} {
		if code, rep, r := h.verifyJSON(wire.VerifyArgs{Exact: exact}); code != 0 || !rep.Equal {
			t.Fatalf("exact=%v: exit %d\n%s", exact, code, r.stdout)
		}
	}
}
