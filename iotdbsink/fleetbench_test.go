package iotdbsink

import (
	"fmt"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// BenchmarkBuildFleet groups, chunks and encodes 10k points of 1000 devices
// (tablets) and of 100k devices (one row each: records), the fleet shape
// of issue 10.
func BenchmarkBuildFleet(b *testing.B) {
	for _, devices := range []int{1000, 100000} {
		b.Run(fmt.Sprint(devices), func(b *testing.B) {
			const n = 10000
			sc := &mapping.Schema{Model: "tree", Database: "root.bench", Aligned: true,
				Measurements: []string{"temperature", "humidity", "pressure", "voltage", "status"},
				Types:        []client.TSDataType{client.DOUBLE, client.DOUBLE, client.DOUBLE, client.FLOAT, client.INT32}}
			names := make([]string, devices)
			for i := range names {
				names[i] = fmt.Sprintf("root.bench.site%02d.dev%07d", i%20, i)
			}
			pts := make([]mapping.Point, n)
			for i := range pts {
				pts[i] = mapping.Point{Device: names[i%devices], Time: int64(i / devices), Schema: sc,
					Values: []any{float64(i), float64(i), float64(i), float32(i), int32(i)}}
			}
			s := chunker(10000, 8<<20, false)
			b.ReportAllocs()
			for b.Loop() {
				bt := getBatch()
				bt.build(pts)
				for _, ch := range s.makeChunks(bt.groups) {
					ch.records = ch.rows < 2*len(ch.segs)
					e := s.encode(ch)
					e.free()
				}
				putBatch(bt)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
