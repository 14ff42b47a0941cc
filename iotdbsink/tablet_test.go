package iotdbsink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/common"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

func testSchema(aligned bool) *mapping.Schema {
	return &mapping.Schema{
		SourceTable:  "readings",
		Model:        "tree",
		Database:     "root.factory",
		Aligned:      aligned,
		Measurements: []string{"temp", "state", "note"},
		Types:        []client.TSDataType{client.DOUBLE, client.INT32, client.STRING},
	}
}

func pt(sc *mapping.Schema, dev string, t int64, vals ...any) mapping.Point {
	return mapping.Point{Device: dev, Time: t, Schema: sc, Values: vals}
}

// rowsOf returns a group's rows as (time, values) for comparison.
func rowsOf(g *group) []string {
	var out []string
	for r := range g.times {
		out = append(out, fmt.Sprintf("%d:%v", g.times[r], g.vals[r]))
	}
	return out
}

func TestBuildGroupsSortsAndMerges(t *testing.T) {
	sc := testSchema(true)
	pts := []mapping.Point{
		pt(sc, "root.factory.d1", 30, 3.0, int32(3), "c"),
		pt(sc, "root.factory.d2", 5, 0.5, nil, nil),
		pt(sc, "root.factory.d1", 10, 1.0, int32(1), "a"),
		pt(sc, "root.factory.d1", 20, 2.0, int32(2), "b"),
		// duplicate of d1@10: temp changes, state NULL must not erase 1, note changes
		pt(sc, "root.factory.d1", 10, 1.5, nil, "a2"),
		// a third one at the same time: only state
		pt(sc, "root.factory.d1", 10, nil, int32(7), nil),
		pt(sc, "root.factory.d2", 1, 0.1, int32(1), "x"),
	}
	b := getBatch()
	defer putBatch(b)
	b.build(pts)
	if len(b.bad) != 0 {
		t.Fatalf("bad points: %v", b.bad)
	}
	if len(b.groups) != 2 || b.groups[0].device != "root.factory.d1" || b.groups[1].device != "root.factory.d2" {
		t.Fatalf("groups = %+v", b.groups)
	}
	d1 := &b.groups[0]
	want := []string{"10:[1.5 7 a2]", "20:[2 2 b]", "30:[3 3 c]"}
	if got := rowsOf(d1); !reflect.DeepEqual(got, want) {
		t.Errorf("d1 rows = %v, want %v", got, want)
	}
	// The merged row stands for the three input points, in input order.
	if got := d1.points(0, 1); !reflect.DeepEqual(got, []int{2, 4, 5}) {
		t.Errorf("d1 row 0 points = %v", got)
	}
	if got := d1.points(0, 3); !reflect.DeepEqual(got, []int{2, 4, 5, 3, 0}) {
		t.Errorf("d1 points = %v", got)
	}
	if got := rowsOf(&b.groups[1]); !reflect.DeepEqual(got, []string{"1:[0.1 1 x]", "5:[0.5 <nil> <nil>]"}) {
		t.Errorf("d2 rows = %v", got)
	}
	// Merging must not write into the caller's points.
	if pts[2].Values[0] != 1.0 || pts[4].Values[1] != nil {
		t.Errorf("input points modified: %v %v", pts[2].Values, pts[4].Values)
	}
}

func TestBuildSeparatesSchemasWithSameDevice(t *testing.T) {
	a, b2 := testSchema(true), testSchema(true)
	b := getBatch()
	defer putBatch(b)
	b.build([]mapping.Point{pt(a, "root.f.d", 1, 1.0, nil, nil), pt(b2, "root.f.d", 1, 2.0, nil, nil), pt(a, "root.f.d", 2, 3.0, nil, nil)})
	if len(b.groups) != 2 || b.groups[0].rows() != 2 || b.groups[1].rows() != 1 {
		t.Fatalf("groups = %+v", b.groups)
	}
}

