package iotdbtest

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"
)

// Conformance tests of the aggregate queries a verify command sends
// (docs/iotdb.md §10), through the unmodified v2.0.10 client. Every expected
// row below is written out by hand from the documented semantics.

const day = int64(86_400_000) // 1d at millisecond precision

// queryTyped is query plus the column type names the server announced.
func queryTyped(t testing.TB, s querier, sql string) ([]string, []string, [][]any) {
	t.Helper()
	ds, err := s.ExecuteQueryStatement(sql, nil)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	types := ds.GetColumnTypes()
	_ = ds.Close()
	names, rows := query(t, s, sql)
	return names, types, rows
}

func wantQueryErr(t *testing.T, s querier, sql string, code int32, msgPart string) {
	t.Helper()
	_, err := s.ExecuteQueryStatement(sql, nil)
	if codeOf(err) != code || !strings.Contains(err.Error(), msgPart) {
		t.Fatalf("%s: want %d with %q, got %v", sql, code, msgPart, err)
	}
}

func assertRows(t *testing.T, sql string, got, want [][]any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	var b strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w []any
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		mark := "  "
		if !reflect.DeepEqual(g, w) {
			mark = "≠ "
		}
		fmt.Fprintf(&b, "%sgot  %#v\n  want %#v\n", mark, g, w)
	}
	t.Fatalf("%s\n%s", sql, b.String())
}

// treeFixture writes the tree data of the tests:
//
//	root.v.a (not aligned): i INT32, l INT64, f FLOAT, d DOUBLE, t TEXT, s STRING, bo BOOLEAN
//	root.v.b (aligned):     i INT32, l INT64
func treeFixture(t *testing.T, s *client.Session) {
	t.Helper()
	type row struct {
		ts   int64
		vals []any // i, l, f, d, t, s, bo
	}
	n := any(nil)
	rows := []row{
		{0, []any{int32(5), int64(-10), float32(1.5), 2.5, "b", "x", true}},
		{1000, []any{n, int64(3), n, -1.25, "a", "é", false}},
		{day - 1, []any{int32(-2), int64(10), float32(0.5), n, n, "z", n}},
		{day, []any{int32(7), n, n, 4.0, "c", n, n}},
		{2*day + 5, []any{int32(1), int64(-7), n, 0.0, "d", n, n}},
		{4 * day, []any{int32(100), int64(100), n, 100.0, "zz", n, n}},
	}
	ms := []*client.MeasurementSchema{{Measurement: "i", DataType: client.INT32}, {Measurement: "l", DataType: client.INT64},
		{Measurement: "f", DataType: client.FLOAT}, {Measurement: "d", DataType: client.DOUBLE}, {Measurement: "t", DataType: client.TEXT},
		{Measurement: "s", DataType: client.STRING}, {Measurement: "bo", DataType: client.BOOLEAN}}
	tab, err := client.NewTablet("root.v.a", ms, len(rows))
	must(t, err)
	for r, rw := range rows {
		tab.SetTimestamp(rw.ts, r)
		for c, v := range rw.vals {
			must(t, tab.SetValueAt(v, c, r))
		}
		tab.RowSize++
	}
	must(t, s.InsertTablet(tab, true))
	tb, err := client.NewTablet("root.v.b", ms[:2], 2)
	must(t, err)
	for r, rw := range []row{{day + 1, []any{int32(3), int64(4)}}, {day + 2, []any{n, int64(-4)}}} {
		tb.SetTimestamp(rw.ts, r)
		for c, v := range rw.vals {
			must(t, tb.SetValueAt(v, c, r))
		}
		tb.RowSize++
	}
	must(t, s.InsertAlignedTablet(tb, true))
}

