package iotdbsink

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Fleets (issue 10): many devices with few rows each, through iotdbtest
// over the wire.

func fleetSchema(template string) *mapping.Schema {
	sc := &mapping.Schema{
		SourceTable: "meters", Model: "tree", Database: "root.fleet", Aligned: true,
		Measurements: []string{"temp", "state", "note"},
		Types:        []client.TSDataType{client.DOUBLE, client.INT32, client.STRING},
	}
	if template != "" {
		sc.Template, sc.TemplatePath = template, "root.fleet"
	}
	return sc
}

// fleetPoints is one row for each of n devices at time t, every 7th row
// with a NULL and every 50th all NULL.
func fleetPoints(sc *mapping.Schema, n int, t int64) []mapping.Point {
	pts := make([]mapping.Point, n)
	for i := range pts {
		var note any = fmt.Sprintf("n%d", i)
		var state any = int32(i)
		if i%7 == 0 {
			note = nil
		}
		vals := []any{float64(i) + float64(t)/1000, state, note}
		if i%50 == 0 {
			vals = []any{nil, nil, nil}
		}
		pts[i] = pt(sc, fmt.Sprintf("root.fleet.s%d.`m-%d`", i%9, i), t, vals...)
	}
	return pts
}

// With a device template the sink puts the template in place once and
// writes any number of devices without a single schema call per device;
// every device activates the template; the points are exactly the rows.
func TestIntegrationTemplateFleet(t *testing.T) {
	skipShort(t)
	for _, autoCreate := range []bool{true, false} {
		t.Run(fmt.Sprintf("auto_create=%v", autoCreate), func(t *testing.T) {
			srv := iotdbtest.Start(t, iotdbtest.Options{DisableAutoCreate: !autoCreate})
			s := openSink(t, testConfig(srv))
			var ev recorder
			s.SetMetrics(&ev)
			sc := fleetSchema("meter")
			const n = 3000
			for round := int64(1); round <= 3; round++ {
				res := write(t, s, fleetPoints(sc, n, round*1000))
				if res.Points != n || len(res.Rejected) != 0 {
					t.Fatalf("round %d: %+v", round, res)
				}
			}
			if k := ev.count("rpc createTemplate true"); k != 1 {
				t.Errorf("template put in place %d times (%v)", k, ev.events())
			}
			if k := ev.count("rpc createSchema true"); k != 0 {
				t.Errorf("%d per-device schema calls with a template", k)
			}
			st := srv.Stats()
			if autoCreate && st.Statements > 10 {
				t.Errorf("%d statements for %d devices with auto-create on (want a constant few)", st.Statements, n)
			}
			devs := srv.Devices()
			want := n // explicit activation covers every device of the request
			if autoCreate {
				want = n - n/50 // activation on write: an all-NULL row writes nothing (records)
			}
			if len(devs) != want {
				t.Fatalf("%d devices, want %d", len(devs), want)
			}
			for i, p := range fleetPoints(sc, n, 1000) {
				want := ""
				for r := int64(1); r <= 3; r++ {
					if i%50 == 0 {
						break
					}
					want += fmt.Sprintf(" %d=%v", r*1000, float64(i)+float64(r))
				}
				got, _ := iotdbtest.NormalizePath(p.Device + ".temp")
				expectPoints(t, srv, got, strings.TrimSpace(want))
				if t.Failed() {
					t.FailNow()
				}
			}
			for _, si := range srv.Series() {
				if !si.Aligned || (strings.HasSuffix(si.Path, ".state") && si.Type != client.INT32) {
					t.Fatalf("series %+v", si)
				}
			}
		})
	}
}