// Grouping by (schema, device) through the batch's own hash table gives
// the groups a map would: first-appearance order, every point in its
// group in input order, two schemas with the same device apart. Thousands
// of devices make probe sequences collide; the second build reuses the
// pooled table, which must start empty. The last round is a fleet (every
// device once, an invalid point among them): one row per group, the
// point's own time and values.
func TestBuildGroupsManyDevicesLikeAMap(t *testing.T) {
	a, a2 := testSchema(true), testSchema(true)
	for round, n := range []int{5000, 300, 4000} {
		var pts []mapping.Point
		for i := range n {
			sc := a
			if i%7 == 3 {
				sc = a2
			}
			d := (i*7919 + round) % (n / 3) // each device three times (and under both schemas)
			dev := fmt.Sprintf("root.factory.site%d.dev%d", d%13, d)
			if round == 2 {
				dev = fmt.Sprintf("root.factory.site%d.dev%d", i%13, i)
			}
			p := pt(sc, dev, int64(3*i+round), float64(i), nil, nil)
			if round == 2 && i == 1234 {
				p.Values = p.Values[:1] // invalid: left out of every group
			}
			pts = append(pts, p)
		}
		type key struct {
			sc  *mapping.Schema
			dev string
		}
		var order []key
		want := map[key][]int{}
		for i, p := range pts {
			if len(p.Values) != 3 {
				continue
			}
			k := key{p.Schema, p.Device}
			if _, ok := want[k]; !ok {
				order = append(order, k)
			}
			want[k] = append(want[k], i)
		}
		b := getBatch()
		b.build(pts)
		if fleet := len(order) == len(pts)-len(b.bad); fleet != (round == 2) {
			t.Fatalf("round %d: %d groups of %d points", round, len(order), len(pts))
		}
		if len(b.groups) != len(order) {
			t.Fatalf("round %d: %d groups, want %d", round, len(b.groups), len(order))
		}
		for gi := range b.groups {
			g := &b.groups[gi]
			if k := (key{g.schema, g.device}); k != order[gi] {
				t.Fatalf("round %d: group %d is %v, want %v", round, gi, k, order[gi])
			}
			if got := g.points(0, g.rows()); !reflect.DeepEqual(got, want[order[gi]]) {
				t.Fatalf("round %d: group %d points %v, want %v", round, gi, got, want[order[gi]])
			}
			if round == 2 {
				p := pts[want[order[gi]][0]]
				if g.rows() != 1 || g.times[0] != p.Time || &g.vals[0][0] != &p.Values[0] {
					t.Fatalf("round %d: group %d rows %v, want the point's time %d and values", round, gi, rowsOf(g), p.Time)
				}
			}
		}
		if round == 2 && (len(b.bad) != 1 || b.bad[0].index != 1234) {
			t.Fatalf("bad points %+v", b.bad)
		}
		putBatch(b)
	}
}

func TestBuildRejectsInvalidPoints(t *testing.T) {
	sc := testSchema(true)
	dateSc := &mapping.Schema{Measurements: []string{"d"}, Types: []client.TSDataType{client.DATE}}
	pts := []mapping.Point{
		pt(sc, "root.f.d", 1, 1.0, int32(1), "ok"),
		pt(sc, "root.f.d", 2, 1, int32(1), "int for DOUBLE"),
		pt(sc, "root.f.d", 3, 1.0),
		{Device: "root.f.d", Time: 4},
		pt(dateSc, "root.f.e", 5, time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC)),
		pt(sc, "root.f.d", 6, 1.0, int64(1), "int64 for INT32"),
	}
	b := getBatch()
	defer putBatch(b)
	b.build(pts)
	var got []string
	for _, bp := range b.bad {
		got = append(got, fmt.Sprintf("%d %s", bp.index, bp.msg))
	}
	want := []string{
		"1 measurement temp: int value for type DOUBLE",
		"2 point has 1 values for 3 measurements",
		"3 point has no schema",
		"4 measurement d: DATE 0999-01-01: year must be between 1000 and 9999",
		"5 measurement state: int64 value for type INT32",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bad = %q\nwant  %q", got, want)
	}
	if len(b.groups) != 1 || b.groups[0].rows() != 1 {
		t.Errorf("groups = %+v", b.groups)
	}
}