// GROUP BY ([t1, t2), 1d) ALIGN BY DEVICE: Time (window start), Device, one
// column per aggregate; left-closed right-open windows; every window of every
// device is a row, an empty one with count 0 and NULL elsewhere; a measurement
// a device lacks is NULL; result types (docs/iotdb.md §10.1–§10.3).
func TestAggTreeGroupByAlignByDevice(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	treeFixture(t, s)
	sql := "SELECT count(i), sum(i), avg(l), min_value(d), max_value(d), min_time(i), max_time(i), first_value(t), last_value(t), extreme(l) " +
		"FROM root.v.** GROUP BY ([0, 345600000), 1d) ALIGN BY DEVICE"
	names, types, rows := queryTyped(t, s, sql)
	wantNames := []string{"Time", "Device", "count(i)", "sum(i)", "avg(l)", "min_value(d)", "max_value(d)", "min_time(i)", "max_time(i)", "first_value(t)", "last_value(t)", "extreme(l)"}
	wantTypes := []string{"INT64", "TEXT", "INT64", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "INT64", "INT64", "TEXT", "TEXT", "INT64"}
	if !reflect.DeepEqual(names, wantNames) || !reflect.DeepEqual(types, wantTypes) {
		t.Fatalf("columns %v %v", names, types)
	}
	n := any(nil)
	assertRows(t, sql, rows, [][]any{
		// the point at 4d equals the end of the range: excluded (right-open)
		{int64(0), "root.v.a", int64(2), 3.0, 1.0, -1.25, 2.5, int64(0), day - 1, "b", "a", int64(10)}, // extreme: |-10| = |10|, the positive one
		{day, "root.v.a", int64(1), 7.0, n, 4.0, 4.0, day, day, "c", "c", n},                           // the point at exactly 1d opens the second window
		{2 * day, "root.v.a", int64(1), 1.0, -7.0, 0.0, 0.0, 2*day + 5, 2*day + 5, "d", "d", int64(-7)},
		{3 * day, "root.v.a", int64(0), n, n, n, n, n, n, n, n, n}, // empty window: count 0, the rest NULL
		{int64(0), "root.v.b", int64(0), n, n, n, n, n, n, n, n, n},
		{day, "root.v.b", int64(1), 3.0, 0.0, n, n, day + 1, day + 1, n, n, int64(4)}, // b has no d and no t: NULL
		{2 * day, "root.v.b", int64(0), n, n, n, n, n, n, n, n, n},
		{3 * day, "root.v.b", int64(0), n, n, n, n, n, n, n, n, n},
	})

	// WHERE narrows the data, not the windows; ALIGN BY TIME names full paths
	sql = "SELECT count(i), count(l) FROM root.v.** WHERE time > 0 GROUP BY ([0, 259200000), 1d)"
	names, rows = query(t, s, sql)
	if !reflect.DeepEqual(names, []string{"Time", "count(root.v.a.i)", "count(root.v.b.i)", "count(root.v.a.l)", "count(root.v.b.l)"}) {
		t.Fatalf("%v", names)
	}
	assertRows(t, sql, rows, [][]any{
		{int64(0), int64(1), int64(0), int64(2), int64(0)},
		{day, int64(1), int64(1), int64(0), int64(2)},
		{2 * day, int64(1), int64(0), int64(1), int64(0)},
	})

	// a range that is not a multiple of the interval: the last window ends at t2
	sql = "SELECT count(i) FROM root.v.a GROUP BY ([0, 129600000), 1d)"
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{{int64(0), int64(2)}, {day, int64(1)}})

	// left-open right-closed windows show their end time
	sql = "SELECT count(i) FROM root.v.a GROUP BY ((0, 172800000], 1d)"
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{{day, int64(2)}, {2 * day, int64(0)}})

	// LIMIT / OFFSET apply to result rows
	sql = "SELECT count(i) FROM root.v.** GROUP BY ([0, 345600000), 1d) LIMIT 2 OFFSET 3 ALIGN BY DEVICE"
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{{3 * day, "root.v.a", int64(0)}, {int64(0), "root.v.b", int64(0)}})
}

