package iotdbsink

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// cacheSizes returns how many devices the schema cache holds: its index
// and its clock (whose entries hold the types and verified lists).
func cacheSizes(c *schemaCache) (devices, clock int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.devices), len(c.clock)
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

// TestSchemaCacheClock: a full cache evicts a device not checked since the
// hand last passed (second chance for the others), forget frees a slot,
// and an evicted device is simply unknown again.
func TestSchemaCacheClock(t *testing.T) {
	c := newSchemaCache()
	c.setCapacity(4)
	sc := testSchema(true)
	has := func(d string) bool { _, ok := c.devices[d]; return ok }
	for _, d := range []string{"d0", "d1", "d2", "d3"} {
		c.add(d, sc.Measurements, sc.Types)
	}
	c.check(sc, "d0")
	c.check(sc, "d2")
	c.add("d4", sc.Measurements, sc.Types) // d0 used: second chance; d1 evicted
	if has("d1") || !has("d0") || !has("d2") || !has("d3") || !has("d4") {
		t.Fatalf("after d4: %v", c.devices)
	}
	if known, _ := c.check(sc, "d1"); known {
		t.Error("evicted d1 still known")
	}
	c.add("d5", sc.Measurements, sc.Types) // hand at d2 (used: cleared), d3 unused: evicted
	if has("d3") || !has("d2") {
		t.Fatalf("after d5: %v", c.devices)
	}
	c.forget("d4")
	c.add("d6", sc.Measurements, sc.Types) // takes d4's slot: nothing evicted
	if len(c.devices) != 4 || len(c.clock) != 4 || !has("d6") || has("d4") || !has("d0") || !has("d2") || !has("d5") {
		t.Fatalf("after d6: %v (clock %d)", c.devices, len(c.clock))
	}
	c.add("d7", sc.Measurements, sc.Types) // hand at d0, not checked since: evicted
	if has("d0") || !has("d7") {
		t.Fatalf("after d7: %v", c.devices)
	}
	for i := 0; i < 1000; i++ {
		d := fmt.Sprintf("x%d", i)
		c.add(d, sc.Measurements[:1], sc.Types[:1])
		c.add(d, sc.Measurements[1:], sc.Types[1:])
		if known, conflict := c.check(sc, d); !known || conflict != "" {
			t.Fatalf("%s just added: known %v conflict %q", d, known, conflict)
		}
		if len(c.devices) > 4 || len(c.clock) > 4 {
			t.Fatalf("cache grew to %d devices (clock %d)", len(c.devices), len(c.clock))
		}
	}
	n := 0
	for _, e := range c.clock {
		if e != nil {
			n++
			if c.devices[e.device] != e || c.clock[e.slot] != e {
				t.Errorf("clock and index disagree on %s", e.device)
			}
		}
	}
	if n != len(c.devices) {
		t.Errorf("clock holds %d entries, index %d", n, len(c.devices))
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
		c.add(devs[i], sc.Measurements, sc.Types)
		c.check(sc, devs[i])
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if known, _ := c.check(sc, devs[i%n]); !known {
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
		c.add(d, sc.Measurements, sc.Types)
		c.check(sc, d)
	}
}
