package iotdbtest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"
)

var allTypes = []client.TSDataType{client.BOOLEAN, client.INT32, client.INT64, client.FLOAT, client.DOUBLE,
	client.TEXT, client.TIMESTAMP, client.DATE, client.BLOB, client.STRING}

// valueFor returns the Go value to put into a tablet and the value expected
// back from Points() for type dt at row r.
func valueFor(dt client.TSDataType, r int) (in any, want any) {
	switch dt {
	case client.BOOLEAN:
		return r%2 == 0, r%2 == 0
	case client.INT32:
		return int32(r * 3), int32(r * 3)
	case client.INT64:
		return int64(r) << 40, int64(r) << 40
	case client.FLOAT:
		return float32(r) + 0.5, float32(r) + 0.5
	case client.DOUBLE:
		return float64(r) * 1.25, float64(r) * 1.25
	case client.TEXT:
		return fmt.Sprintf("text-%d,\"q\"", r), fmt.Sprintf("text-%d,\"q\"", r)
	case client.TIMESTAMP:
		return int64(1700000000000 + r), int64(1700000000000 + r)
	case client.DATE:
		d := time.Date(2024, 3, 5+r%20, 0, 0, 0, 0, time.UTC)
		return d, int32(20240305 + r%20)
	case client.BLOB:
		return []byte{0, byte(r), 0xff}, []byte{0, byte(r), 0xff}
	case client.STRING:
		return "s" + strings.Repeat("é", r%3), "s" + strings.Repeat("é", r%3)
	}
	panic("type")
}

func measName(dt client.TSDataType) string { return "m_" + strings.ToLower(typeName(dt)) }

func buildTablet(t testing.TB, device string, rows int, nullRows map[int]bool) *client.Tablet {
	var ms []*client.MeasurementSchema
	for _, dt := range allTypes {
		ms = append(ms, &client.MeasurementSchema{Measurement: measName(dt), DataType: dt})
	}
	tab, err := client.NewTablet(device, ms, rows)
	must(t, err)
	for r := 0; r < rows; r++ {
		tab.SetTimestamp(int64(1000+r), r)
		for c, dt := range allTypes {
			var v any
			if !nullRows[r] {
				v, _ = valueFor(dt, r)
			}
			must(t, tab.SetValueAt(v, c, r))
		}
		tab.RowSize++
	}
	return tab
}

func TestAllTypesRoundTrip(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	nulls := map[int]bool{0: true, 7: true, 8: true, 15: true, 16: true}
	const rows = 20
	for _, aligned := range []bool{false, true} {
		for _, withNulls := range []bool{true, false} {
			dev := fmt.Sprintf("root.rt.d_%v_%v", aligned, withNulls)
			nr := map[int]bool{}
			if withNulls {
				nr = nulls
			}
			tab := buildTablet(t, dev, rows, nr)
			if aligned {
				must(t, s.InsertAlignedTablet(tab, true))
			} else {
				must(t, s.InsertTablet(tab, true))
			}
			for _, dt := range allTypes {
				path := dev + "." + measName(dt)
				pts := srv.Points(path)
				var want []Point
				for r := 0; r < rows; r++ {
					if nr[r] {
						continue
					}
					_, w := valueFor(dt, r)
					want = append(want, Point{Time: int64(1000 + r), Value: w})
				}
				if !reflect.DeepEqual(pts, want) {
					t.Fatalf("%s: Points mismatch\n got %v\nwant %v", path, pts, want)
				}
				if typ, _ := srv.SeriesType(path); typ != dt {
					t.Fatalf("%s: type %v want %v", path, typ, dt)
				}
			}
			if al, ok := srv.DeviceAligned(dev); !ok || al != aligned {
				t.Fatalf("%s aligned=%v ok=%v", dev, al, ok)
			}
			// and back through SELECT * (TsBlock with MSB-first null flags)
			names, got := query(t, s, "SELECT * FROM "+dev)
			if len(names) != len(allTypes)+1 || names[0] != "Time" {
				t.Fatalf("columns %v", names)
			}
			idx := map[string]int{}
			for i, n := range names {
				idx[n] = i
			}
			wantRows := rows - len(nr)
			if len(got) != wantRows {
				t.Fatalf("%s: %d rows, want %d", dev, len(got), wantRows)
			}
			k := 0
			for r := 0; r < rows; r++ {
				if nr[r] {
					continue
				}
				row := got[k]
				k++
				if row[0] != int64(1000+r) {
					t.Fatalf("row time %v want %d", row[0], 1000+r)
				}
				for _, dt := range allTypes {
					_, w := valueFor(dt, r)
					g := row[idx[dev+"."+measName(dt)]]
					if !reflect.DeepEqual(g, w) {
						t.Fatalf("%s row %d %v: got %#v want %#v", dev, r, dt, g, w)
					}
				}
			}
		}
	}
	// a tablet where only some columns are NULL in a row: the row exists, the NULL cell reads NULL
	tab, _ := client.NewTablet("root.rt.partial", []*client.MeasurementSchema{{Measurement: "a", DataType: client.INT32}, {Measurement: "b", DataType: client.TEXT}}, 3)
	for r := 0; r < 3; r++ {
		tab.SetTimestamp(int64(r), r)
		must(t, tab.SetValueAt(int32(r), 0, r))
		var v any = "x"
		if r == 1 {
			v = nil
		}
		must(t, tab.SetValueAt(v, 1, r))
		tab.RowSize++
	}
	must(t, s.InsertAlignedTablet(tab, true))
	_, got := query(t, s, "select a, b from root.rt.partial")
	want := [][]any{{int64(0), int32(0), "x"}, {int64(1), int32(1), nil}, {int64(2), int32(2), "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestUnsortedTablets(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	mk := func(dev string) *client.Tablet {
		tab, _ := client.NewTablet(dev, []*client.MeasurementSchema{{Measurement: "v", DataType: client.INT64}}, 3)
		for r, ts := range []int64{30, 10, 20} {
			tab.SetTimestamp(ts, r)
			must(t, tab.SetValueAt(ts*10, 0, r))
			tab.RowSize++
		}
		return tab
	}
	// sorted=false: the client sorts (docs/iotdb.md §2.5)
	must(t, s.InsertTablet(mk("root.us.a"), false))
	// unsorted but declared sorted=true: the double stores every row at its own
	// timestamp (as if sorted); a real server may mis-handle such tablets.
	must(t, s.InsertTablet(mk("root.us.b"), true))
	want := []Point{{10, int64(100)}, {20, int64(200)}, {30, int64(300)}}
	for _, dev := range []string{"root.us.a", "root.us.b"} {
		if got := srv.Points(dev + ".v"); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v", dev, got)
		}
	}
}

