package iotdbsink

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"
	"github.com/apache/thrift/lib/go/thrift"

	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// The sink's own insertRecords encoding is byte for byte what the
// generated thrift code writes for the same request (every type, NULLs
// left out, all-NULL rows skipped, rows without NULLs, two schemas in one
// request).
func TestRawRecordsMatchThrift(t *testing.T) {
	sc := allTypesSchema()
	other := &mapping.Schema{SourceTable: "other", Model: "tree", Database: "root.factory", Aligned: true,
		Measurements: []string{"level", "`time`"}, Types: []client.TSDataType{client.DOUBLE, client.INT64}}
	day := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	var pts []mapping.Point
	for i := 0; i < 40; i++ {
		vals := []any{i%2 == 0, int32(i), int64(-i), float32(i) / 3, float64(i) / 7, fmt.Sprintf("t%d", i), int64(1700000000000 + i), day, []byte{byte(i), 0, 255}, "s"}
		for c := range vals {
			if i%4 != 1 && (i+c)%5 == 0 { // rows 1, 5, 9, ... have no NULL
				vals[c] = nil
			}
		}
		if i == 13 {
			vals = make([]any, len(vals))
		}
		pts = append(pts, mapping.Point{Device: fmt.Sprintf("root.factory.`d-%d`", i%9), Time: int64(1000 + i), Schema: sc, Values: vals})
		if i%3 == 0 {
			ov := []any{float64(i), int64(i)}
			if i%2 == 0 {
				ov[0] = nil
			}
			pts = append(pts, mapping.Point{Device: fmt.Sprintf("root.factory.o%d", i), Time: int64(1000 + i), Schema: other, Values: ov})
		}
	}
	b := getBatch()
	defer putBatch(b)
	b.build(pts)
	s := chunker(1000, 8<<20, false)
	for _, aligned := range []bool{true, false} {
		ch := s.makeChunks(b.groups)[0]
		ch.aligned, ch.records = aligned, true
		e := s.encode(ch)

		req := generatedRecords(ch)
		if len(req.PrefixPaths) != 39+14 || e.records.n != 39+14 {
			t.Fatalf("%d records generated, %d raw; want 53 (one all-NULL row)", len(req.PrefixPaths), e.records.n)
		}
		want := serialize(t, &rpc.IClientRPCServiceInsertRecordsArgs{Req: req})
		got := serialize(t, &recordsArgs{session: 77, raw: e.records})
		if !bytes.Equal(got, want) {
			t.Fatalf("aligned %v: %d bytes encoded, generated code %d; first difference at %d", aligned, len(got), len(want), firstDiff(got, want))
		}
		e.free()
	}
	_ = client.BOOLEAN
}

// generatedRecords is ch as insertRecords through the generated code
// (session 77): a record per row, NULLs left out.
func generatedRecords(ch chunk) *rpc.TSInsertRecordsReq {
	aligned := ch.aligned
	req := &rpc.TSInsertRecordsReq{SessionId: 77, IsAligned: &aligned}
	for _, sg := range ch.segs {
		for r := sg.lo; r < sg.hi; r++ {
			row := sg.g.vals[r]
			var names []string
			var buf []byte
			msc := sg.g.schema
			for c, v := range row {
				if v == nil {
					continue
				}
				names = append(names, msc.Measurements[c])
				buf = append(buf, byte(msc.Types[c]))
				buf = appendValue(buf, msc.Types[c], v)
			}
			if names == nil {
				continue
			}
			req.PrefixPaths = append(req.PrefixPaths, sg.g.device)
			req.MeasurementsList = append(req.MeasurementsList, names)
			req.ValuesList = append(req.ValuesList, buf)
			req.Timestamps = append(req.Timestamps, sg.g.times[r])
		}
	}
	return req
}

// Rows of 300 measurements encode as the generated code does: full (the
// precomputed measurement list), with a NULL, with exactly 256 values.
func TestRawRecordsWideRows(t *testing.T) {
	sc := &mapping.Schema{Model: "tree", Database: "root.w", Aligned: true}
	for i := range 300 {
		sc.Measurements = append(sc.Measurements, fmt.Sprintf("m%03d", i))
		sc.Types = append(sc.Types, client.DOUBLE)
	}
	var pts []mapping.Point
	for r := range 3 {
		vals := make([]any, 300)
		for c := range vals {
			vals[c] = float64(r*1000 + c)
		}
		switch r {
		case 1:
			vals[7] = nil
		case 2:
			clear(vals[256:])
		}
		pts = append(pts, mapping.Point{Device: fmt.Sprintf("root.w.d%d", r), Time: int64(r), Schema: sc, Values: vals})
	}
	b := getBatch()
	defer putBatch(b)
	b.build(pts)
	s := chunker(1000, 8<<20, false)
	ch := s.makeChunks(b.groups)[0]
	ch.records = true
	e := s.encode(ch)
	defer e.free()
	want := serialize(t, &rpc.IClientRPCServiceInsertRecordsArgs{Req: generatedRecords(ch)})
	got := serialize(t, &recordsArgs{session: 77, raw: e.records})
	if !bytes.Equal(got, want) {
		t.Fatalf("%d bytes encoded, generated code %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
}

func serialize(t *testing.T, s thrift.TStruct) []byte {
	t.Helper()
	mem := thrift.NewTMemoryBuffer()
	p := thrift.NewTBinaryProtocolConf(mem, &thrift.TConfiguration{})
	if err := s.Write(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), mem.Bytes()...)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
