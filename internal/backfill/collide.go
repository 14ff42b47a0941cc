package backfill

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// collisions counts rows of one table that map to a (device, time) already
// produced by another row in this run: IoTDB keeps only the last of them.
//
// It remembers hash(device, time) -> hash(row key) for up to limit pairs
// (16 bytes plus map overhead each, ~10 MB at the default). The row key is
// kept so that a row delivered twice (a re-read page or partition) is not a
// collision. A table without a primary key has no key string: its rows are
// identified by all their mapped values instead (appendRowKey), so two
// different rows at one (device, time) are a collision and an exact copy of
// a row is not (it writes the same point). When the set is full it is cleared and starts over: counting is
// exact for tables with fewer points than the limit and, beyond that, exact
// within windows of limit points, where colliding rows usually are (same
// device, same instant, adjacent keys). Collisions with rows written by an
// earlier run are not counted.
type collisions struct {
	mu    sync.Mutex
	seed  maphash.Seed
	limit int
	seen  map[uint64]uint64
	count int64
}

const defaultCollisionLimit = 1 << 18

func newCollisions(limit int) *collisions {
	if limit <= 0 {
		limit = defaultCollisionLimit
	}
	return &collisions{seed: maphash.MakeSeed(), limit: limit, seen: make(map[uint64]uint64)}
}

// pointHash is one point for observe: the hash of its (device, time) and
// the hash of its row key.
type pointHash struct{ dt, k uint64 }

// hash computes the pointHash of a point; key is the row key (KeyString).
// The (device, time) hash mixes the device's hash with the time (splitmix64
// finaliser): as collision-free as hashing both as one stream, cheaper.
func (c *collisions) hash(device string, t int64, key []byte) pointHash {
	x := maphash.String(c.seed, device) + uint64(t)*0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	return pointHash{x, maphash.Bytes(c.seed, key)}
}

// observe records the points of one page; devices[i], times[i], keys[i]
// describe point i.
func (c *collisions) observe(devices []string, times []int64, keys []string) {
	hs := make([]pointHash, len(devices))
	for i := range devices {
		hs[i] = c.hash(devices[i], times[i], []byte(keys[i]))
	}
	c.observeHashes(hs)
}

// observeHashes records the points of one page.
func (c *collisions) observeHashes(hs []pointHash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range hs {
		if k, ok := c.seen[p.dt]; ok {
			if k != p.k {
				c.count++
				c.seen[p.dt] = p.k
			}
			continue
		}
		if len(c.seen) >= c.limit {
			clear(c.seen)
		}
		c.seen[p.dt] = p.k
	}
}

func (c *collisions) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// appendRowKey appends an encoding of every value of row (the columns Map
// receives) to dst: the row key of a table without a primary key. Each
// value is tagged with its Go type and length-prefixed where its length
// varies, so different rows never encode alike and one row always encodes
// the same way (a partition read again yields the same values).
func appendRowKey(dst []byte, row []any) []byte {
	for _, v := range row {
		switch x := v.(type) {
		case nil:
			dst = append(dst, 'n')
		case int64:
			dst = binary.AppendVarint(append(dst, 'i'), x)
		case uint64:
			dst = binary.AppendUvarint(append(dst, 'u'), x)
		case float64:
			dst = binary.LittleEndian.AppendUint64(append(dst, 'f'), math.Float64bits(x))
		case float32:
			dst = binary.LittleEndian.AppendUint32(append(dst, 'g'), math.Float32bits(x))
		case bool:
			if x {
				dst = append(dst, 'T')
			} else {
				dst = append(dst, 'F')
			}
		case []byte:
			dst = binary.AppendUvarint(append(dst, 'b'), uint64(len(x)))
			dst = append(dst, x...)
		case string:
			dst = binary.AppendUvarint(append(dst, 's'), uint64(len(x)))
			dst = append(dst, x...)
		case time.Time:
			dst = binary.AppendVarint(append(dst, 't'), x.Unix())
			dst = binary.AppendUvarint(dst, uint64(x.Nanosecond()))
			_, off := x.Zone()
			dst = binary.AppendVarint(dst, int64(off))
		default:
			s := fmt.Sprintf("%T:%v", x, x)
			dst = binary.AppendUvarint(append(dst, '?'), uint64(len(s)))
			dst = append(dst, s...)
		}
	}
	return dst
}
