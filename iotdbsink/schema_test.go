package iotdbsink

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// cacheSizes returns how many (schema, device) pairs the schema cache
// holds, in both generations (twice, for the callers that compared two
// structures before).
func cacheSizes(c *schemaCache) (pairs, again int) {
	n := c.size()
	return n, n
}

func limitCache(c *schemaCache, n int) { c.setCapacity(n) }

// TestIntegrationSchemaCacheStaysBounded writes many more devices than the
// schema cache holds, aligned and not: the cache must stay within its
// capacity, and devices it evicted long ago must still be written exactly
// (their series re-checked, not re-created with other types) and a type
// conflict on one still be rejected.
func TestIntegrationSchemaCacheStaysBounded(t *testing.T) {
	skipShort(t)
	const capacity, rounds, perRound = 64, 10, 50
	srv := iotdbtest.Start(t, iotdbtest.Options{DisableAutoCreate: true})
	s := openSink(t, testConfig(srv))
	limitCache(&s.schemas, capacity)
	aligned := &mapping.Schema{SourceTable: "fleet", Model: "tree", Database: "root.fleet", Aligned: true,
		Measurements: []string{"temp", "state"}, Types: []client.TSDataType{client.DOUBLE, client.INT32}}
	plain := &mapping.Schema{SourceTable: "plain", Model: "tree", Database: "root.plain",
		Measurements: []string{"v"}, Types: []client.TSDataType{client.INT64}}
	dev := func(sc *mapping.Schema, i int) string { return fmt.Sprintf("%s.site%d.dev%d", sc.Database, i%7, i) }

	for r := 0; r < rounds; r++ {
		var pts []mapping.Point
		for i := r * perRound; i < (r+1)*perRound; i++ {
			pts = append(pts, pt(aligned, dev(aligned, i), 1000, float64(i), int32(i)), pt(plain, dev(plain, i), 1000, int64(i)))
		}
		if res := write(t, s, pts); res.Points != len(pts) || len(res.Rejected) != 0 {
			t.Fatalf("round %d: result = %+v", r, res)
		}
		if d, v := cacheSizes(&s.schemas); d > capacity || v > capacity {
			t.Fatalf("after %d devices the schema cache holds %d devices (clock %d), capacity %d",
				2*(r+1)*perRound, d, v, capacity)
		}
	}

	// The first devices were evicted long ago: write them again.
	var pts []mapping.Point
	for i := 0; i < perRound; i++ {
		pts = append(pts, pt(aligned, dev(aligned, i), 2000, float64(-i), nil), pt(plain, dev(plain, i), 2000, int64(-i)))
	}
	before := srv.Stats().Statements
	if res := write(t, s, pts); res.Points != len(pts) || len(res.Rejected) != 0 {
		t.Fatalf("evicted devices: result = %+v", res)
	}
	if n := srv.Stats().Statements - before; n < 2*perRound {
		t.Errorf("%d statements to write %d evicted devices again: they were not re-checked (SHOW TIMESERIES)", n, 2*perRound)
	}
	for i := 0; i < rounds*perRound; i++ {
		wantT, wantS, wantV := fmt.Sprintf("1000=%d", i), fmt.Sprintf("1000=%d", i), fmt.Sprintf("1000=%d", i)
		if i < perRound {
			wantT += fmt.Sprintf(" 2000=%d", -i)
			wantV += fmt.Sprintf(" 2000=%d", -i)
		}
		expectPoints(t, srv, dev(aligned, i)+".temp", wantT)
		expectPoints(t, srv, dev(aligned, i)+".state", wantS)
		expectPoints(t, srv, dev(plain, i)+".v", wantV)
		if t.Failed() {
			t.FailNow()
		}
	}
	for _, si := range srv.Series() {
		want := client.INT64
		switch {
		case strings.HasSuffix(si.Path, ".temp"):
			want = client.DOUBLE
		case strings.HasSuffix(si.Path, ".state"):
			want = client.INT32
		}
		if si.Type != want || si.Aligned != strings.HasPrefix(si.Path, "root.fleet.") {
			t.Errorf("series %s: type %v aligned %v", si.Path, si.Type, si.Aligned)
		}
	}
	if n := len(srv.Series()); n != 3*rounds*perRound {
		t.Errorf("%d series, want %d", n, 3*rounds*perRound)
	}

	// A type conflict on an evicted device is still found (from SHOW
	// TIMESERIES now, not the cache) and rejected; nothing of it is written.
	other := &mapping.Schema{SourceTable: "other", Model: "tree", Database: "root.fleet", Aligned: true,
		Measurements: []string{"temp"}, Types: []client.TSDataType{client.INT64}}
	victim := dev(aligned, rounds*perRound/2)
	res := write(t, s, []mapping.Point{pt(other, victim, 3000, int64(7))})
	if len(res.Rejected) != 1 || res.Rejected[0].Code != client.MetadataError ||
		!strings.Contains(res.Rejected[0].Message, "DOUBLE") || !strings.Contains(res.Rejected[0].Message, "INT64") {
		t.Errorf("conflict on an evicted device: result = %+v", res)
	}
	if typ, _ := srv.SeriesType(victim + ".temp"); typ != client.DOUBLE {
		t.Errorf("%s.temp became %v", victim, typ)
	}
	expectPoints(t, srv, victim+".temp", fmt.Sprintf("1000=%d", rounds*perRound/2))
	if d, v := cacheSizes(&s.schemas); d > capacity || v > capacity {
		t.Errorf("the schema cache holds %d devices (clock %d), capacity %d", d, v, capacity)
	}
}

