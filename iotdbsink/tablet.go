package iotdbsink

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// This file turns a batch of points into tablets: pure code, no I/O.
//
// Points are grouped per (Schema, Device). Inside a group the points are
// stable-sorted by time and points with equal timestamps are merged into one
// row: the non-NULL values of a later point overwrite the earlier values, a
// later NULL leaves the earlier value in place. That is exactly what IoTDB
// would store if the points were written one after another (last write wins,
// a NULL write never clears a value), so merging inside a batch gives the same
// end state as a replay of the individual rows, and the server never sees a
// tablet with duplicate timestamps (whose winner would be undefined).
//
// The tablet wire format (values and timestamps, docs/iotdb.md §2.3) is encoded
// here directly from the points instead of going through client.Tablet: the
// sink talks to IoTDB over its own Thrift connection (see session.go), and
// skipping the intermediate columnar copy keeps the encoder at a few
// nanoseconds per value with no per-point allocations.

// group is the points of one (Schema, Device) pair.
type group struct {
	schema *mapping.Schema
	device string
	// idx holds the indexes (into the caller's points) of the group's points,
	// stable-sorted by time after prepare. Row r of the group covers
	// idx[rowStart[r]:rowStart[r+1]] (more than one point when timestamps repeat).
	idx      []int32
	rowStart []int32
	times    []int64 // one per row
	vals     [][]any // one per row: the point's Values, or a merged copy
	rejected bool    // set when the whole group was rejected before sending
	hash     uint64  // of (schema, device): the batch's table (build)
}

// rows is the number of distinct timestamps in the group.
func (g *group) rows() int { return len(g.times) }

// points returns the indexes of the input points behind rows [lo, hi).
func (g *group) points(lo, hi int) []int {
	out := make([]int, 0, g.rowStart[hi]-g.rowStart[lo])
	for _, i := range g.idx[g.rowStart[lo]:g.rowStart[hi]] {
		out = append(out, int(i))
	}
	return out
}

// batch is the reusable working memory of one Write call. Pooled, so that a
// steady stream of batches allocates next to nothing.
type batch struct {
	// slots is an open-addressing hash table (linear probing) of the
	// groups by (schema, device): group index + 1, 0 for an empty slot;
	// at most half full. A fleet batch has a group per point, and a
	// table of our own, cleared with one memclr per batch, costs a
	// fraction of a Go map's insert per new key (issue 10's profiles).
	slots  []int32
	groups []group
	counts []int32 // per group: its points
	gid    []int32 // per input point: its group, or -1 when rejected
	idx    []int32 // backing store for every group's idx
	starts []int32 // backing store for every group's rowStart
	times  []int64 // backing store for every group's times
	vals   [][]any // backing store for every group's vals
	bad    []badPoint
}

// badPoint is an input point that cannot be encoded at all.
type badPoint struct {
	index int
	msg   string
}

var batchPool = sync.Pool{New: func() any { return &batch{} }}

// groupSeed seeds the device hashes of every batch.
var groupSeed = maphash.MakeSeed()

func getBatch() *batch { return batchPool.Get().(*batch) }

func putBatch(b *batch) {
	// Drop references to the caller's values so the pool does not pin them.
	clear(b.vals)
	for i := range b.groups {
		b.groups[i] = group{}
	}
	b.groups = b.groups[:0]
	b.bad = b.bad[:0]
	batchPool.Put(b)
}

