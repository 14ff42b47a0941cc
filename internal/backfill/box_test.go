package backfill

import (
	"bytes"
	"runtime"
	"testing"
)

// TestBytesIface guards the one use of the interface layout: the value built
// by bytesIface must behave exactly like any([]byte) for type switches,
// assertions and equality, and survive garbage collection.
func TestBytesIface(t *testing.T) {
	hdrs := make([][]byte, 0, 4)
	var vals []any
	for _, s := range []string{"pump-7.b", "", "\x00\xff"} {
		hdrs = append(hdrs, []byte(s))
		vals = append(vals, bytesIface(&hdrs[len(hdrs)-1]))
	}
	runtime.GC()
	for i, s := range []string{"pump-7.b", "", "\x00\xff"} {
		b, ok := vals[i].([]byte)
		if !ok || !bytes.Equal(b, []byte(s)) || len(b) != len(s) {
			t.Fatalf("value %d: %#v, %v", i, vals[i], ok)
		}
		switch v := vals[i].(type) {
		case []byte:
			if string(v) != s {
				t.Fatalf("type switch %d: %q", i, v)
			}
		default:
			t.Fatalf("type switch %d: %T", i, v)
		}
	}
}