func TestOverwriteAndNull(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	ins := func(vals ...any) {
		t.Helper()
		tab, _ := client.NewTablet("root.ow.d", []*client.MeasurementSchema{{Measurement: "v", DataType: client.DOUBLE}}, len(vals))
		for r, v := range vals {
			tab.SetTimestamp(int64(r+1), r)
			must(t, tab.SetValueAt(v, 0, r))
			tab.RowSize++
		}
		must(t, s.InsertAlignedTablet(tab, true))
	}
	ins(1.0, 2.0, nil)
	ins(10.0, nil, nil)
	want := []Point{{1, 10.0}, {2, 2.0}}
	if got := srv.Points("root.ow.d.v"); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	// records overwrite too
	must(t, s.InsertAlignedRecord("root.ow.d", []string{"v"}, []client.TSDataType{client.DOUBLE}, []any{5.5}, 2))
	if got := srv.Points("root.ow.d.v"); got[1].Value != 5.5 {
		t.Fatalf("got %v", got)
	}
	// many out-of-order rewrites and inserts
	tab, _ := client.NewTablet("root.ow.e", []*client.MeasurementSchema{{Measurement: "v", DataType: client.INT32}}, 10000)
	for r := 0; r < 10000; r++ {
		ts := int64((r * 7919) % 10000)
		tab.SetTimestamp(ts, r)
		must(t, tab.SetValueAt(int32(ts), 0, r))
		tab.RowSize++
	}
	must(t, s.InsertTablet(tab, true))
	must(t, s.InsertTablet(tab, true))
	pts := srv.Points("root.ow.e.v")
	if len(pts) != 10000 {
		t.Fatalf("%d points", len(pts))
	}
	for i, p := range pts {
		if p.Time != int64(i) || p.Value != int32(i) {
			t.Fatalf("point %d = %v", i, p)
		}
	}
}

