package mapping

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// MapArena renders the same device paths as Map (quoting, nodes of several
// pieces, numbers, both source paths), and a path handed out stays as it
// was while thousands more are rendered into the same arena (blocks are
// never written over), even when the row's own bytes change afterwards:
// the path is a copy, not a view of the row.
func TestMapArenaPathsStayIntact(t *testing.T) {
	m := baseMapping()
	m.Device = "root.factory.${site}.p_${device_id}_x.${id}"
	m.Measurements = []config.Measurement{{Column: "temperature"}}
	mp := mustCompile(t, m, Options{})
	var a Arena
	type kept struct {
		p    Point
		want string
	}
	var all []kept
	ids := []string{"pump-7.b", "a`b", "東京工場", "pump🚀", "42", "time", "x", strings.Repeat("long", 40)}
	for i := range 5000 {
		for _, binlog := range []bool{false, true} {
			r := sqlRow()
			if binlog {
				r = binlogRow()
			}
			id := fmt.Sprintf("%s%d", ids[i%len(ids)], i)
			if binlog {
				r["device_id"] = id
			} else {
				r["device_id"] = []byte(id)
			}
			r["id"] = int64(i)
			r["big"] = int64(1)
			row := rowOf(t, mp, r)
			want, err := mp.Map(row)
			if err != nil {
				t.Fatal(err)
			}
			got, err := mp.MapArena(row, make([]any, 1), &a)
			if err != nil {
				t.Fatal(err)
			}
			if got.Device != want.Device {
				t.Fatalf("row %d: MapArena device %s, Map %s", i, got.Device, want.Device)
			}
			if b, ok := r["device_id"].([]byte); ok {
				copy(b, "#####") // the reader reuses no bytes, but the path must not depend on them
			}
			all = append(all, kept{got, want.Device})
		}
	}
	for i, k := range all {
		if k.p.Device != k.want {
			t.Fatalf("point %d: device now %q, was rendered as %q", i, k.p.Device, k.want)
		}
	}
}

// A row whose path cannot be rendered (an illegal node) is a dirty row and
// hands out nothing; the next row renders correctly into the same arena.
func TestMapArenaDirtyRowThenGoodRow(t *testing.T) {
	mp := mustCompile(t, baseMapping(), Options{})
	var a Arena
	r := sqlRow()
	r["big"] = int64(1)
	r["device_id"] = []byte("bad\x01node")
	if _, err := mp.MapArena(rowOf(t, mp, r), make([]any, len(mp.Schema().Measurements)), &a); err == nil {
		t.Fatal("control character in a node: no error")
	} else if de, reason := dirtyReason(t, err); reason != ReasonIllegalPath || de.Column != "device_id" {
		t.Fatalf("dirty %+v", de)
	}
	r["device_id"] = []byte("good")
	p, err := mp.MapArena(rowOf(t, mp, r), make([]any, len(mp.Schema().Measurements)), &a)
	if err != nil || p.Device != "root.factory.berlin.good" {
		t.Fatalf("device %q, %v", p.Device, err)
	}
}

// Mapping into an arena with the caller's value slots allocates nothing
// per row for the device path (a block now and then, for thousands of
// rows): with 10^6 devices every row has its own path, and a string per
// row was most of the mapping's extra cost (issue 10).
func TestMapArenaAllocations(t *testing.T) {
	m := baseMapping()
	m.Measurements = []config.Measurement{{Column: "temperature"}, {Column: "humidity"}}
	mp := mustCompile(t, m, Options{})
	row := rowOf(t, mp, sqlRow())
	values := make([]any, 2)
	var a Arena
	allocs := testing.AllocsPerRun(1000, func() {
		clear(values)
		if _, err := mp.MapArena(row, values, &a); err != nil {
			t.Fatal(err)
		}
	})
	// The values are the row's own (DOUBLE and FLOAT pass through unboxed)
	// and the path goes to the arena's block.
	if allocs != 0 {
		t.Errorf("%v allocations per MapArena, want 0", allocs)
	}
}