// Without GROUP BY: one row per device (ALIGN BY DEVICE) or one row (ALIGN BY
// TIME), no Time column; * expands to every measurement, sorted by name in
// ALIGN BY DEVICE and by series path in ALIGN BY TIME (docs/iotdb.md §10.3).
func TestAggTreeNoGroupBy(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	treeFixture(t, s)
	sql := "SELECT count(*) FROM root.v.** ALIGN BY DEVICE"
	names, rows := query(t, s, sql)
	if !reflect.DeepEqual(names, []string{"Device", "count(bo)", "count(d)", "count(f)", "count(i)", "count(l)", "count(s)", "count(t)"}) {
		t.Fatalf("%v", names)
	}
	n := any(nil)
	assertRows(t, sql, rows, [][]any{
		{"root.v.a", int64(2), int64(5), int64(2), int64(5), int64(5), int64(3), int64(5)},
		{"root.v.b", n, n, n, int64(1), int64(2), n, n},
	})
	sql = "SELECT count(l), max_value(l), min_value(s), max_value(s) FROM root.v.a WHERE time >= 0 AND time < 345600000"
	names, rows = query(t, s, sql)
	if !reflect.DeepEqual(names, []string{"count(root.v.a.l)", "max_value(root.v.a.l)", "min_value(root.v.a.s)", "max_value(root.v.a.s)"}) {
		t.Fatalf("%v", names)
	}
	// STRING compares as unsigned bytes: "é" (0xC3 0xA9) sorts after "z"
	assertRows(t, sql, rows, [][]any{{int64(4), int64(10), "x", "é"}})
	sql = "SELECT count(*) FROM root.v.b"
	names, rows = query(t, s, sql)
	if !reflect.DeepEqual(names, []string{"count(root.v.b.i)", "count(root.v.b.l)"}) {
		t.Fatalf("%v", names)
	}
	assertRows(t, sql, rows, [][]any{{int64(1), int64(2)}})
	// a pattern matching no series: an empty result
	if _, rows = query(t, s, "SELECT count(*) FROM root.nothing.** ALIGN BY DEVICE"); len(rows) != 0 {
		t.Fatalf("%v", rows)
	}
}

// Input types each aggregate accepts, and IoTDB's 701 for the others
// (docs/iotdb.md §10.1).
func TestAggTreeTypes(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	treeFixture(t, s)
	numeric := "only support numeric data types [INT32, INT64, FLOAT, DOUBLE]"
	for _, sql := range []string{"SELECT sum(t) FROM root.v.a", "SELECT sum(bo) FROM root.v.a", "SELECT avg(s) FROM root.v.a",
		"SELECT extreme(t) FROM root.v.a", "SELECT sum(*) FROM root.v.a"} {
		wantQueryErr(t, s, sql, 701, numeric)
	}
	for _, sql := range []string{"SELECT min_value(t) FROM root.v.a", "SELECT max_value(bo) FROM root.v.a ALIGN BY DEVICE"} {
		wantQueryErr(t, s, sql, 701, "[MIN_VALUE, MAX_VALUE] only support data types [INT32, INT64, FLOAT, DOUBLE, STRING, DATE, TIMESTAMP]")
	}
	sql := "SELECT count(bo), first_value(bo), last_value(bo), min_time(bo), max_time(bo), sum(f), min_value(f) FROM root.v.a"
	_, types, rows := queryTyped(t, s, sql)
	if !reflect.DeepEqual(types, []string{"INT64", "BOOLEAN", "BOOLEAN", "INT64", "INT64", "DOUBLE", "FLOAT"}) {
		t.Fatalf("%v", types)
	}
	assertRows(t, sql, rows, [][]any{{int64(2), true, false, int64(0), int64(1000), 2.0, float32(0.5)}})
	// the same measurement with two types in ALIGN BY DEVICE: fine for count
	// and sum (INT64, DOUBLE on both), refused where the result type differs
	must(t, s.InsertRecord("root.w.x", []string{"m"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1))
	must(t, s.InsertRecord("root.w.y", []string{"m"}, []client.TSDataType{client.DOUBLE}, []any{2.5}, 1))
	sql = "SELECT count(m), sum(m) FROM root.w.** ALIGN BY DEVICE"
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{{"root.w.x", int64(1), 1.0}, {"root.w.y", int64(1), 2.5}})
	wantQueryErr(t, s, "SELECT max_value(m) FROM root.w.** ALIGN BY DEVICE", 701,
		"ALIGN BY DEVICE: the data types of the same measurement column should be the same across devices.")
	// forms the double does not emulate are refused, not answered wrongly
	for _, sql := range []string{
		"SELECT count(i) FROM root.v.a GROUP BY ([0, 100), 1mo)",
		"SELECT count(i) FROM root.v.a GROUP BY ([0, 100), 10ms, 5ms)",
		"SELECT count(i) FROM root.v.a GROUP BY LEVEL = 1",
		"SELECT stddev(i) FROM root.v.a",
		"SELECT count(i + 1) FROM root.v.a",
	} {
		wantQueryErr(t, s, sql, 700, "")
	}
}