// TestSchemaCacheGenerations: the cache never holds more than its
// capacity; a pair checked recently survives a turnover of the
// generations (a hit moves it to the current one), an old unchecked one
// does not; forget drops a device for every schema; pairs are per schema.
func TestSchemaCacheGenerations(t *testing.T) {
	c := newSchemaCache()
	c.setCapacity(8) // two generations of 4
	sc, other := testSchema(true), testSchema(false)
	for _, d := range []string{"d0", "d1", "d2", "d3"} {
		c.add(sc, d)
	}
	if !c.known(sc, "d0") || c.known(other, "d0") || c.known(sc, "nope") {
		t.Fatal("pairs are per (schema, device)")
	}
	c.add(sc, "d4")         // the current generation (d0..d3) is full: it becomes the previous one
	if !c.known(sc, "d1") { // a hit in the previous generation moves d1 to the current one
		t.Fatal("d1 lost at the first turnover")
	}
	for _, d := range []string{"d5", "d6"} {
		c.add(sc, d)
	}
	// current: d4 d1 d5 d6 (full); the next add turns over again and drops
	// d0, d2, d3, which were never checked since the first turnover
	c.add(sc, "d7")
	for d, want := range map[string]bool{"d0": false, "d2": false, "d3": false, "d1": true, "d4": true, "d7": true} {
		if got := c.known(sc, d); got != want {
			t.Errorf("after the second turnover: known(%s) = %v, want %v", d, got, want)
		}
	}
	c.add(other, "d7")
	c.forget("d7")
	if c.known(sc, "d7") || c.known(other, "d7") {
		t.Error("forget kept d7")
	}
	for i := 0; i < 1000; i++ {
		d := fmt.Sprintf("x%d", i)
		c.add(sc, d)
		if !c.known(sc, d) {
			t.Fatalf("%s just added is unknown", d)
		}
		if n := c.size(); n > 8 {
			t.Fatalf("cache grew to %d pairs, capacity 8", n)
		}
	}
}

// BenchmarkSchemaCacheHit is the per-batch hot path: the check of a device
// the cache knows (one per (schema, device) group of every Write), over
// 10k devices.
func BenchmarkSchemaCacheHit(b *testing.B) {
	const n = 10_000
	c := newSchemaCache()
	sc := testSchema(true)
	devs := make([]string, n)
	for i := range devs {
		devs[i] = fmt.Sprintf("root.factory.site%d.dev%d", i%10, i)
		c.add(sc, devs[i])
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if !c.known(sc, devs[i%n]) {
			b.Fatal("miss")
		}
	}
}

// BenchmarkSchemaCacheNewDevice adds a device never seen before and checks
// it, as a fleet of 2^20 devices does on a miss (with a bounded cache, the
// insert evicts).
func BenchmarkSchemaCacheNewDevice(b *testing.B) {
	const n = 1 << 20
	c := newSchemaCache()
	sc := testSchema(true)
	devs := make([]string, n)
	for i := range devs {
		devs[i] = fmt.Sprintf("root.factory.site%d.dev%d", i%10, i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d := devs[i%n]
		c.add(sc, d)
		c.known(sc, d)
	}
}