// A template cannot go where series were created without it, nor can an
// existing template with other types serve the mapping: both are systemic
// rejections that say what to do, and nothing is written.
func TestIntegrationTemplateConflicts(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	s := openSink(t, testConfig(srv))
	plain := fleetSchema("")
	write(t, s, fleetPoints(plain, 3, 1)) // series under root.fleet, no template
	res := write(t, s, fleetPoints(fleetSchema("meter"), 10, 2))
	if len(res.Rejected) == 0 || !res.Rejected[0].Systemic || !strings.Contains(res.Rejected[0].Message, "setting device template meter on root.fleet") ||
		!strings.Contains(res.Rejected[0].Message, "since there's timeseries under path") {
		t.Fatalf("over existing series: %+v", res)
	}
	if err := res.Rejected[0].Err("meters"); !strings.Contains(err.Error(), "device_template") {
		t.Errorf("remedy: %v", err)
	}

	srv2 := iotdbtest.Start(t, iotdbtest.Options{})
	s2 := openSink(t, testConfig(srv2))
	other := fleetSchema("meter")
	other.Types = []client.TSDataType{client.FLOAT, client.INT32, client.STRING}
	write(t, s2, fleetPoints(other, 3, 1)) // the template meter with temp FLOAT
	before := len(srv2.Devices())
	sc := fleetSchema("meter")
	sc.TemplatePath = "root.fleet2"
	sc.Database = "root.fleet2"
	pts := fleetPoints(sc, 3, 2)
	for i := range pts {
		pts[i].Device = strings.Replace(pts[i].Device, "root.fleet.", "root.fleet2.", 1)
	}
	res = write(t, s2, pts)
	if len(res.Rejected) != 3 || !res.Rejected[0].Systemic || !strings.Contains(res.Rejected[0].Message, "has measurement temp as FLOAT but the mapping of table meters writes DOUBLE") {
		t.Fatalf("template with other types: %+v", res)
	}
	if n := len(srv2.Devices()); n != before {
		t.Errorf("%d devices: the refused rows were written", n)
	}
}

// Without a template, the devices a batch brings are created together:
// one executeBatchStatement per schemaBatchStatements statements, not a
// call per device; devices whose creation fails (they exist) are checked
// one by one, and a type conflict among them is rejected alone.
func TestIntegrationSchemaInBatches(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{DisableAutoCreate: true})
	s := openSink(t, testConfig(srv))
	var ev recorder
	s.SetMetrics(&ev)
	al, na := fleetSchema(""), fleetSchema("")
	na.Aligned = false
	na.Database = "root.plain"
	const n = 2500
	pts := fleetPoints(al, n, 1)
	for _, p := range fleetPoints(na, n, 1) {
		p.Device = strings.Replace(p.Device, "root.fleet.", "root.plain.", 1)
		pts = append(pts, p)
	}
	res := write(t, s, pts)
	if res.Points != 2*n || len(res.Rejected) != 0 {
		t.Fatalf("%+v", res)
	}
	// aligned: one statement per device; non-aligned: one per series
	want := (n+schemaBatchStatements-1)/schemaBatchStatements + (3*n+schemaBatchStatements-1)/schemaBatchStatements
	if k := ev.count("rpc createSchema true"); k > want+1 {
		t.Errorf("%d schema calls for %d devices, want about %d", k, 2*n, want)
	}
	if k := len(srv.Series()); k != 6*n {
		t.Fatalf("%d series", k)
	}
	for _, si := range srv.Series() {
		wantT := map[string]client.TSDataType{"temp": client.DOUBLE, "state": client.INT32, "note": client.STRING}[lastNode(si.Path)]
		if si.Type != wantT || si.Aligned != strings.HasPrefix(si.Path, "root.fleet.") {
			t.Fatalf("series %+v", si)
		}
	}

	// A second sink (the cache is cold) over existing devices, one of which
	// holds temp with another type: that one is rejected, the rest written.
	s2 := openSink(t, testConfig(srv))
	other := fleetSchema("")
	other.Measurements = []string{"temp"}
	other.Types = []client.TSDataType{client.DOUBLE}
	conflict := fleetSchema("")
	conflict.Measurements, conflict.Types = []string{"state"}, []client.TSDataType{client.INT64}
	var pts2 []mapping.Point
	for i, p := range fleetPoints(al, 200, 2) {
		if i == 77 {
			pts2 = append(pts2, pt(conflict, p.Device, 2, int64(1)))
			continue
		}
		pts2 = append(pts2, pt(other, p.Device, 2, float64(-i)))
	}
	res = write(t, s2, pts2)
	if res.Points != 199 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Message, "exists with type INT32 but the mapping of table meters writes INT64") {
		t.Fatalf("cold cache over existing devices: %+v", res)
	}
}

// The write call follows the batch's shape: many devices with one row each
// go as insertRecords, few devices with many rows as insertTablets, and
// each row gives exactly its points either way (NULLs left out of records,
// an all-NULL row writes nothing).
func TestIntegrationWriteCallByShape(t *testing.T) {
	skipShort(t)
	for _, aligned := range []bool{true, false} {
		t.Run(fmt.Sprintf("aligned=%v", aligned), func(t *testing.T) { writeCallByShape(t, aligned) })
	}
}