// COUNT TIMESERIES [GROUP BY LEVEL] and COUNT DEVICES (docs/iotdb.md §10.3).
func TestAggCountSchema(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	treeFixture(t, s)
	must(t, s.InsertRecord("root.other.d", []string{"x"}, []client.TSDataType{client.INT64}, []any{int64(1)}, 1))
	cases := []struct {
		sql   string
		names []string
		rows  [][]any
	}{
		{"COUNT TIMESERIES", []string{"count(timeseries)"}, [][]any{{int64(10)}}},
		{"COUNT TIMESERIES root.v.**", []string{"count(timeseries)"}, [][]any{{int64(9)}}},
		{"count timeseries root.v.a.*", []string{"count(timeseries)"}, [][]any{{int64(7)}}},
		{"COUNT TIMESERIES root.** GROUP BY LEVEL=1", []string{"Column", "count(timeseries)"}, [][]any{{"root.other", int64(1)}, {"root.v", int64(9)}}},
		{"COUNT TIMESERIES root.v.** GROUP BY LEVEL = 2", []string{"Column", "count(timeseries)"}, [][]any{{"root.v.a", int64(7)}, {"root.v.b", int64(2)}}},
		{"COUNT DEVICES", []string{"count(devices)"}, [][]any{{int64(3)}}},
		{"COUNT DEVICES root.v.**", []string{"count(devices)"}, [][]any{{int64(2)}}},
	}
	for _, c := range cases {
		names, rows := query(t, s, c.sql)
		if !reflect.DeepEqual(names, c.names) {
			t.Fatalf("%s: %v", c.sql, names)
		}
		assertRows(t, c.sql, rows, c.rows)
	}
}

// tableFixture creates db1.t1: region, device_id TAG; model ATTRIBUTE; temp
// DOUBLE, cnt INT64, note STRING, flag BOOLEAN FIELDs.
func tableFixture(t *testing.T, srv *Server) client.ITableSession {
	t.Helper()
	admin, err := client.NewTableSession(cfgFor(srv), false, 2000)
	must(t, err)
	defer admin.Close()
	must(t, admin.ExecuteNonQueryStatement("CREATE DATABASE db1"))
	s := openTable(t, srv, "db1")
	n := any(nil)
	rows := [][]any{ // time, region, device_id, model, temp, cnt, note, flag
		{-1000, "r1", "d1", "m1", n, int64(5), n, n},
		{0, "r1", "d1", "m1", 1.5, int64(2), "test", true},
		{1000, "r1", "d1", "m1", n, int64(3), n, false},
		{day - 1, "r1", "d1", "m1", -0.5, n, "b", n},
		{day, "r1", "d1", "m1", 4.0, int64(10), "a", n},
		{10, "r1", "d2", "m2", 2.0, int64(1), "z", n},
		{day + 10, "r1", "d2", "m2", n, n, n, n}, // a row whose fields are all NULL
		{5, n, "d3", n, 7.0, int64(7), n, n},     // a NULL tag
	}
	tab, err := client.NewRelationalTablet("t1", []*client.MeasurementSchema{
		{Measurement: "region", DataType: client.STRING}, {Measurement: "device_id", DataType: client.STRING},
		{Measurement: "model", DataType: client.STRING}, {Measurement: "temp", DataType: client.DOUBLE},
		{Measurement: "cnt", DataType: client.INT64}, {Measurement: "note", DataType: client.STRING},
		{Measurement: "flag", DataType: client.BOOLEAN}},
		[]client.ColumnCategory{client.TAG, client.TAG, client.ATTRIBUTE, client.FIELD, client.FIELD, client.FIELD, client.FIELD}, len(rows))
	must(t, err)
	for r, row := range rows {
		ts, ok := row[0].(int64)
		if !ok {
			ts = int64(row[0].(int))
		}
		tab.SetTimestamp(ts, r)
		for c, v := range row[1:] {
			must(t, tab.SetValueAt(v, c, r))
		}
		tab.RowSize++
	}
	must(t, s.Insert(tab))
	return s
}

