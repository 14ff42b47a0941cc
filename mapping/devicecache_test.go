package mapping

import (
	"fmt"
	"testing"
)

// A full device cache that rarely hits is bypassed for a while, and one
// that hits keeps serving (issue 10: with 10^6 devices the lookups of keys
// the cache lacks cost more than building the paths).
func TestDeviceCacheBypassWhenItRarelyHits(t *testing.T) {
	fill := func(c *deviceCache) {
		for i := 0; i < deviceCacheMax+1; i++ {
			k := []byte(fmt.Sprintf("k%d", i))
			if _, ok := c.get(k); !ok {
				c.put(k, string(k))
			}
		}
		if !c.full.Load() {
			t.Fatal("not full")
		}
	}
	// a fleet: every lookup a new key
	c := newDeviceCache()
	fill(c)
	for i := 0; i < cacheWindow; i++ {
		c.get([]byte(fmt.Sprintf("new%d", i)))
	}
	if !c.bypassed() {
		t.Fatal("a full cache missing every lookup is not bypassed")
	}
	for i := 0; i < cacheSkip; i++ {
		c.bypassed()
	}
	if c.bypassed() {
		t.Fatal("still bypassed after cacheSkip rows: never sampled again")
	}
	// repeats: a hit rate above the bound keeps the cache
	c = newDeviceCache()
	fill(c)
	for i := 0; i < 4*cacheWindow; i++ {
		if d, ok := c.get([]byte(fmt.Sprintf("k%d", i%1000))); !ok || d != fmt.Sprintf("k%d", i%1000) {
			t.Fatalf("lookup %d: %q %v", i, d, ok)
		}
	}
	if c.bypassed() {
		t.Fatal("a cache that hits was bypassed")
	}
}