func writeCallByShape(t *testing.T, aligned bool) {
	sc := fleetSchema("")
	sc.Aligned = aligned
	wide := fleetPoints(sc, 1000, 5) // 1000 devices × 1 row
	var deep []mapping.Point         // the same rows regrouped: 10 devices × 100 rows
	for i, p := range wide {
		p.Device = fmt.Sprintf("root.fleet.deep.d%d", i%10)
		p.Time = int64(i)
		deep = append(deep, p)
	}
	for _, tc := range []struct {
		name    string
		pts     []mapping.Point
		records bool
	}{{"1000x1", wide, true}, {"10x100", deep, false}} {
		srv := iotdbtest.Start(t, iotdbtest.Options{})
		s := openSink(t, testConfig(srv))
		if res := write(t, s, tc.pts); res.Points != len(tc.pts) || len(res.Rejected) != 0 {
			t.Fatalf("%s: %+v", tc.name, res)
		}
		st := srv.Stats()
		if st.RejectedWrites != 0 {
			t.Errorf("%s: %d writes refused", tc.name, st.RejectedWrites)
		}
		if tc.records && (st.InsertRecordsCalls == 0 || st.InsertTabletsCalls != 0) ||
			!tc.records && (st.InsertTabletsCalls == 0 || st.InsertRecordsCalls != 0) {
			t.Errorf("%s: insertRecords %d, insertTablets %d", tc.name, st.InsertRecordsCalls, st.InsertTabletsCalls)
		}
		cells := 0
		for _, p := range tc.pts {
			for c, v := range p.Values {
				if v == nil {
					continue
				}
				cells++
				series, _ := iotdbtest.NormalizePath(p.Device + "." + sc.Measurements[c])
				found := false
				for _, got := range srv.Points(series) {
					if got.Time == p.Time {
						found = fmt.Sprint(got.Value) == fmt.Sprint(v)
					}
				}
				if !found {
					t.Fatalf("%s: %s at %d: want %v, have %v", tc.name, series, p.Time, v, srv.Points(series))
				}
			}
		}
		if n := srv.TotalPoints(); n != int64(cells) {
			t.Errorf("%s: %d points stored, %d non-NULL cells", tc.name, n, cells)
		}
	}
}

// Writes stay under the server's frame limit: a batch larger than
// iotdb.batch.max_bytes goes in several requests, none above the limit.
func TestIntegrationWritesStayUnderTheFrameLimit(t *testing.T) {
	skipShort(t)
	for _, table := range []bool{false, true} {
		t.Run(fmt.Sprintf("table=%v", table), func(t *testing.T) {
			srv := iotdbtest.Start(t, iotdbtest.Options{MaxFrameSize: 256 << 10})
			cfg := testConfig(srv)
			cfg.Batch.Rows = 100_000
			cfg.Batch.MaxBytes = 128 << 10
			sc := fleetSchema("")
			if table {
				cfg.Model, cfg.Database = "table", "fleet"
				sc = &mapping.Schema{SourceTable: "meters", Model: "table", Database: "fleet", TargetTable: "meters", Aligned: true,
					Measurements: []string{"id", "temp", "note"}, Types: []client.TSDataType{client.STRING, client.DOUBLE, client.STRING},
					Categories: []client.ColumnCategory{client.TAG, client.FIELD, client.FIELD}}
			}
			s := openSink(t, cfg)
			var pts []mapping.Point
			for i := 0; i < 3000; i++ {
				big := strings.Repeat("x", 500+i%300)
				if table {
					pts = append(pts, pt(sc, fmt.Sprintf("d%d", i%40), int64(i), fmt.Sprintf("d%d", i%40), float64(i), big))
				} else {
					pts = append(pts, pt(sc, fmt.Sprintf("root.fleet.d%d", i%40), int64(i), float64(i), int32(i), big))
				}
			}
			res := write(t, s, pts)
			if res.Points != len(pts) || len(res.Rejected) != 0 {
				t.Fatalf("%+v", res)
			}
			st := srv.Stats()
			if st.OversizedFrames != 0 || st.LargestFrame > 256<<10 {
				t.Errorf("frames: largest %d, oversized %d", st.LargestFrame, st.OversizedFrames)
			}
			if table {
				if rows := srv.TableRows("fleet", "meters"); len(rows) != len(pts) {
					t.Errorf("%d rows", len(rows))
				}
			} else if n := srv.TotalPoints(); n != int64(3*len(pts)) {
				t.Errorf("%d points", n)
			}
		})
	}
}
