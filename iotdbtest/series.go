package iotdbtest

import (
	"slices"
	"sort"
)

// pointsOf is the storage of one series: a time-sorted main run (unique
// times) plus an unsorted out-of-order buffer that is merged lazily. In-order
// appends (the common case) are an append to two typed slices; a rewrite of
// an existing time is found by binary search and overwritten in place
// (docs/iotdb.md §3.3: duplicates overwrite, last write wins).
type pointsOf[T any] struct {
	t   []int64
	v   []T
	ooo *outOfOrder[T] // nil until a point arrives out of order: most series never get one, and 10^6 devices hold millions of series
}

// outOfOrder holds times not present in the sorted run, until merged.
type outOfOrder[T any] struct {
	ot []int64
	ov []T
}

func (d *pointsOf[T]) put(t int64, v T) {
	n := len(d.t)
	if n == 0 || t > d.t[n-1] {
		d.t = append(d.t, t)
		d.v = append(d.v, v)
		return
	}
	if t == d.t[n-1] {
		d.v[n-1] = v
		return
	}
	if i, ok := slices.BinarySearch(d.t, t); ok {
		d.v[i] = v
		return
	}
	if d.ooo == nil {
		d.ooo = &outOfOrder[T]{}
	}
	d.ooo.ot = append(d.ooo.ot, t)
	d.ooo.ov = append(d.ooo.ov, v)
	if k := len(d.ooo.ot); k >= 4096 && k >= n/8 {
		d.merge()
	}
}

// merge folds the out-of-order buffer into the sorted run. Within the buffer
// the last write of a time wins.
func (d *pointsOf[T]) merge() {
	if d.ooo == nil {
		return
	}
	ot, ov := d.ooo.ot, d.ooo.ov
	k := len(ot)
	if k == 0 {
		return
	}
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ot[idx[a]] < ot[idx[b]] })
	// dedupe, keep last (stable sort keeps arrival order among equal times)
	uniq := idx[:0]
	for i := 0; i < len(idx); i++ {
		if i+1 < len(idx) && ot[idx[i+1]] == ot[idx[i]] {
			continue
		}
		uniq = append(uniq, idx[i])
	}
	nt := make([]int64, 0, len(d.t)+len(uniq))
	nv := make([]T, 0, len(d.t)+len(uniq))
	i, j := 0, 0
	for i < len(d.t) || j < len(uniq) {
		if j >= len(uniq) || (i < len(d.t) && d.t[i] < ot[uniq[j]]) {
			nt = append(nt, d.t[i])
			nv = append(nv, d.v[i])
			i++
		} else {
			nt = append(nt, ot[uniq[j]])
			nv = append(nv, ov[uniq[j]])
			j++
		}
	}
	d.t, d.v = nt, nv
	d.ooo = nil
}

// deleteRange removes points with lo <= t <= hi (inclusive, docs/iotdb.md §5.1).
func (d *pointsOf[T]) deleteRange(lo, hi int64) int {
	d.merge()
	a, _ := slices.BinarySearch(d.t, lo)
	b := a
	for b < len(d.t) && d.t[b] <= hi {
		b++
	}
	if b == a {
		return 0
	}
	d.t = slices.Delete(d.t, a, b)
	d.v = slices.Delete(d.v, a, b)
	return b - a
}

func (d *pointsOf[T]) length() int { d.merge(); return len(d.t) }

func (d *pointsOf[T]) times() []int64 { d.merge(); return d.t }

func (d *pointsOf[T]) anyAt(i int) any { return d.v[i] }

// find returns the index of time t in the merged run.
func (d *pointsOf[T]) find(t int64) (int, bool) {
	d.merge()
	return slices.BinarySearch(d.t, t)
}

// seriesStore is the type-erased view used by queries, deletes and inspection.
type seriesStore interface {
	deleteRange(lo, hi int64) int
	length() int
	times() []int64 // merged, sorted; valid until the next write
	anyAt(i int) any
	find(t int64) (int, bool)
}

// newSeriesStore returns an empty typed store for a data type.
func newSeriesStore(dt TSDataType) seriesStore {
	switch dt {
	case BOOLEAN:
		return &pointsOf[bool]{}
	case INT32, DATE:
		return &pointsOf[int32]{}
	case INT64, TIMESTAMP:
		return &pointsOf[int64]{}
	case FLOAT:
		return &pointsOf[float32]{}
	case DOUBLE:
		return &pointsOf[float64]{}
	default: // TEXT, STRING, BLOB
		return &pointsOf[[]byte]{}
	}
}
