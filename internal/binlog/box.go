package binlog

import (
	"time"
	"unsafe"
)

// Boxing without an allocation per value.
//
// Storing a float64, int64, string or time.Time in an any normally copies
// it to a fresh heap object (runtime.convT64 and friends): one allocation
// per decoded value, which was a tenth of the decoder's cost. An event's
// values instead go into arrays of their own type, allocated a chunk at a
// time, and each any points into them: the same interface value the
// runtime would build, with its data word pointing at a shared array
// instead of a private copy. Interface values are immutable, so a slot is
// written once, before it is boxed, and never again; a full chunk is left
// to the values that point into it (the garbage collector keeps it alive
// through them) and a new one started.
//
// Only types whose interface data word is a pointer to the value are boxed
// this way (not pointer-shaped types). Values of one byte need no help: the
// runtime boxes them without allocating.

// eface is the layout of an interface value without methods (any).
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

var (
	tInt16   = typeWord(int16(0))
	tUint16  = typeWord(uint16(0))
	tInt32   = typeWord(int32(0))
	tUint32  = typeWord(uint32(0))
	tFloat32 = typeWord(float32(0))
	tInt64   = typeWord(int64(0))
	tUint64  = typeWord(uint64(0))
	tFloat64 = typeWord(float64(0))
	tInt     = typeWord(int(0))
	tString  = typeWord("")
	tBytes   = typeWord([]byte(nil))
	tTime    = typeWord(time.Time{})
)

func iface(typ, data unsafe.Pointer) (v any) {
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: typ, data: data}
	return v
}

// slab hands out slots of one element type, chunk by chunk.
type slab[T any] struct {
	buf   []T
	chunk int
}

// put stores x in a fresh slot and returns its address.
func (s *slab[T]) put(x T) unsafe.Pointer {
	if len(s.buf) == cap(s.buf) {
		s.buf = make([]T, 0, max(s.chunk, 16))
	}
	s.buf = append(s.buf, x)
	return unsafe.Pointer(&s.buf[len(s.buf)-1])
}

// boxer boxes the values of one event. Integers of 2, 4 and 8 bytes share
// arrays of their size (the type word says how the bits are read; neither
// holds pointers).
type boxer struct {
	w16   slab[uint16]
	w32   slab[uint32]
	w64   slab[uint64]
	strs  slab[string]
	blobs slab[[]byte]
	times slab[time.Time]
}

// reset prepares for an event of about rows row images of plan p; the
// chunks of the previous event stay with its values.
func (b *boxer) reset(p *rowPlan, rows int) {
	*b = boxer{}
	b.w16.chunk = rows * p.perKind[size16]
	b.w32.chunk = rows * p.perKind[size32]
	b.w64.chunk = rows * p.perKind[size64]
	b.strs.chunk = rows * p.perKind[sizeString]
	b.blobs.chunk = rows * p.perKind[sizeBytes]
	b.times.chunk = rows * p.perKind[sizeTime]
}

func (b *boxer) int16(x int16) any    { return iface(tInt16, b.w16.put(uint16(x))) }
func (b *boxer) uint16(x uint16) any  { return iface(tUint16, b.w16.put(x)) }
func (b *boxer) int32(x int32) any    { return iface(tInt32, b.w32.put(uint32(x))) }
func (b *boxer) uint32(x uint32) any  { return iface(tUint32, b.w32.put(x)) }
func (b *boxer) float32(x uint32) any { return iface(tFloat32, b.w32.put(x)) } // x: the IEEE bits
func (b *boxer) int64(x int64) any    { return iface(tInt64, b.w64.put(uint64(x))) }
func (b *boxer) uint64(x uint64) any  { return iface(tUint64, b.w64.put(x)) }
func (b *boxer) float64(x uint64) any { return iface(tFloat64, b.w64.put(x)) } // x: the IEEE bits
func (b *boxer) int(x int) any        { return iface(tInt, b.w64.put(uint64(x))) }
func (b *boxer) string(s string) any  { return iface(tString, b.strs.put(s)) }
func (b *boxer) bytes(x []byte) any   { return iface(tBytes, b.blobs.put(x)) }
func (b *boxer) time(t time.Time) any { return iface(tTime, b.times.put(t)) }

// Slot kinds a plan counts per row, to size the chunks.
const (
	size16 = iota
	size32
	size64
	sizeString
	sizeBytes
	sizeTime
	sizeKinds
)
