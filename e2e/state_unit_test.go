package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestStateHelpers checks the comparison itself: a comparison that cannot
// see a difference would let every integration test pass.
func TestStateHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"root.a.`b`.c":        "root.a.b.c",
		"root.a.`b.c`.d":      "root.a.`b.c`.d",
		"root.x.`q``uote`.m":  "root.x.`q``uote`.m",
		"root.x.`東京`.m":       "root.x.東京.m",
		"root.x.`12`.m":       "root.x.`12`.m",
		"root.x.`a b.c`.`m`":  "root.x.`a b.c`.m",
		"root.x.`x.y z``東`.m": "root.x.`x.y z``東`.m",
	} {
		if got := normPath(in); got != want {
			t.Errorf("normPath(%q) = %q, want %q", in, got, want)
		}
	}
	if got := measurementOf("root.x.`a.b`.temp"); got != "temp" {
		t.Errorf("measurementOf = %q", got)
	}

	if normValue(time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)) != int32(20240305) {
		t.Error("DATE not normalised to yyyymmdd")
	}
	if normValue([]byte{}) != normValue([]byte(nil)) || normValue([]byte{0}) == normValue([]byte{}) {
		t.Error("BLOB normalisation")
	}

	want := state{}
	want.add("root.a.d.m", 1, int32(1))
	want.add("root.a.d.m", 2, int32(2))
	want.add("root.a.d.n", 1, "x")
	same := state{}
	same.add("root.a.d.m", 2, int32(2))
	same.add("root.a.d.m", 1, int32(1))
	same.add("root.a.d.n", 1, "x")
	if n, r := diffStates(want, same, 20); n != 0 {
		t.Errorf("equal states differ: %s", r)
	}
	got := state{}
	got.add("root.a.d.m", 1, int64(1))     // type differs
	got.add("root.a.d.m", 3, int32(3))     // extra point
	got.add("root.a.d.o", 1, blob("\x00")) // extra series
	// missing: root.a.d.m@2, root.a.d.n
	n, r := diffStates(want, got, 20)
	if n != 5 {
		t.Errorf("want 5 differences, got %d:\n%s", n, r)
	}
	for _, s := range []string{"differs root.a.d.m @1", "missing root.a.d.m @2", "extra   root.a.d.m @3",
		"missing series root.a.d.n", "extra series root.a.d.o"} {
		if !strings.Contains(r, s) {
			t.Errorf("report lacks %q:\n%s", s, r)
		}
	}
	if n, r := diffStates(want, got, 2); n != 5 || !strings.Contains(r, "and 3 more") {
		t.Errorf("limit: %d\n%s", n, r)
	}
}
