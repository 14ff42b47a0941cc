package mapping

import (
	"math/rand/v2"
	"testing"
	"time"
)

// civilUTCTo must agree with instantTo(time.Date(..., UTC)) everywhere.
func TestCivilUTCToMatchesTimeDate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(c civil) {
		t.Helper()
		for _, per := range []int64{1e3, 1e6, 1e9} {
			want, werr := instantTo(c.in(time.UTC), per)
			got, gerr := civilUTCTo(c, per)
			if got != want || (werr == nil) != (gerr == nil) {
				t.Fatalf("%+v per %d: got %d, %v; want %d, %v", c, per, got, gerr, want, werr)
			}
		}
	}
	for y := 1000; y <= 9999; y++ {
		for _, md := range [][2]int{{1, 1}, {2, 28}, {2, 29}, {3, 1}, {12, 31}} {
			if md[1] > daysIn(y, md[0]) {
				continue
			}
			check(civil{year: y, month: md[0], day: md[1], hour: 23, min: 59, sec: 59, nsec: 999999999})
		}
	}
	for range 200000 {
		y := 1000 + r.IntN(9000)
		m := 1 + r.IntN(12)
		check(civil{year: y, month: m, day: 1 + r.IntN(daysIn(y, m)), hour: r.IntN(24), min: r.IntN(60), sec: r.IntN(60), nsec: r.IntN(1e9)})
	}
	// Beyond DATETIME's range (time.Time values from the binlog path).
	for _, y := range []int{10000, 292277026, 300000000} {
		check(civil{year: y, month: 6, day: 15, hour: 1, min: 2, sec: 3, nsec: 4})
	}
}
