package iotdbtest

import (
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"
)

// A request frame above the server's limit ends the connection and stores
// nothing (docs/iotdb.md §1.1); the double counts it and the largest frame.
func TestRequestFrameLimit(t *testing.T) {
	srv := Start(t, Options{MaxFrameSize: 64 << 10})
	s := openTree(t, srv)
	ms := []*client.MeasurementSchema{{Measurement: "v", DataType: client.DOUBLE}}
	big, err := client.NewTablet("root.f.d", ms, 10000) // 10000 rows: ~160 KB
	must(t, err)
	for r := range 10000 {
		big.SetTimestamp(int64(r), r)
		must(t, big.SetValueAt(float64(r), 0, r))
		big.RowSize++
	}
	if err := s.InsertTablet(big, true); err == nil {
		t.Fatal("an oversized frame was accepted")
	}
	st := srv.Stats()
	if st.OversizedFrames == 0 || st.LargestFrame <= 64<<10 {
		t.Fatalf("stats %+v", st)
	}
	if n := srv.TotalPoints(); n != 0 {
		t.Fatalf("%d points stored from an oversized frame", n)
	}
	// a frame under the limit, on a fresh session, goes in
	s2 := openTree(t, srv)
	small, err := client.NewTablet("root.f.d", ms, 100)
	must(t, err)
	for r := range 100 {
		small.SetTimestamp(int64(r), r)
		must(t, small.SetValueAt(float64(r), 0, r))
		small.RowSize++
	}
	must(t, s2.InsertTablet(small, true))
	if n := srv.TotalPoints(); n != 100 {
		t.Fatalf("%d points", n)
	}
}