func TestEncodeTabletWireFormat(t *testing.T) {
	sc := &mapping.Schema{
		Measurements: []string{"b", "i", "l", "f", "d", "s", "bl", "dt", "ts"},
		Types: []client.TSDataType{client.BOOLEAN, client.INT32, client.INT64, client.FLOAT, client.DOUBLE,
			client.TEXT, client.BLOB, client.DATE, client.TIMESTAMP},
	}
	day := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	pts := []mapping.Point{
		pt(sc, "root.x.d", 200, false, nil, int64(-2), float32(2.5), nil, "", []byte{}, nil, int64(7)),
		pt(sc, "root.x.d", 100, true, int32(-1), int64(1), float32(1.5), 3.25, "héllo", []byte{0, 1}, day, nil),
	}
	b := getBatch()
	defer putBatch(b)
	b.build(pts)
	g := &b.groups[0]
	buf, valuesAt, _ := encodeTablet(nil, sc.Types, []segment{{g: g, lo: 0, hi: 2}}, nil)

	var w bytes.Buffer
	be := func(v any) { _ = binary.Write(&w, binary.BigEndian, v) }
	be([]int64{100, 200})
	if !bytes.Equal(buf[:valuesAt], w.Bytes()) {
		t.Fatalf("timestamps = %x, want %x", buf[:valuesAt], w.Bytes())
	}
	w.Reset()
	be([]bool{true, false})
	be([]int32{-1, 0})
	be([]int64{1, -2})
	be([]float32{1.5, 2.5})
	be([]float64{3.25, 0})
	be(int32(6))
	w.WriteString("héllo")
	be(int32(0))
	be(int32(2))
	w.Write([]byte{0, 1})
	be(int32(0))
	be([]int32{20240305, 0})
	be([]int64{0, 7})
	// bitmap section: per column a flag, then rows/8+1 bytes, LSB first, 1 = NULL
	for c := range sc.Types {
		switch c {
		case 1, 4, 7: // row 1 (time 200) is NULL
			w.Write([]byte{1, 0b10})
		case 8: // row 0 is NULL
			w.Write([]byte{1, 0b01})
		default:
			w.WriteByte(0)
		}
	}
	if !bytes.Equal(buf[valuesAt:], w.Bytes()) {
		t.Fatalf("values =\n%x\nwant\n%x", buf[valuesAt:], w.Bytes())
	}
}

func TestEncodeTabletNoNullsHasNoBitmap(t *testing.T) {
	sc := &mapping.Schema{Measurements: []string{"i"}, Types: []client.TSDataType{client.INT32}}
	b := getBatch()
	defer putBatch(b)
	b.build([]mapping.Point{pt(sc, "root.x.d", 1, int32(7))})
	buf, at, _ := encodeTablet(nil, sc.Types, []segment{{g: &b.groups[0], lo: 0, hi: 1}}, nil)
	if got := fmt.Sprintf("%x", buf[at:]); got != "00000007" {
		t.Errorf("values = %s", got)
	}
}

func TestEncodeTabletBitmapSizeOnByteBoundary(t *testing.T) {
	sc := &mapping.Schema{Measurements: []string{"d"}, Types: []client.TSDataType{client.DOUBLE}}
	var pts []mapping.Point
	for i := 0; i < 8; i++ {
		var v any = float64(i)
		if i == 7 {
			v = nil
		}
		pts = append(pts, pt(sc, "root.x.d", int64(i), v))
	}
	b := getBatch()
	defer putBatch(b)
	b.build(pts)
	buf, at, _ := encodeTablet(nil, sc.Types, []segment{{g: &b.groups[0], lo: 0, hi: 8}}, nil)
	tail := buf[at+8*8:]
	// 8 rows: flag + 8/8+1 = 2 bytes (the server always reads size/8+1)
	if !bytes.Equal(tail, []byte{1, 0x80, 0}) {
		t.Errorf("bitmap = %x", tail)
	}
	if math.Float64frombits(binary.BigEndian.Uint64(buf[at+8:])) != 1 {
		t.Errorf("value 1 wrong")
	}
}

