package iotdbtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"
)

// BenchmarkServerManyDevices measures the store alone (no network) on the
// fleet shape of issue 10: every op is one insertTablets of 10000 one-row
// tablets, each a different device, cycling over `devices` devices, so
// each device gets a new point per pass. It reports ns per point and the
// heap held per device once every device exists.
func BenchmarkServerManyDevices(b *testing.B) {
	for _, devices := range []int{1000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("devices=%d", devices), func(b *testing.B) {
			benchManyDevices(b, devices, false)
		})
		b.Run(fmt.Sprintf("devices=%d/template", devices), func(b *testing.B) {
			benchManyDevices(b, devices, true)
		})
	}
}

func benchManyDevices(b *testing.B, devices int, template bool) {
	const perOp, cols = 10000, 5
	st := newStore()
	o := writeOpts{autoCreate: true, partialInsert: true, precision: "ms"}
	names := []string{"temperature", "humidity", "pressure", "voltage", "status"}
	types := []int32{int32(client.DOUBLE), int32(client.DOUBLE), int32(client.DOUBLE), int32(client.FLOAT), int32(client.INT32)}
	if template {
		if !setupBenchTemplate(b, st, names, types) {
			return
		}
	}
	paths := make([]string, devices)
	for d := range paths {
		paths[d] = fmt.Sprintf("root.bench.site%02d.dev%07d", d%20, d)
	}
	vals := make([]byte, 0, 64)
	for c, t := range types {
		switch client.TSDataType(t) {
		case client.DOUBLE:
			vals = binary.BigEndian.AppendUint64(vals, math.Float64bits(float64(c)))
		default:
			vals = binary.BigEndian.AppendUint32(vals, uint32(c))
		}
	}
	// write one pass over every device first (outside the timer) so the
	// measured ops hit existing devices, as a long backfill does
	next := 0
	op := func() {
		units := make([]treeUnit, perOp)
		for i := range units {
			d := next % devices
			t := int64(next / devices)
			next++
			tsb := binary.BigEndian.AppendUint64(nil, uint64(t))
			times, _ := decodeTimes(tsb, 1)
			c, err := decodeTablet(vals, names, types, 1)
			if err != nil {
				b.Fatal(err)
			}
			units[i] = treeUnit{device: paths[d], times: times, cols: c, aligned: true}
		}
		st.mu.Lock()
		if r := st.writeTree(units, o); r.Code != 200 {
			b.Fatal(r.GetMessage())
		}
		st.mu.Unlock()
	}
	for next < devices {
		op()
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := float64(ms.HeapAlloc) / float64(devices)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perOp*cols), "ns/point")
	b.ReportMetric(heap, "heapB/device")
}

// setupBenchTemplate creates an aligned template of the benchmark's
// measurements and sets it on root.bench.
func setupBenchTemplate(b *testing.B, st *store, names []string, types []int32) bool {
	if e := st.createDB("root.bench"); e != nil {
		b.Fatal(e.msg)
	}
	ts := &tmplStmt{kind: tkCreate, name: "fleet", aligned: true}
	for i, n := range names {
		ts.cols = append(ts.cols, colDef{name: n, typ: client.TSDataType(types[i])})
	}
	if e := st.createTemplate(ts); e != nil {
		b.Fatal(e.msg)
	}
	if e := st.setTemplate("fleet", "root.bench"); e != nil {
		b.Fatal(e.msg)
	}
	return true
}