// build groups, sorts and merges pts. Points that cannot be encoded (no
// schema, wrong number of values, a value of the wrong Go type) are listed in
// b.bad and left out.
func (b *batch) build(pts []mapping.Point) {
	n := len(pts)
	b.gid = grow(b.gid, n)
	b.counts = b.counts[:0]
	size := 64
	for size < 2*n {
		size *= 2
	}
	b.slots = grow(b.slots, size)
	clear(b.slots)
	mask := uint64(size - 1)
	last := int32(-1)
	var lastSchema *mapping.Schema
	var schemaHash uint64
	for i := range pts {
		p := &pts[i]
		if msg := validate(p); msg != "" {
			b.gid[i] = -1
			b.bad = append(b.bad, badPoint{index: i, msg: msg})
			continue
		}
		// Runs of the same device are common (one device's history, or one
		// row per device per tick); skip the table for them.
		if last >= 0 && p.Schema == b.groups[last].schema && p.Device == b.groups[last].device {
			b.gid[i] = last
			b.counts[last]++
			continue
		}
		if p.Schema != lastSchema {
			lastSchema, schemaHash = p.Schema, schemaHashOf(p.Schema)
		}
		h := maphash.String(groupSeed, p.Device) ^ schemaHash
		k := h & mask
		g := int32(-1)
		for {
			s := b.slots[k]
			if s == 0 {
				g = int32(len(b.groups))
				b.groups = append(b.groups, group{schema: p.Schema, device: p.Device, hash: h})
				b.counts = append(b.counts, 0)
				b.slots[k] = g + 1
				break
			}
			if gr := &b.groups[s-1]; gr.hash == h && gr.schema == p.Schema && gr.device == p.Device {
				g = s - 1
				break
			}
			k = (k + 1) & mask
		}
		b.gid[i] = g
		b.counts[g]++
		last = g
	}
	counts := b.counts
	if len(b.groups) == n-len(b.bad) {
		b.oneRowGroups(pts)
		return
	}

	// Counting sort of the point indexes by group: stable, one pass.
	b.idx = grow(b.idx, n-len(b.bad))
	off := int32(0)
	for g := range b.groups {
		b.groups[g].idx = b.idx[off : off : off+counts[g]]
		off += counts[g]
	}
	for i := range pts {
		if g := b.gid[i]; g >= 0 {
			b.groups[g].idx = append(b.groups[g].idx, int32(i))
		}
	}

	b.times = b.times[:0]
	b.vals = b.vals[:0]
	b.starts = b.starts[:0]
	for g := range b.groups {
		b.prepare(&b.groups[g], pts)
	}
	// prepare appended to the shared backing slices, which may have moved:
	// slice the groups' views only now.
	rowOff, startOff := 0, 0
	for g := range b.groups {
		gr := &b.groups[g]
		nr := len(gr.times)
		gr.times = b.times[rowOff : rowOff+nr : rowOff+nr]
		gr.vals = b.vals[rowOff : rowOff+nr : rowOff+nr]
		gr.rowStart = b.starts[startOff : startOff+nr+1 : startOff+nr+1]
		rowOff += nr
		startOff += nr + 1
	}
}

// oneRowGroups finishes build when every group holds one point (a fleet:
// one row per device): group g is the g-th valid point, its row that
// point's time and values as they are; no sort, no merge.
func (b *batch) oneRowGroups(pts []mapping.Point) {
	ng := len(b.groups)
	b.idx = grow(b.idx, ng)
	b.times = grow(b.times, ng)
	b.vals = grow(b.vals, ng)
	b.starts = grow(b.starts, 2*ng)
	g := 0
	for i := range pts {
		if b.gid[i] < 0 {
			continue
		}
		b.idx[g] = int32(i)
		b.times[g] = pts[i].Time
		b.vals[g] = pts[i].Values
		b.starts[2*g], b.starts[2*g+1] = 0, 1
		gr := &b.groups[g]
		gr.idx = b.idx[g : g+1 : g+1]
		gr.times = b.times[g : g+1 : g+1]
		gr.vals = b.vals[g : g+1 : g+1]
		gr.rowStart = b.starts[2*g : 2*g+2 : 2*g+2]
		g++
	}
}

// schemaHashOf mixes the address of sc (Go's heap objects do not move)
// into a hash that tells the schemas of one batch apart.
func schemaHashOf(sc *mapping.Schema) uint64 {
	x := uint64(uintptr(unsafe.Pointer(sc))) * 0x9e3779b97f4a7c15
	return x ^ x>>29
}