// date_bin buckets with GROUP BY over tags: only groups that have rows,
// NULL tags form their own group, count(*) counts rows and count(x) non-NULL
// values, every other aggregate ignores NULLs and is NULL over none; result
// names _colN unless aliased or a plain column; ORDER BY ... ASC NULLS LAST
// (docs/iotdb.md §10.4, §10.5).
func TestAggTableDateBin(t *testing.T) {
	srv := Start(t, Options{})
	s := tableFixture(t, srv)
	sql := "SELECT region, device_id, date_bin(1d, time) AS b, count(temp), sum(cnt), min(temp), max(note), first(note), last(note), count(*) " +
		"FROM t1 WHERE time >= -86400000 AND time < 172800000 GROUP BY region, device_id, date_bin(1d, time) ORDER BY region, device_id, b"
	names, types, rows := queryTyped(t, s, sql)
	if !reflect.DeepEqual(names, []string{"region", "device_id", "b", "_col3", "_col4", "_col5", "_col6", "_col7", "_col8", "_col9"}) ||
		!reflect.DeepEqual(types, []string{"STRING", "STRING", "TIMESTAMP", "INT64", "DOUBLE", "DOUBLE", "STRING", "STRING", "STRING", "INT64"}) {
		t.Fatalf("%v %v", names, types)
	}
	n := any(nil)
	assertRows(t, sql, rows, [][]any{
		{"r1", "d1", -day, int64(0), 5.0, n, n, n, n, int64(1)}, // date_bin floors negative times
		{"r1", "d1", int64(0), int64(2), 5.0, -0.5, "test", "test", "b", int64(3)},
		{"r1", "d1", day, int64(1), 10.0, 4.0, "a", "a", "a", int64(1)},
		{"r1", "d2", int64(0), int64(1), 1.0, 2.0, "z", "z", "z", int64(1)},
		{"r1", "d2", day, int64(0), n, n, n, n, n, int64(1)},       // a row, but no values
		{n, "d3", int64(0), int64(1), 7.0, 7.0, n, n, n, int64(1)}, // NULLS LAST
	})
	// the same with GROUP BY positions, DESC and NULLS FIRST
	sql = "SELECT device_id, region, date_bin(1d, time), count(*) FROM t1 WHERE time >= 0 GROUP BY 1, 2, 3 ORDER BY region DESC NULLS FIRST, 1, 3 DESC"
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{
		{"d3", n, int64(0), int64(1)},
		{"d1", "r1", day, int64(1)},
		{"d1", "r1", int64(0), int64(3)},
		{"d2", "r1", day, int64(1)},
		{"d2", "r1", int64(0), int64(1)},
	})
	// a global aggregate: one row, even over no rows (count 0, sum NULL)
	sql = "SELECT count(*), count(note), sum(cnt), avg(cnt), max(flag), min(flag) FROM t1 WHERE device_id = 'd1'"
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{{int64(5), int64(3), 20.0, 5.0, true, false}})
	sql = "SELECT count(*), sum(cnt) FROM t1 WHERE time > 999999999"
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{{int64(0), n}})
	// GROUP BY an ATTRIBUTE, and date_bin with an origin (an integer timestamp here)
	sql = "SELECT model, date_bin(1d, time, 43200000) AS b, count(*) FROM t1 GROUP BY model, date_bin(1d, time, 43200000) ORDER BY model, b"
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{
		{"m1", -day / 2, int64(3)}, // -1000, 0, 1000
		{"m1", day / 2, int64(2)},  // 1d-1, 1d
		{"m2", -day / 2, int64(1)},
		{"m2", day / 2, int64(1)},
		{n, -day / 2, int64(1)},
	})
}