func TestTypeConflictPartialInsert(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	must(t, s.InsertRecord("root.tc.d", []string{"a", "b", "w"}, []client.TSDataType{client.INT32, client.INT32, client.INT64}, []any{int32(1), int32(1), int64(1)}, 1))
	// a: INT32 -> TEXT not castable => dropped; b: INT32 column, w: INT32 into INT64 (widening)
	tab, _ := client.NewTablet("root.tc.d", []*client.MeasurementSchema{
		{Measurement: "a", DataType: client.TEXT}, {Measurement: "b", DataType: client.INT32}, {Measurement: "w", DataType: client.INT32}}, 1)
	tab.SetTimestamp(2, 0)
	must(t, tab.SetValueAt("oops", 0, 0))
	must(t, tab.SetValueAt(int32(2), 1, 0))
	must(t, tab.SetValueAt(int32(2), 2, 0))
	tab.RowSize = 1
	err := s.InsertTablet(tab, true)
	wantCode(t, err, 507)
	wantMsg := "Fail to insert measurements [a] caused by [data type of root.tc.d.a is not consistent, registered type INT32, inserting type TEXT, timestamp 2, value oops]"
	if !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("message %q", err)
	}
	if got := srv.Points("root.tc.d.b"); len(got) != 2 {
		t.Fatalf("partial insert not visible: %v", got)
	}
	if got := srv.Points("root.tc.d.w"); !reflect.DeepEqual(got, []Point{{1, int64(1)}, {2, int64(2)}}) {
		t.Fatalf("widening: %v", got)
	}
	if got := srv.Points("root.tc.d.a"); len(got) != 1 {
		t.Fatalf("a: %v", got)
	}
	if st := srv.Stats(); st.PartialWrites != 1 {
		t.Fatalf("stats %+v", st)
	}

	// enable_partial_insert=false: nothing written
	srv2 := Start(t, Options{DisablePartialInsert: true})
	s2 := openTree(t, srv2)
	must(t, s2.InsertRecord("root.tc.d", []string{"a"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1))
	wantCode(t, s2.InsertTablet(tab, true), 507)
	if got := srv2.Points("root.tc.d.b"); len(got) != 0 {
		t.Fatalf("partial insert off but b written: %v", got)
	}
}