func TestMakeChunks(t *testing.T) {
	al, na := testSchema(true), testSchema(false)
	var pts []mapping.Point
	for i := 0; i < 25; i++ {
		pts = append(pts, pt(al, "root.f.a", int64(i), 1.0, nil, nil))
	}
	for i := 0; i < 5; i++ {
		pts = append(pts, pt(na, "root.f.n", int64(i), 1.0, nil, nil), pt(al, "root.f.b", int64(i), 1.0, nil, nil))
	}
	b := getBatch()
	defer putBatch(b)
	b.build(pts)
	var got []string
	for _, c := range chunker(10, 8<<20, false).makeChunks(b.groups) {
		var segs []string
		for _, s := range c.segs {
			segs = append(segs, fmt.Sprintf("%s[%d:%d]", strings.TrimPrefix(s.g.device, "root.f."), s.lo, s.hi))
		}
		got = append(got, fmt.Sprintf("aligned=%v %s", c.aligned, strings.Join(segs, " ")))
	}
	want := []string{
		"aligned=true a[0:10]",
		"aligned=true a[10:20]",
		"aligned=true a[20:25] b[0:5]",
		"aligned=false n[0:5]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("chunks =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// chunker is a sink that only cuts chunks.
func chunker(rows, maxBytes int, table bool) *Sink {
	return &Sink{cfg: config.IoTDB{Batch: config.Batch{Rows: rows, MaxBytes: maxBytes}}, table: table,
		infos: make(map[*mapping.Schema]*schemaInfo)}
}

// TestMakeChunksByBytes: a chunk stays within the byte bound (the server
// refuses larger frames, docs/iotdb.md §1.1), text lengths count, the
// estimate is not below the encoded size, and a row larger than the bound
// goes alone.
func TestMakeChunksByBytes(t *testing.T) {
	sc := &mapping.Schema{Model: "tree", Database: "root.f", Aligned: true,
		Measurements: []string{"v", "txt"}, Types: []client.TSDataType{client.DOUBLE, client.TEXT}}
	var pts []mapping.Point
	for i := 0; i < 300; i++ {
		pts = append(pts, mapping.Point{Device: fmt.Sprintf("root.f.d%d", i%30), Time: int64(i), Schema: sc,
			Values: []any{float64(i), strings.Repeat("x", 1000)}})
	}
	pts = append(pts, mapping.Point{Device: "root.f.huge", Time: 1, Schema: sc, Values: []any{1.0, strings.Repeat("y", 100_000)}})
	b := getBatch()
	defer putBatch(b)
	b.build(pts)
	const limit = 64 << 10
	s := chunker(10000, limit, false)
	rows := 0
	chunks := s.makeChunks(b.groups)
	for _, ch := range chunks {
		rows += ch.rows
		for _, records := range []bool{false, true} {
			ch.records = records
			e := s.encode(ch)
			size := 0
			if records {
				size = len(e.records.body) + 14
			} else {
				for i := range e.tree.ValuesList {
					size += len(e.tree.ValuesList[i]) + len(e.tree.TimestampsList[i]) + len(e.tree.PrefixPaths[i])
				}
			}
			e.free()
			if size > ch.bytes {
				t.Errorf("chunk of %d rows (records %v): %d bytes encoded, estimated %d", ch.rows, records, size, ch.bytes)
			}
			if ch.rows > 1 && size > limit {
				t.Errorf("chunk of %d rows: %d bytes, over the bound %d", ch.rows, size, limit)
			}
		}
	}
	if rows != 301 || len(chunks) < 301*1000/limit {
		t.Errorf("%d rows in %d chunks", rows, len(chunks))
	}
	last := chunks[len(chunks)-1]
	if last.rows != 1 || last.segs[0].g.device != "root.f.huge" {
		t.Errorf("the huge row did not go alone: %d rows, %s", last.rows, last.segs[0].g.device)
	}
}

func TestLastNodeAndUnquote(t *testing.T) {
	for in, want := range map[string]string{
		"root.a.b.temp":          "temp",
		"root.a.`pump-7.b`.x":    "x",
		"root.a.b.`a.b`":         "`a.b`",
		"root.a.b.`a``b`":        "`a``b`",
		"root.a.b.`x.``.y`":      "`x.``.y`",
		"temp":                   "temp",
		"root.a.`d``.`.`m``.n`":  "`m``.n`",
		"root.sg.`pump-7.b`.`1`": "`1`",
	} {
		if got := lastNode(in); got != want {
			t.Errorf("lastNode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := unquote("`a``b`"); got != "a`b" {
		t.Errorf("unquote = %q", got)
	}
}

func TestSQLQuoting(t *testing.T) {
	if got := sqlIdent("device_id"); got != "device_id" {
		t.Errorf("sqlIdent = %s", got)
	}
	if got := sqlIdent(`we"ird id`); got != `"we""ird id"` {
		t.Errorf("sqlIdent = %s", got)
	}
	if got := sqlString("o'brien"); got != "'o''brien'" {
		t.Errorf("sqlString = %s", got)
	}
	sc := &mapping.Schema{TargetTable: "t1", Measurements: []string{"site", "device_id", "temp"},
		Categories: []client.ColumnCategory{client.TAG, client.TAG, client.FIELD}}
	got, err := tableDeleteSQL(Deletion{Schema: sc, Device: "s'1\x00d-2", Time: 42})
	if err != nil || got != "DELETE FROM t1 WHERE time = 42 AND site = 's''1' AND device_id = 'd-2'" {
		t.Errorf("tableDeleteSQL = %q, %v", got, err)
	}
	if _, err := tableDeleteSQL(Deletion{Schema: sc, Device: "only-one", Time: 1}); err == nil {
		t.Error("tableDeleteSQL accepted a device key with too few tag values")
	}
}

// BenchmarkBuildTablets groups, sorts and encodes 100k points of 1000
// devices × 5 measurements, interleaved as a binlog would deliver them.
func BenchmarkBuildTablets(b *testing.B) {
	const devices, n = 1000, 100_000
	sc := &mapping.Schema{
		Model: "tree", Database: "root.bench", Aligned: true,
		Measurements: []string{"temperature", "humidity", "pressure", "state", "label"},
		Types:        []client.TSDataType{client.DOUBLE, client.FLOAT, client.INT64, client.INT32, client.STRING},
	}
	names := make([]string, devices)
	for i := range names {
		names[i] = fmt.Sprintf("root.bench.site%d.dev%d", i%10, i)
	}
	pts := make([]mapping.Point, n)
	for i := range pts {
		var label any = "ok"
		if i%17 == 0 {
			label = nil
		}
		pts[i] = mapping.Point{
			Device: names[i%devices], Time: 1_700_000_000_000 + int64(i/devices), Schema: sc,
			Values: []any{float64(i), float32(i), int64(i), int32(i), label},
		}
	}
	s := chunker(10000, 8<<20, false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt := getBatch()
		bt.build(pts)
		for _, ch := range s.makeChunks(bt.groups) {
			e := s.encode(ch)
			e.free()
		}
		putBatch(bt)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/point")
}

func TestRetryClassification(t *testing.T) {
	msg := "m"
	sub := func(code int32, withMsg bool) *common.TSStatus {
		st := &common.TSStatus{Code: code}
		if withMsg {
			st.Message = &msg
		}
		return st
	}
	cases := []struct {
		name  string
		err   error
		retry bool
	}{
		{"transport", errors.New("connection reset by peer"), true},
		{"deadline", fmt.Errorf("x: %w", errTimeout), true},
		{"closed", errClosed, false},
		{"305", &StatusError{Code: 305}, true},
		{"600", &StatusError{Code: 600}, true},
		{"602", &StatusError{Code: 602}, true},
		{"606", &StatusError{Code: 606}, true},
		{"611", &StatusError{Code: 611}, true},
		{"712", &StatusError{Code: 712}, true},
		{"713", &StatusError{Code: 713}, true},
		{"303", &StatusError{Code: 303}, false},
		{"507", &StatusError{Code: 507}, false},
		{"509", &StatusError{Code: 509}, false},
		{"609", &StatusError{Code: 609}, false},
		{"701", &StatusError{Code: 701}, false},
		{"803", &StatusError{Code: 803}, false},
		{"302 busy", &StatusError{Code: 302, Sub: []*common.TSStatus{sub(200, false), sub(606, true)}}, true},
		{"302 mixed", &StatusError{Code: 302, Sub: []*common.TSStatus{sub(606, true), sub(507, true)}}, false},
	}
	for _, c := range cases {
		if got := Retryable(c.err); got != c.retry {
			t.Errorf("%s: retryable = %v, want %v", c.name, got, c.retry)
		}
	}
	// A 302 whose failing sub-status has no message must not panic (the
	// client's VerifySuccess does), and 302 with only successes is success.
	err := checkStatus("insertTablets", &common.TSStatus{Code: 302, SubStatus: []*common.TSStatus{sub(200, false), sub(507, false)}})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 302 || len(se.Sub) != 2 {
		t.Errorf("checkStatus = %v", err)
	}
	if err := checkStatus("x", &common.TSStatus{Code: 302, SubStatus: []*common.TSStatus{sub(200, false), sub(400, false)}}); err != nil {
		t.Errorf("all-success 302: %v", err)
	}
	if err := checkStatus("x", &common.TSStatus{Code: 400}); err != nil {
		t.Errorf("400: %v", err)
	}
	if !alreadyExists(&StatusError{Code: 507, Message: "Path [root.a.b.c] already exist"}) || alreadyExists(&StatusError{Code: 507, Message: "data type of x is not consistent"}) {
		t.Error("alreadyExists misclassifies 507 messages")
	}
}