// prepare sorts one group by time (stable) and merges equal timestamps. It
// appends the rows to b.times/b.vals/b.starts and records only their count in
// g.times (re-sliced by build afterwards).
func (b *batch) prepare(g *group, pts []mapping.Point) {
	idx := g.idx
	sorted := true
	for k := 1; k < len(idx); k++ {
		if pts[idx[k]].Time < pts[idx[k-1]].Time {
			sorted = false
			break
		}
	}
	if !sorted {
		slices.SortStableFunc(idx, func(a, c int32) int { return cmp.Compare(pts[a].Time, pts[c].Time) })
	}
	rowsBefore := len(b.times)
	for k := 0; k < len(idx); {
		t := pts[idx[k]].Time
		end := k + 1
		for end < len(idx) && pts[idx[end]].Time == t {
			end++
		}
		b.starts = append(b.starts, int32(k))
		b.times = append(b.times, t)
		if end == k+1 {
			b.vals = append(b.vals, pts[idx[k]].Values)
		} else {
			b.vals = append(b.vals, mergeValues(pts, idx[k:end]))
		}
		k = end
	}
	b.starts = append(b.starts, int32(len(idx)))
	g.times = b.times[rowsBefore:len(b.times):len(b.times)] // length only; re-sliced in build
}

// mergeValues folds points with one timestamp into one row the way IoTDB
// would apply them in order: a later non-NULL value wins, a later NULL does
// not clear an earlier value.
func mergeValues(pts []mapping.Point, idx []int32) []any {
	out := make([]any, len(pts[idx[0]].Values))
	for _, i := range idx {
		for c, v := range pts[i].Values {
			if v != nil {
				out[c] = v
			}
		}
	}
	return out
}

// validate returns why a point cannot be encoded, or "".
func validate(p *mapping.Point) string {
	sc := p.Schema
	if sc == nil {
		return "point has no schema"
	}
	if len(p.Values) != len(sc.Measurements) || len(sc.Types) != len(sc.Measurements) {
		return fmt.Sprintf("point has %d values for %d measurements", len(p.Values), len(sc.Measurements))
	}
	for c, v := range p.Values {
		if v == nil {
			continue
		}
		ok := false
		switch sc.Types[c] {
		case client.BOOLEAN:
			_, ok = v.(bool)
		case client.INT32:
			_, ok = v.(int32)
		case client.INT64, client.TIMESTAMP:
			_, ok = v.(int64)
		case client.FLOAT:
			_, ok = v.(float32)
		case client.DOUBLE:
			_, ok = v.(float64)
		case client.TEXT, client.STRING, client.BLOB:
			switch v.(type) {
			case string, []byte:
				ok = true
			}
		case client.DATE:
			var d time.Time
			if d, ok = v.(time.Time); ok {
				if _, err := client.DateToInt32(d); err != nil {
					return fmt.Sprintf("measurement %s: DATE %s: %v", sc.Measurements[c], d.Format(time.DateOnly), err)
				}
			}
		default:
			return fmt.Sprintf("measurement %s: unsupported type %s", sc.Measurements[c], TypeName(sc.Types[c]))
		}
		if !ok {
			return fmt.Sprintf("measurement %s: %T value for type %s", sc.Measurements[c], v, TypeName(sc.Types[c]))
		}
	}
	return ""
}

// segment is rows [lo, hi) of one group: the unit that goes into a tablet.
type segment struct {
	g      *group
	lo, hi int
}

func (s segment) rows() int { return s.hi - s.lo }

