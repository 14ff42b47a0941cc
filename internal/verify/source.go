package verify

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// The source side. Its figures are computed from the points the mapping
// produces (mapping.Point, the one conversion path of both binaries), read
// by the backfill engine (Scanner), never from SQL of its own: a GROUP BY
// in MySQL would have to repeat the conversion (zones and DST, precision
// floors, DECIMAL to double, JSON text, ENUM labels, dirty rows) and any
// mismatch there would show as a difference that is not one.

// key is one device in one bucket of one table.
type key struct {
	table  int
	dev    string
	bucket int64
}

// cells holds the cells of every table, sharded by device so that the
// engine's writers fold in parallel.
type cells struct {
	shards [64]struct {
		mu sync.Mutex
		m  map[key]*cell
	}
	seed maphash.Seed
}

func newCells() *cells {
	c := &cells{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[key]*cell{}
	}
	return c
}

func (c *cells) shard(dev string) int {
	return int(maphash.String(c.seed, dev) % uint64(len(c.shards)))
}

// get returns the cell of k, creating it with n figures.
func (c *cells) get(k key, n int) *cell {
	sh := &c.shards[c.shard(k.dev)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ce := sh.m[k]
	if ce == nil {
		ce = &cell{figs: make([]fig, n)}
		sh.m[k] = ce
	}
	return ce
}

// lookup returns the cell of k or nil.
func (c *cells) lookup(k key) *cell {
	sh := &c.shards[c.shard(k.dev)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.m[k]
}

// drop removes the cells of one table.
func (c *cells) drop(table int) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k := range sh.m {
			if k.table == table {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// each calls fn for every cell (no folding may run meanwhile).
func (c *cells) each(fn func(key, *cell)) {
	for i := range c.shards {
		for k, ce := range c.shards[i].m {
			fn(k, ce)
		}
	}
}

// window is the time range compared: [from, until), in server precision,
// cut into buckets of bucket units aligned to the epoch.
type window struct {
	bucket int64
	until  int64 // math.MaxInt64: not bounded
}

func (w window) bucketOf(t int64) int64 {
	b := t / w.bucket
	if t%w.bucket < 0 {
		b--
	}
	return b
}

func (w window) in(t int64) bool { return t < w.until }

// fold is the PointWriter of the first source pass: it folds each point
// into the figures of its (table, device, bucket) and writes nothing.
type fold struct {
	win    window
	tables map[*mapping.Schema]*tableInfo
	cells  *cells
	bad    func(error) // a point whose value verify cannot read: a bug, reported once
}

func (f *fold) Write(_ context.Context, pts []mapping.Point) (iotdbsink.Result, error) {
	var (
		lastKey key
		lastTI  *tableInfo
		last    *cell
		lock    *sync.Mutex
		buf     [64]byte
		scratch = buf[:0]
	)
	defer func() {
		if lock != nil {
			lock.Unlock()
		}
	}()
	for i := range pts {
		p := &pts[i]
		if !f.win.in(p.Time) {
			continue
		}
		ti := f.tables[p.Schema]
		if ti == nil {
			return iotdbsink.Result{}, fmt.Errorf("verify: a point of an unknown mapping (%s)", p.Schema.SourceTable)
		}
		k := key{table: ti.idx, dev: p.Device, bucket: f.win.bucketOf(p.Time)}
		if last == nil || k != lastKey {
			if lock != nil {
				lock.Unlock()
			}
			sh := &f.cells.shards[f.cells.shard(k.dev)]
			sh.mu.Lock()
			lock = &sh.mu
			last = sh.m[k]
			if last == nil {
				last = &cell{figs: make([]fig, len(ti.fields))}
				sh.m[k] = last
			}
			lastKey, lastTI = k, ti
		}
		ti = lastTI
		for fi, mi := range ti.fields {
			v := p.Values[mi]
			if v == nil {
				continue
			}
			sv, err := srcVal(ti.types[fi], v)
			if err != nil {
				f.bad(fmt.Errorf("table %s measurement %s: %w", ti.name, ti.names[fi], err))
				continue
			}
			scratch = last.figs[fi].add(p.Time, sv, ti.types[fi], f.win.bucket, scratch)
		}
	}
	return iotdbsink.Result{Points: len(pts)}, nil
}

// srcPoint is one source point of a drilled bucket: per field the values
// of the rows that map to this (device, time); more than one distinct
// value is a collision (IoTDB holds one of them).
type srcPoint struct {
	vals [][]val // per field; nil: NULL in every row
	rows int
}

// collect is the PointWriter of the drill-down pass: it keeps the points
// of the buckets in want, keyed by time.
type collect struct {
	win    window
	tables map[*mapping.Schema]*tableInfo
	want   map[key]bool
	mu     sync.Mutex
	got    map[key]map[int64]*srcPoint
	bad    func(error)
}

func (c *collect) Write(_ context.Context, pts []mapping.Point) (iotdbsink.Result, error) {
	for i := range pts {
		p := &pts[i]
		if !c.win.in(p.Time) {
			continue
		}
		ti := c.tables[p.Schema]
		if ti == nil {
			continue
		}
		k := key{table: ti.idx, dev: p.Device, bucket: c.win.bucketOf(p.Time)}
		if !c.want[k] {
			continue
		}
		c.mu.Lock()
		byTime := c.got[k]
		if byTime == nil {
			byTime = map[int64]*srcPoint{}
			c.got[k] = byTime
		}
		sp := byTime[p.Time]
		if sp == nil {
			sp = &srcPoint{vals: make([][]val, len(ti.fields))}
			byTime[p.Time] = sp
		}
		sp.rows++
		for fi, mi := range ti.fields {
			v := p.Values[mi]
			if v == nil {
				continue
			}
			sv, err := srcVal(ti.types[fi], v)
			if err != nil {
				c.bad(err)
				continue
			}
			dup := false
			for _, x := range sp.vals[fi] {
				if x.equal(sv, classOf(ti.types[fi])) {
					dup = true
					break
				}
			}
			if !dup {
				sp.vals[fi] = append(sp.vals[fi], sv)
			}
		}
		c.mu.Unlock()
	}
	return iotdbsink.Result{Points: len(pts)}, nil
}

// rewrite is the PointWriter of the repair pass: it writes the points of
// the buckets in want through the sink (idempotent: a point written again
// replaces itself) and drops the others. Refusals are collected, not
// fatal: a series IoTDB holds with another type refuses every write, and
// the report says so.
type rewrite struct {
	win     window
	tables  map[*mapping.Schema]*tableInfo
	want    map[key]bool
	sink    Target
	mu      sync.Mutex
	written int64
	refused []iotdbsink.Rejection
}

func (r *rewrite) Write(ctx context.Context, pts []mapping.Point) (iotdbsink.Result, error) {
	var keep []mapping.Point
	for i := range pts {
		p := &pts[i]
		if !r.win.in(p.Time) {
			continue
		}
		ti := r.tables[p.Schema]
		if ti == nil || !r.want[key{table: ti.idx, dev: p.Device, bucket: r.win.bucketOf(p.Time)}] {
			continue
		}
		keep = append(keep, *p)
	}
	if len(keep) == 0 {
		return iotdbsink.Result{Points: len(pts)}, nil
	}
	res, err := r.sink.Write(ctx, keep)
	if err != nil {
		return iotdbsink.Result{}, err
	}
	r.mu.Lock()
	r.written += int64(res.Points)
	for _, rj := range res.Rejected {
		if len(r.refused) < 100 {
			rj.Points = nil
			r.refused = append(r.refused, rj)
		}
	}
	r.mu.Unlock()
	// The engine must not turn the refusals into dirty rows of the scan:
	// they are the repair's outcome, reported by verify.
	return iotdbsink.Result{Points: len(pts)}, nil
}