// Errors the table model documents (docs/iotdb.md §10.4).
func TestAggTableErrors(t *testing.T) {
	srv := Start(t, Options{})
	s := tableFixture(t, srv)
	wantQueryErr(t, s, "SELECT sum(note) FROM t1", 701, "Aggregate functions [sum] only support numeric data types [INT32, INT64, FLOAT, DOUBLE]")
	wantQueryErr(t, s, "SELECT avg(flag) FROM t1", 701, "only support numeric data types")
	wantQueryErr(t, s, "SELECT sum(time) FROM t1", 701, "only support numeric data types")
	wantQueryErr(t, s, "SELECT device_id, temp FROM t1 GROUP BY device_id", 701, "'temp' must be an aggregate expression or appear in GROUP BY clause")
	wantQueryErr(t, s, "SELECT device_id, avg(temp) FROM t1 GROUP BY model2", 701, "Column 'model2' cannot be resolved")
	wantQueryErr(t, s, "SELECT date_bin(1h, time) AS b, count(*) FROM t1 GROUP BY b", 701, "Column 'b' cannot be resolved") // no aliases in GROUP BY
	wantQueryErr(t, s, "SELECT sum(*) FROM t1", 700, "")
	wantQueryErr(t, s, "SELECT crc32(cnt) FROM t1 GROUP BY device_id", 701, "")
}

