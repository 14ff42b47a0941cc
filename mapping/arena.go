package mapping

import "unsafe"

// Arena holds the device paths of the points one goroutine maps
// (MapArena): a path is rendered straight into a block of bytes and the
// point's Device is a string over those bytes, so mapping a row allocates
// no string of its own. With a fleet of 10^6 devices every row has a path
// no other row of its batch shares, and one allocation per row (plus the
// collector's work for it) was most of what mapping cost beyond the
// 10^3-device case (issue 10).
//
// Bytes handed out are never written again: a full block is left as it
// is and a new one started, and the collector frees the old block once no
// point refers to it. A Device string therefore stays valid as long as it
// is referenced, whatever becomes of the Arena, and the blocks hold no
// pointers for the collector to scan. An Arena must not be used by two
// goroutines at once; the zero value is ready to use.
type Arena struct {
	block []byte
}

// Block sizes: the first block of an Arena is small (a few rows mapped by
// an incremental run need no more), each next one twice the last, up to
// some 2,000 paths of the usual length.
const (
	arenaFirst = 4 << 10
	arenaBlock = 64 << 10
)

// room makes sure the current block has n free bytes.
func (a *Arena) room(n int) {
	if cap(a.block)-len(a.block) < n {
		size := min(arenaBlock, max(arenaFirst, 2*cap(a.block)))
		a.block = make([]byte, 0, max(size, n))
	}
}

// take keeps b, which was appended to the current block from start on,
// as the block, and returns b[start:] as a string.
func (a *Arena) take(b []byte, start int) string {
	a.block = b
	if len(b) == start {
		return ""
	}
	return unsafe.String(&b[start], len(b)-start)
}