// encodeTablet appends the wire form of the rows of segs (all of one schema,
// in order) to buf: first the timestamps, then the values with the optional
// null bitmaps (docs/iotdb.md §2.3). It returns the extended buffer and the offsets
// where the values start and end; the timestamps are buf[start:valuesAt].
// Values must have been validated.
func encodeTablet(buf []byte, types []client.TSDataType, segs []segment, nulls []byte) (out []byte, valuesAt int, nullScratch []byte) {
	n := 0
	for _, s := range segs {
		n += s.rows()
		for _, t := range s.g.times[s.lo:s.hi] {
			buf = binary.BigEndian.AppendUint64(buf, uint64(t))
		}
	}
	valuesAt = len(buf)
	bmLen := n/8 + 1 // the server always expects size/8+1 bytes
	nulls = grow(nulls, bmLen*len(types))
	clear(nulls)
	anyNull := false
	for c, typ := range types {
		bm := nulls[c*bmLen : (c+1)*bmLen]
		r := 0
		for _, s := range segs {
			rows := s.g.vals[s.lo:s.hi]
			// One loop per type keeps the type switch out of the row loop.
			switch typ {
			case client.DOUBLE:
				for _, row := range rows {
					x, ok := row[c].(float64)
					if !ok {
						bm[r>>3] |= 1 << (r & 7)
					}
					buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(x))
					r++
				}
			case client.INT64, client.TIMESTAMP:
				for _, row := range rows {
					x, ok := row[c].(int64)
					if !ok {
						bm[r>>3] |= 1 << (r & 7)
					}
					buf = binary.BigEndian.AppendUint64(buf, uint64(x))
					r++
				}
			case client.INT32:
				for _, row := range rows {
					x, ok := row[c].(int32)
					if !ok {
						bm[r>>3] |= 1 << (r & 7)
					}
					buf = binary.BigEndian.AppendUint32(buf, uint32(x))
					r++
				}
			case client.FLOAT:
				for _, row := range rows {
					x, ok := row[c].(float32)
					if !ok {
						bm[r>>3] |= 1 << (r & 7)
					}
					buf = binary.BigEndian.AppendUint32(buf, math.Float32bits(x))
					r++
				}
			default:
				for _, row := range rows {
					v := row[c]
					if v == nil {
						bm[r>>3] |= 1 << (r & 7)
					}
					buf = appendValue(buf, typ, v)
					r++
				}
			}
		}
	}
	for _, x := range nulls {
		if x != 0 {
			anyNull = true
			break
		}
	}
	if anyNull {
		for c := range types {
			bm := nulls[c*bmLen : (c+1)*bmLen]
			has := false
			for _, x := range bm {
				if x != 0 {
					has = true
					break
				}
			}
			if !has {
				buf = append(buf, 0)
				continue
			}
			buf = append(buf, 1)
			buf = append(buf, bm...)
		}
	}
	return buf, valuesAt, nulls
}

// appendValue appends one cell. A NULL cell still takes its slot (zero value,
// or an empty string).
func appendValue(buf []byte, typ client.TSDataType, v any) []byte {
	switch typ {
	case client.BOOLEAN:
		if b, _ := v.(bool); b {
			return append(buf, 1)
		}
		return append(buf, 0)
	case client.INT32:
		x, _ := v.(int32)
		return binary.BigEndian.AppendUint32(buf, uint32(x))
	case client.DATE:
		var x int32
		if d, ok := v.(time.Time); ok {
			x, _ = client.DateToInt32(d)
		}
		return binary.BigEndian.AppendUint32(buf, uint32(x))
	case client.INT64, client.TIMESTAMP:
		x, _ := v.(int64)
		return binary.BigEndian.AppendUint64(buf, uint64(x))
	case client.FLOAT:
		x, _ := v.(float32)
		return binary.BigEndian.AppendUint32(buf, math.Float32bits(x))
	case client.DOUBLE:
		x, _ := v.(float64)
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(x))
	default: // TEXT, STRING, BLOB
		switch x := v.(type) {
		case string:
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(x)))
			return append(buf, x...)
		case []byte:
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(x)))
			return append(buf, x...)
		}
		return binary.BigEndian.AppendUint32(buf, 0)
	}
}

// grow returns s resized to n, reusing its array when large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n, n+n/4)
}

// TypeName is the SQL name of an IoTDB data type (INT32, TEXT, ...), as
// IoTDB writes it in SHOW TIMESERIES and takes it in CREATE statements.
func TypeName(t client.TSDataType) string {
	switch t {
	case client.BOOLEAN:
		return "BOOLEAN"
	case client.INT32:
		return "INT32"
	case client.INT64:
		return "INT64"
	case client.FLOAT:
		return "FLOAT"
	case client.DOUBLE:
		return "DOUBLE"
	case client.TEXT:
		return "TEXT"
	case client.TIMESTAMP:
		return "TIMESTAMP"
	case client.DATE:
		return "DATE"
	case client.BLOB:
		return "BLOB"
	case client.STRING:
		return "STRING"
	case client.OBJECT:
		return "OBJECT"
	}
	return fmt.Sprintf("type(%d)", int8(t))
}