func TestAlignedMismatch(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	must(t, s.InsertAlignedRecord("root.al.d", []string{"x"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1))
	err := s.InsertRecord("root.al.d", []string{"y"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1)
	wantCode(t, err, 507)
	if !strings.Contains(err.Error(), "Timeseries under this device is aligned, please use createTimeseries or change device.") {
		t.Fatal(err)
	}
	must(t, s.InsertRecord("root.al.n", []string{"x"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1))
	err = s.InsertAlignedRecord("root.al.n", []string{"y"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1)
	if !strings.Contains(err.Error(), "Timeseries under this device is not aligned") {
		t.Fatal(err)
	}
	if len(srv.Points("root.al.n.y")) != 0 || len(srv.Points("root.al.d.y")) != 0 {
		t.Fatal("mismatched write stored data")
	}
}

func TestNodeNames(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	ins := func(dev, m string) error {
		return s.InsertRecord(dev, []string{m}, []client.TSDataType{client.INT32}, []any{int32(7)}, 1)
	}
	must(t, ins("root.nn.`pump-7.b`", "temp"))
	if got := srv.Points("root.nn.`pump-7.b`.temp"); len(got) != 1 {
		t.Fatalf("quoted device: %v (devices %v)", got, srv.Devices())
	}
	must(t, ins("root.nn.`abc`", "`t1`")) // normalised to root.nn.abc.t1
	if got := srv.Points("root.nn.abc.t1"); len(got) != 1 {
		t.Fatalf("normalisation: devices %v", srv.Devices())
	}
	must(t, ins("root.nn.`a b``c`", "`x-y`"))
	if got := srv.Points("root.nn.`a b``c`.`x-y`"); len(got) != 1 {
		t.Fatalf("escaped backquote: %v", srv.Series())
	}
	must(t, ins("root.nn.`42`", "`time`")) // a quoted number; `time` is stored as time
	if got := srv.Points("root.nn.`42`.time"); len(got) != 1 {
		t.Fatalf("series %v", srv.Series())
	}
	for _, c := range []struct{ dev, m string }{
		{"root.nn.pump-7", "temp"},  // '-' unquoted
		{"root.nn.42", "temp"},      // number unquoted
		{"root.nn.d", "a-b"},        // illegal measurement
		{"root.nn.d", "time"},       // reserved word
		{"root.nn.d", "a.b"},        // measurement is a single node
		{"root.nn.`unclosed", "t"},  // unclosed quote
		{"sg.d", "t"},               // must start with root
		{"root.nn.d", "1e3"},        // real number
		{"root.nn.d.*", "t"},        // wildcard
		{"root.nn.`p`x`.d", "t"},    // stray backquote
		{"root.nn.d", "`a`b`"},      // bad quoting in measurement
		{"root.nn.d", ""},           // empty
		{"root.nn..d", "t"},         // empty node
		{"root.root.d", "t"},        // root inside
		{"root.nn.`root`", "t"},     // root inside, quoted: normalised to root, still illegal
		{"root.nn.d.`root`", "t"},   // the same as the last device node
		{"root.nn.d", "`a``b`.`c`"}, // two nodes quoted
	} {
		wantCode(t, ins(c.dev, c.m), 509)
	}
	// The tablet path (what the sink sends) refuses a quoted root node too.
	tab, err := client.NewTablet("root.nn.`root`", []*client.MeasurementSchema{{Measurement: "v", DataType: client.INT32}}, 1)
	must(t, err)
	tab.SetTimestamp(1, 0)
	must(t, tab.SetValueAt(int32(1), 0, 0))
	tab.RowSize++
	wantCode(t, s.InsertTablet(tab, true), 509)
	// SELECT uses the same quoting
	_, rows := query(t, s, "select temp from root.nn.`pump-7.b`")
	if len(rows) != 1 || rows[0][1] != int32(7) {
		t.Fatalf("rows %v", rows)
	}
}

func TestDeletes(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	fill := func(dev string) {
		tab, _ := client.NewTablet(dev, []*client.MeasurementSchema{{Measurement: "a", DataType: client.INT64}, {Measurement: "b", DataType: client.INT64}}, 10)
		for r := 0; r < 10; r++ {
			tab.SetTimestamp(int64(r), r)
			must(t, tab.SetValueAt(int64(r), 0, r))
			must(t, tab.SetValueAt(int64(r), 1, r))
			tab.RowSize++
		}
		must(t, s.InsertAlignedTablet(tab, true))
	}
	fill("root.del.d1")
	fill("root.del.d2")
	times := func(p string) []int64 {
		var out []int64
		for _, pt := range srv.Points(p) {
			out = append(out, pt.Time)
		}
		return out
	}
	must(t, s.DeleteData([]string{"root.del.d1.a"}, 2, 3)) // inclusive
	if got := times("root.del.d1.a"); !reflect.DeepEqual(got, []int64{0, 1, 4, 5, 6, 7, 8, 9}) {
		t.Fatal(got)
	}
	must(t, s.DeleteData([]string{"root.del.d1.*"}, 9, 9))
	if got := times("root.del.d1.b"); len(got) != 9 || got[8] != 8 {
		t.Fatal(got)
	}
	must(t, s.ExecuteNonQueryStatement("DELETE FROM root.del.d2.a WHERE time = 5"))
	must(t, s.ExecuteNonQueryStatement("delete from root.del.d2.b, root.del.d2.a where time >= 7 and time < 9"))
	if got := times("root.del.d2.a"); !reflect.DeepEqual(got, []int64{0, 1, 2, 3, 4, 6, 9}) {
		t.Fatal(got)
	}
	if got := times("root.del.d2.b"); !reflect.DeepEqual(got, []int64{0, 1, 2, 3, 4, 5, 6, 9}) {
		t.Fatal(got)
	}
	err := s.ExecuteNonQueryStatement("DELETE FROM root.del.d2.a WHERE time = 1 OR time = 2")
	wantCode(t, err, 303)
	if !strings.Contains(err.Error(), "where clause can only contain atomic expressions") {
		t.Fatal(err)
	}
	must(t, s.ExecuteNonQueryStatement("DELETE FROM root.nothing.here.x WHERE time = 1"))
	must(t, s.DeleteData([]string{"root.nothing.**"}, 0, 100))
	must(t, s.ExecuteNonQueryStatement("DELETE FROM root.del.**"))
	if srv.TotalPoints() != 0 {
		t.Fatalf("total %d", srv.TotalPoints())
	}
	if len(srv.Series()) != 4 {
		t.Fatal("delete must keep the schema")
	}
}

func TestQueries(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	const n = 3000
	tab, _ := client.NewTablet("root.q.d", []*client.MeasurementSchema{{Measurement: "v", DataType: client.INT64}, {Measurement: "s", DataType: client.STRING}}, n)
	for r := 0; r < n; r++ {
		tab.SetTimestamp(int64(r), r)
		must(t, tab.SetValueAt(int64(r*2), 0, r))
		var sv any
		if r%3 == 0 {
			sv = fmt.Sprint(r)
		}
		must(t, tab.SetValueAt(sv, 1, r))
		tab.RowSize++
	}
	must(t, s.InsertAlignedTablet(tab, true))
	// paging past 1024 rows (default fetch size)
	names, rows := query(t, s, "SELECT * FROM root.q.d")
	if !reflect.DeepEqual(names, []string{"Time", "root.q.d.s", "root.q.d.v"}) || len(rows) != n {
		t.Fatalf("names %v rows %d", names, len(rows))
	}
	for r, row := range rows {
		if row[0] != int64(r) || row[2] != int64(2*r) {
			t.Fatalf("row %d: %v", r, row)
		}
		if (r%3 == 0) != (row[1] != nil) {
			t.Fatalf("row %d: %v", r, row)
		}
	}
	s.SetFetchSize(100)
	_, rows = query(t, s, "select v from root.q.d where time >= 10 and time < 2500 order by time desc limit 1000")
	if len(rows) != 1000 || rows[0][0] != int64(2499) || rows[999][0] != int64(1500) {
		t.Fatalf("%d rows, first %v last %v", len(rows), rows[0], rows[len(rows)-1])
	}
	_, rows = query(t, s, "SELECT COUNT(*) FROM root.q.d")
	if len(rows) != 1 || rows[0][0] != int64(n/3) || rows[0][1] != int64(n) {
		t.Fatalf("count %v", rows)
	}
	names, rows = query(t, s, "select count(v) from root.q.** where time < 100")
	if len(names) != 1 || names[0] != "count(root.q.d.v)" || rows[0][0] != int64(100) {
		t.Fatalf("%v %v", names, rows)
	}
	names, rows = query(t, s, "SHOW TIMESERIES root.q.**")
	if len(rows) != 2 || names[0] != "Timeseries" || rows[0][0] != "root.q.d.s" || rows[0][3] != "STRING" || rows[0][2] != "root.q" {
		t.Fatalf("%v %v", names, rows)
	}
	_, rows = query(t, s, "show devices")
	if len(rows) != 1 || rows[0][0] != "root.q.d" || rows[0][1] != "true" {
		t.Fatalf("%v", rows)
	}
	_, rows = query(t, s, "SHOW DATABASES")
	if len(rows) != 1 || rows[0][0] != "root.q" {
		t.Fatalf("%v", rows)
	}
	// select from a missing device: empty
	_, rows = query(t, s, "SELECT * FROM root.q.missing")
	if len(rows) != 0 {
		t.Fatal(rows)
	}
	// unsupported SQL: a status, not a panic
	_, err := s.ExecuteQueryStatement("SELECT last_value(v) FROM root.q.d GROUP BY LEVEL = 1", nil)
	wantCode(t, err, 700)
	wantCode(t, s.ExecuteNonQueryStatement("ALTER TIMESERIES root.q.d.v RENAME x TO y"), 700)
	// a non-query through ExecuteQueryStatement: an error instead of the client panic
	_, err = s.ExecuteQueryStatement("CREATE DATABASE root.zz", nil)
	wantCode(t, err, 301)
	if st := srv.Stats(); st.Queries < 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSchemaAndDatabases(t *testing.T) {
	srv := Start(t, Options{DisableAutoCreate: true})
	s := openTree(t, srv)
	ins := func(dev, m string, dt client.TSDataType, v any) error {
		return s.InsertRecord(dev, []string{m}, []client.TSDataType{dt}, []any{v}, 1)
	}
	err := ins("root.sc.d", "a", client.INT32, int32(1))
	wantCode(t, err, 507)
	if !strings.Contains(err.Error(), "Database not exists and failed to create automatically because enable_auto_create_schema is FALSE.") {
		t.Fatal(err)
	}
	must(t, s.SetStorageGroup("root.sc"))
	wantCode(t, s.ExecuteNonQueryStatement("CREATE DATABASE root.sc"), 501)
	must(t, s.ExecuteNonQueryStatement("CREATE DATABASE root.sc2"))
	err = ins("root.sc.d", "a", client.INT32, int32(1))
	wantCode(t, err, 507)
	if !strings.Contains(err.Error(), "Fail to insert measurements [a] caused by [") {
		t.Fatal(err)
	}
	must(t, s.CreateTimeseries("root.sc.d.a", client.INT32, client.RLE, client.SNAPPY, nil, nil))
	must(t, ins("root.sc.d", "a", client.INT32, int32(1)))
	must(t, s.CreateAlignedTimeseries("root.sc.al", []string{"x", "y"}, []client.TSDataType{client.DOUBLE, client.TEXT},
		[]client.TSEncoding{client.GORILLA, client.PLAIN}, []client.TSCompressionType{client.LZ4, client.LZ4}, nil))
	must(t, s.ExecuteNonQueryStatement("CREATE TIMESERIES root.sc.d.b WITH DATATYPE=INT64, ENCODING=RLE"))
	must(t, s.ExecuteNonQueryStatement("create aligned timeseries root.sc2.`dev-1`(s1 INT32 encoding=RLE, s2 BOOLEAN)"))
	types := map[string]client.TSDataType{}
	for _, si := range srv.Series() {
		types[si.Path] = si.Type
	}
	want := map[string]client.TSDataType{"root.sc.d.a": client.INT32, "root.sc.d.b": client.INT64, "root.sc.al.x": client.DOUBLE,
		"root.sc.al.y": client.TEXT, "root.sc2.`dev-1`.s1": client.INT32, "root.sc2.`dev-1`.s2": client.BOOLEAN}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("%v", types)
	}
	// registered INT64 accepts INT32 (widening) even with auto-create off
	must(t, ins("root.sc.d", "b", client.INT32, int32(3)))
	if got := srv.Points("root.sc.d.b"); !reflect.DeepEqual(got, []Point{{1, int64(3)}}) {
		t.Fatal(got)
	}
	_, rows := query(t, s, "SHOW TIMESERIES root.sc.d.a")
	if len(rows) != 1 || rows[0][4] != "RLE" || rows[0][5] != "SNAPPY" {
		t.Fatalf("%v", rows)
	}
	if got := srv.Databases(); !reflect.DeepEqual(got, []string{"root.sc", "root.sc2"}) {
		t.Fatal(got)
	}
	// auto-create on: a write creates the database at level 1
	srv2 := Start(t, Options{})
	s2 := openTree(t, srv2)
	must(t, s2.InsertRecord("root.auto.x.y", []string{"m"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1))
	if got := srv2.Databases(); !reflect.DeepEqual(got, []string{"root.auto"}) {
		t.Fatal(got)
	}
}

func TestRecordsAPIs(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	must(t, s.InsertRecords([]string{"root.rec.a", "root.rec.b"}, [][]string{{"x", "y"}, {"x"}},
		[][]client.TSDataType{{client.INT64, client.TEXT}, {client.DATE}},
		[][]any{{int64(5), "ab"}, {time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)}}, []int64{10, 11}))
	must(t, s.InsertRecordsOfOneDevice("root.rec.c", []int64{3, 1, 2}, [][]string{{"v"}, {"v"}, {"v"}},
		[][]client.TSDataType{{client.FLOAT}, {client.FLOAT}, {client.FLOAT}}, [][]any{{float32(3)}, {float32(1)}, {float32(2)}}, false))
	must(t, s.InsertStringRecord("root.rec.s", []string{"n", "b", "t"}, []string{"12", "true", "hello"}, 5))
	checks := map[string][]Point{
		"root.rec.a.x": {{10, int64(5)}}, "root.rec.a.y": {{10, "ab"}}, "root.rec.b.x": {{11, int32(20240305)}},
		"root.rec.c.v": {{1, float32(1)}, {2, float32(2)}, {3, float32(3)}},
		"root.rec.s.n": {{5, 12.0}}, "root.rec.s.b": {{5, true}}, "root.rec.s.t": {{5, "hello"}},
	}
	for p, want := range checks {
		if got := srv.Points(p); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v want %v", p, got, want)
		}
	}
	st := srv.Stats()
	if st.InsertRecordsCalls != 1 || st.InsertRecordsOfOneDeviceCalls != 1 || st.InsertStringRecordCalls != 1 {
		t.Fatalf("%+v", st)
	}
	// insertTablets (many devices per RPC)
	var tabs []*client.Tablet
	for i := 0; i < 3; i++ {
		tab, _ := client.NewTablet(fmt.Sprintf("root.rec.t%d", i), []*client.MeasurementSchema{{Measurement: "v", DataType: client.INT32}}, 2)
		for r := 0; r < 2; r++ {
			tab.SetTimestamp(int64(r), r)
			must(t, tab.SetValueAt(int32(i), 0, r))
			tab.RowSize++
		}
		tabs = append(tabs, tab)
	}
	must(t, s.InsertAlignedTablets(tabs, true))
	if len(srv.Points("root.rec.t2.v")) != 2 || srv.Stats().InsertTabletsCalls != 1 {
		t.Fatal("insertTablets")
	}
	var buf bytes.Buffer
	must(t, srv.DumpCSV(&buf))
	if !strings.Contains(buf.String(), "root.rec.a,10,y,ab\n") || !strings.HasPrefix(buf.String(), "device,time,measurement,value\n") {
		t.Fatal(buf.String())
	}
}

func TestTableModel(t *testing.T) {
	srv := Start(t, Options{})
	admin, err := client.NewTableSession(cfgFor(srv), false, 2000)
	must(t, err)
	defer admin.Close()
	must(t, admin.ExecuteNonQueryStatement("CREATE DATABASE IF NOT EXISTS db1"))
	must(t, admin.ExecuteNonQueryStatement("create database if not exists db1"))
	wantCode(t, admin.ExecuteNonQueryStatement("CREATE DATABASE db1"), 501)
	must(t, admin.ExecuteNonQueryStatement("USE db1"))

	s := openTable(t, srv, "db1")
	tab, err := client.NewRelationalTablet("T1", []*client.MeasurementSchema{
		{Measurement: "device_id", DataType: client.STRING}, {Measurement: "site", DataType: client.STRING},
		{Measurement: "temp", DataType: client.DOUBLE}, {Measurement: "note", DataType: client.TEXT}},
		[]client.ColumnCategory{client.TAG, client.ATTRIBUTE, client.FIELD, client.FIELD}, 4)
	must(t, err)
	rows := []struct {
		dev  string
		ts   int64
		temp any
		note any
	}{{"pump-7.b", 50, 1.5, "x"}, {"pump-7.b", 40, 2.5, nil}, {"p2", 40, nil, "y"}, {"pump-7.b", 50, nil, "z"}}
	for r, row := range rows {
		tab.SetTimestamp(row.ts, r)
		must(t, tab.SetValueAt(row.dev, 0, r))
		must(t, tab.SetValueAt("plant-1", 1, r))
		must(t, tab.SetValueAt(row.temp, 2, r))
		must(t, tab.SetValueAt(row.note, 3, r))
		tab.RowSize++
	}
	must(t, s.Insert(tab)) // never sorted by the client (docs/iotdb.md §2.5)
	got := srv.TableRows("db1", "t1")
	want := []map[string]any{
		{"time": int64(40), "device_id": "p2", "site": "plant-1", "temp": nil, "note": "y"},
		{"time": int64(40), "device_id": "pump-7.b", "site": "plant-1", "temp": 2.5, "note": nil},
		{"time": int64(50), "device_id": "pump-7.b", "site": "plant-1", "temp": 1.5, "note": "z"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows\n got %v\nwant %v", got, want)
	}
	names, qrows := query(t, s, "SELECT * FROM t1 WHERE device_id = 'pump-7.b'")
	if !reflect.DeepEqual(names, []string{"time", "device_id", "site", "temp", "note"}) || len(qrows) != 2 ||
		qrows[0][0] != int64(40) || qrows[1][3] != 1.5 || qrows[1][4] != "z" || qrows[0][4] != nil {
		t.Fatalf("%v %v", names, qrows)
	}
	must(t, s.ExecuteNonQueryStatement("DELETE FROM t1 WHERE time = 50 AND device_id = 'pump-7.b'"))
	if got := srv.TableRows("db1", "t1"); len(got) != 2 {
		t.Fatalf("after delete %v", got)
	}
	if _, qrows = query(t, s, "select count(*) from t1"); len(qrows) != 1 || qrows[0][0] != int64(2) {
		t.Fatalf("count %v", qrows)
	}
	// TAG must be STRING
	bad, _ := client.NewRelationalTablet("t2", []*client.MeasurementSchema{{Measurement: "id", DataType: client.INT32}, {Measurement: "v", DataType: client.DOUBLE}},
		[]client.ColumnCategory{client.TAG, client.FIELD}, 1)
	bad.SetTimestamp(1, 0)
	must(t, bad.SetValueAt(int32(1), 0, 0))
	must(t, bad.SetValueAt(1.0, 1, 0))
	bad.RowSize = 1
	wantCode(t, s.Insert(bad), 701)
	// explicit CREATE TABLE then SHOW TABLES
	must(t, s.ExecuteNonQueryStatement(`CREATE TABLE t3 (device_id STRING TAG, v INT64 FIELD)`))
	_, qrows = query(t, s, "SHOW TABLES")
	if len(qrows) != 2 || qrows[0][0] != "t1" || qrows[1][0] != "t3" {
		t.Fatalf("%v", qrows)
	}
	// unknown database
	wantCode(t, s.ExecuteNonQueryStatement("USE nope"), 500)
}

func TestPrecision(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	us := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	err := s.InsertRecord("root.pr.d", []string{"v"}, []client.TSDataType{client.INT32}, []any{int32(1)}, us)
	if codeOf(err) == 200 || err == nil || !strings.Contains(err.Error(), "Current system timestamp precision is ms, please check whether the timestamp") {
		t.Fatal(err)
	}
	must(t, s.InsertRecord("root.pr.d", []string{"v"}, []client.TSDataType{client.INT32}, []any{int32(1)}, us/1000))

	srvUS := Start(t, Options{Precision: "us"})
	rc := dialRaw(t, srvUS)
	resp := rc.open(t, "root", "root", map[string]string{"sql_dialect": "tree", "version": "V_1_0"})
	if resp.Configuration["timestamp_precision"] != "us" {
		t.Fatal(resp.Configuration)
	}
	su := openTree(t, srvUS)
	must(t, su.InsertRecord("root.pr.d", []string{"v"}, []client.TSDataType{client.INT32}, []any{int32(1)}, us))
	if _, err := NewServer(Options{Precision: "s"}); err == nil {
		t.Fatal("precision s accepted")
	}
}

func TestLoginAndProtocol(t *testing.T) {
	srv := Start(t, Options{User: "u", Password: "p"})
	c := cfgFor(srv)
	c.UserName, c.Password = "u", "wrong"
	s := client.NewSession(c)
	if err := s.Open(false, 2000); err != nil { // the client ignores the open status (docs/iotdb.md §1.2)
		t.Fatal(err)
	}
	defer s.Close()
	err := s.InsertRecord("root.x.d", []string{"v"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1)
	wantCode(t, err, 802)
	rc := dialRaw(t, srv)
	if resp := rc.open(t, "u", "wrong", nil); resp.Status.Code != 801 || resp.Status.Message == nil {
		t.Fatalf("%+v", resp.Status)
	}
	if st, err := rc.TestConnectionEmptyRPC(context.Background()); err != nil || st.Code != 200 {
		t.Fatal(st, err)
	}
	if resp := rc.open(t, "u", "p", nil); resp.Status.Code != 200 || resp.SessionId == nil {
		t.Fatalf("%+v", resp.Status)
	}
	// protocol version other than V3 => 201
	resp, err := rc.OpenSession(context.Background(), &rpc.TSOpenSessionReq{ClientProtocol: rpc.TSProtocolVersion_IOTDB_SERVICE_PROTOCOL_V2, ZoneId: "UTC", Username: "u"})
	if err != nil || resp.Status.Code != 201 {
		t.Fatal(resp, err)
	}
	if st := srv.Stats(); st.LoginFailures != 2 {
		t.Fatalf("%+v", st)
	}
}

func TestMalformedAndUnsupported(t *testing.T) {
	srv := Start(t, Options{})
	rc := dialRaw(t, srv)
	rc.open(t, "root", "root", nil)
	ctx := context.Background()
	aligned := true
	cases := []*rpc.TSInsertTabletReq{
		{PrefixPath: "root.m.d", Measurements: []string{"a"}, Types: []int32{2}, Size: 2, Timestamps: make([]byte, 16), Values: make([]byte, 15)},
		{PrefixPath: "root.m.d", Measurements: []string{"a"}, Types: []int32{5}, Size: 1, Timestamps: make([]byte, 8), Values: []byte{0, 0, 0, 9, 'x'}},
		{PrefixPath: "root.m.d", Measurements: []string{"a"}, Types: []int32{77}, Size: 1, Timestamps: make([]byte, 8), Values: make([]byte, 8)},
		{PrefixPath: "root.m.d", Measurements: []string{"a", "b"}, Types: []int32{1}, Size: 1, Timestamps: make([]byte, 8), Values: make([]byte, 4)},
		{PrefixPath: "root.m.d", Measurements: []string{"a"}, Types: []int32{1}, Size: 9, Timestamps: make([]byte, 72), Values: append(make([]byte, 36), 1, 0xff)},
		{PrefixPath: "root.m.d", Measurements: []string{"a"}, Types: []int32{1}, Size: -1, Timestamps: nil, Values: nil, IsAligned: &aligned},
		{PrefixPath: "t", Measurements: []string{"a"}, Types: []int32{11}, Size: 0, WriteToTable: &aligned},
	}
	for i, req := range cases {
		st, err := rc.InsertTablet(ctx, req)
		if err != nil || st.Code == 200 || st.Message == nil {
			t.Fatalf("case %d: %v %v", i, st, err)
		}
	}
	// a bitmap section with exactly one flag byte per column and rows/8+1 bytes is accepted
	vals := append(make([]byte, 8*4), 1, 0b00000101, 0) // rows 0 and 2 NULL
	st, err := rc.InsertTablet(ctx, &rpc.TSInsertTabletReq{PrefixPath: "root.m.d", Measurements: []string{"a"}, Types: []int32{1}, Size: 8,
		Timestamps: bytes.Repeat([]byte{0}, 64), Values: vals})
	if err != nil || st.Code != 200 {
		t.Fatal(st, err)
	}
	// unimplemented methods: status 300 with a message
	st, err = rc.DeleteTimeseries(ctx, 0, []string{"root.m.d.a"})
	if err != nil || st.Code != 300 || !strings.Contains(st.GetMessage(), "unsupported by iotdbtest") {
		t.Fatal(st, err)
	}
	if resp, err := rc.ExecuteLastDataQueryV2(ctx, &rpc.TSLastDataQueryReq{}); err != nil || resp.Status.Code != 300 {
		t.Fatal(resp, err)
	}
	// records with trailing garbage
	st, err = rc.InsertRecord(ctx, &rpc.TSInsertRecordReq{PrefixPath: "root.m.d", Measurements: []string{"a"}, Values: []byte{1, 0, 0, 0, 1, 9}, Timestamp: 1})
	if err != nil || st.Code == 200 {
		t.Fatal(st, err)
	}
	// the connection survived all of that
	if st, err := rc.TestConnectionEmptyRPC(ctx); err != nil || st.Code != 200 {
		t.Fatal(st, err)
	}
}

func TestCompactProtocolAndDiscard(t *testing.T) {
	srv := Start(t, Options{DiscardData: true})
	s := client.NewSession(cfgFor(srv))
	must(t, s.Open(true, 2000)) // enableRPCCompression => TCompactProtocol (docs/iotdb.md §1.1)
	defer s.Close()
	must(t, s.InsertAlignedRecord("root.cp.d", []string{"v"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1))
	wantCode(t, s.InsertAlignedRecord("root.cp.d", []string{"v"}, []client.TSDataType{client.BOOLEAN}, []any{true}, 2), 507)
	if st := srv.Stats(); st.PointsWritten != 1 || len(srv.Points("root.cp.d.v")) != 0 || len(srv.Series()) != 1 {
		t.Fatalf("%+v %v", st, srv.Series())
	}
	_, rows := query(t, &s, "SHOW DEVICES root.cp.**")
	if len(rows) != 1 {
		t.Fatal(rows)
	}
}