// Order-independent figures over timestamps, strings and numbers
// (docs/iotdb.md §10.5): sum(cast(time AS INT64) - base) is exact in DOUBLE
// while it stays below 2^53, sum(crc32(x)) while a bucket holds at most 2^21
// values; crc32 is the IEEE CRC-32 of the bytes (the documented example).
func TestAggTableFingerprints(t *testing.T) {
	srv := Start(t, Options{})
	s := tableFixture(t, srv)
	// the documented example: crc32('test') = 3632233996
	sql := "SELECT sum(crc32(note)), count(*) FROM t1 WHERE device_id = 'd1' AND time = 0"
	_, rows := query(t, s, sql)
	assertRows(t, sql, rows, [][]any{{3632233996.0, int64(1)}})
	// numbers through their documented byte encodings (8 bytes, big-endian;
	// IEEE 754 for DOUBLE), booleans cast to 1 and 0
	sql = "SELECT sum(crc32(to_big_endian_64(cnt))), sum(crc32(to_ieee754_64(temp))), sum(cast(flag AS INT32)), count(flag) FROM t1 WHERE device_id = 'd1'"
	be := func(v uint64) float64 { return float64(crc32.ChecksumIEEE(binary.BigEndian.AppendUint64(nil, v))) }
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{{be(5) + be(2) + be(3) + be(10), be(math.Float64bits(1.5)) + be(math.Float64bits(-0.5)) + be(math.Float64bits(4)), 1.0, int64(2)}})
	sql = "SELECT sum(cast(flag AS INT64)) FROM t1 WHERE time <= 0"
	_, rows = query(t, s, sql)
	assertRows(t, sql, rows, [][]any{{1.0}}) // true at 0
	wantQueryErr(t, s, "SELECT sum(crc32(to_ieee754_64(cnt))) FROM t1", 701, "to_ieee754_64")
	sql = "SELECT device_id, sum(cast(time AS INT64) - 1000), min(time), max(time), count(time) FROM t1 GROUP BY device_id ORDER BY device_id"
	_, types, rows := queryTyped(t, s, sql)
	if !reflect.DeepEqual(types, []string{"STRING", "DOUBLE", "TIMESTAMP", "TIMESTAMP", "INT64"}) {
		t.Fatalf("%v", types)
	}
	assertRows(t, sql, rows, [][]any{
		{"d1", float64(-1000 + 0 + 1000 + (day - 1) + day - 5*1000), int64(-1000), day, int64(5)},
		{"d2", float64(10 + day + 10 - 2*1000), int64(10), day + 10, int64(2)},
		{"d3", float64(5 - 1000), int64(5), int64(5), int64(1)},
	})
	// the same points written in another order and in other tablets give the
	// same figures; a point moved by 1 ms or a changed string does not
	fig := func(s client.ITableSession, table string) [][]any {
		_, rows := query(t, s, "SELECT device_id, count(note), sum(crc32(note)), sum(cast(time AS INT64) - 0) FROM "+table+" GROUP BY device_id ORDER BY device_id")
		return rows
	}
	write := func(table string, times []int64, notes []string) {
		for i := range times { // one row per tablet, in the order given
			tab, err := client.NewRelationalTablet(table, []*client.MeasurementSchema{{Measurement: "device_id", DataType: client.STRING}, {Measurement: "note", DataType: client.STRING}},
				[]client.ColumnCategory{client.TAG, client.FIELD}, 1)
			must(t, err)
			tab.SetTimestamp(times[i], 0)
			must(t, tab.SetValueAt("d1", 0, 0))
			must(t, tab.SetValueAt(notes[i], 1, 0))
			tab.RowSize = 1
			must(t, s.Insert(tab))
		}
	}
	write("f1", []int64{1, 2, 3}, []string{"x", "y", "é"})
	write("f2", []int64{3, 1, 2}, []string{"é", "x", "y"})
	write("f3", []int64{1, 2, 4}, []string{"x", "y", "é"})
	write("f4", []int64{1, 2, 3}, []string{"x", "y", "e"})
	a, b, c, d := fig(s, "f1"), fig(s, "f2"), fig(s, "f3"), fig(s, "f4")
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) || reflect.DeepEqual(a, d) || a[0][1] != int64(3) {
		t.Fatalf("fingerprints: %v %v %v %v", a, b, c, d)
	}
	if a[0][3] != 6.0 || c[0][3] != 7.0 || a[0][2] == d[0][2] || a[0][3] != d[0][3] {
		t.Fatalf("fingerprints: %v %v %v", a, c, d)
	}
}

// verify's time × value sum over FLOAT and DOUBLE fields: % on INT64 keeps
// the dividend's sign (Java's remainder: -1000 % 65521 is -1000), an INT64
// times a DOUBLE is a DOUBLE, a NULL operand makes the product NULL and
// sum skips it; an INT64 field cast to DOUBLE multiplies the same way.
func TestAggTableTimeValueSum(t *testing.T) {
	srv := Start(t, Options{})
	s := tableFixture(t, srv)
	sql := "SELECT device_id, sum((cast(time AS INT64) % 65521) * cast(temp AS DOUBLE)), sum((cast(time AS INT64) % 65521) * cast(cnt AS DOUBLE)) " +
		"FROM t1 GROUP BY device_id ORDER BY device_id"
	_, types, rows := queryTyped(t, s, sql)
	if !reflect.DeepEqual(types, []string{"STRING", "DOUBLE", "DOUBLE"}) {
		t.Fatalf("%v", types)
	}
	m := func(t int64) float64 { return float64(t % 65521) }
	assertRows(t, sql, rows, [][]any{
		{"d1", m(0)*1.5 + m(day-1)*-0.5 + m(day)*4.0, m(-1000)*5 + m(0)*2 + m(1000)*3 + m(day)*10},
		{"d2", m(10) * 2.0, m(10) * 1},
		{"d3", m(5) * 7.0, m(5) * 7},
	})
	if m(-1000) != -1000 {
		t.Fatal("the expectation assumes Java's remainder")
	}
}
