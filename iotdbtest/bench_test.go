package iotdbtest

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// BenchmarkIngest pushes 1000-row × 5-measurement aligned tablets through
// the real v2.0.10 client over TCP (one tablet per op). CPU is the whole
// process (client encoding + server), measured with getrusage.
func BenchmarkIngest(b *testing.B) {
	srv := Start(b, Options{})
	s := openTree(b, srv)
	const rows, cols = 1000, 5
	ms := make([]*client.MeasurementSchema, cols)
	for i := range ms {
		dt := client.DOUBLE
		if i%2 == 1 {
			dt = client.INT64
		}
		ms[i] = &client.MeasurementSchema{Measurement: fmt.Sprintf("m%d", i), DataType: dt}
	}
	const devices = 10
	tabs := make([]*client.Tablet, devices)
	for d := range tabs {
		tab, err := client.NewTablet(fmt.Sprintf("root.bench.d%d", d), ms, rows)
		must(b, err)
		tabs[d] = tab
	}
	fill := func(tab *client.Tablet, base int64) {
		tab.Reset()
		for r := 0; r < rows; r++ {
			tab.SetTimestamp(base+int64(r), r)
			for c := 0; c < cols; c++ {
				if c%2 == 1 {
					_ = tab.SetValueAt(base+int64(r), c, r)
				} else {
					_ = tab.SetValueAt(float64(r)*0.5, c, r)
				}
			}
			tab.RowSize++
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		tab := tabs[i%devices]
		fill(tab, int64(i/devices)*rows) // client-side tablet building is part of the measured work
		if err := s.InsertAlignedTablet(tab, true); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := b.Elapsed()
	cpu := cpuSeconds() - cpu0
	points := float64(b.N) * rows * cols
	b.ReportMetric(points/elapsed.Seconds(), "points/s")
	b.ReportMetric(cpu/(points/1e6), "cpu-s/Mpoints")
	if got := srv.Stats().PointsWritten; got != int64(points) {
		b.Fatalf("points written %d want %v", got, points)
	}
}

// BenchmarkServerIngest isolates the server side: decode + store of one
// 1000×5 tablet (no network, no client encoding).
func BenchmarkServerIngest(b *testing.B) {
	st := newStore()
	const rows, cols = 1000, 5
	names := make([]string, cols)
	types := make([]int32, cols)
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
		types[i] = int32(client.DOUBLE)
	}
	vals := make([]byte, rows*cols*8)
	tsb := make([]byte, rows*8)
	o := writeOpts{autoCreate: true, partialInsert: true, precision: "ms"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		base := int64(i) * rows
		for r := 0; r < rows; r++ {
			v := uint64(base + int64(r))
			for k := 0; k < 8; k++ {
				tsb[r*8+k] = byte(v >> (56 - 8*k))
			}
		}
		times, _ := decodeTimes(tsb, rows)
		c, err := decodeTablet(vals, names, types, rows)
		if err != nil {
			b.Fatal(err)
		}
		st.mu.Lock()
		if r := st.writeTree([]treeUnit{{device: "root.b.d", times: times, cols: c, aligned: true}}, o); r.Code != 200 {
			b.Fatal(r.GetMessage())
		}
		st.mu.Unlock()
	}
	b.ReportMetric(float64(b.N)*rows*cols/b.Elapsed().Seconds(), "points/s")
}
