package iotdbsink

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Query answers every type as documented (TIMESTAMP and INT64 raw, DATE a
// time.Time, BLOB bytes, NULL nil), with the time column of a tree raw
// query; a callback error comes back as it is, not retried; a refused
// statement names its SQL.
func TestIntegrationQueryTypesAndErrors(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	s := openSink(t, testConfig(srv))
	sc := allTypesSchema()
	day := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	dev := "root.factory.`pump-7.b`"
	write(t, s, []mapping.Point{
		pt(sc, dev, 1000, true, int32(-7), int64(1)<<40, float32(1.25), 3.5, "héllo", int64(1700000000123), day, []byte{0, 1, 255}, "s"),
		pt(sc, dev, 2000, nil, nil, nil, nil, nil, nil, nil, nil, nil, "only"),
	})
	ctx := context.Background()
	var qr QueryResult
	var rows [][]any
	var times []int64
	starts := 0
	err := s.Query(ctx, "SELECT "+strings.Join(sc.Measurements, ", ")+" FROM "+dev, 0, func(r QueryResult) error {
		qr, starts = r, starts+1
		return nil
	}, func(r *Row) error {
		rows = append(rows, append([]any(nil), r.Values...))
		times = append(times, r.Time)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if starts != 1 || !qr.HasTime || len(qr.Columns) != len(sc.Measurements) {
		t.Fatalf("answer: %+v (%d starts)", qr, starts)
	}
	want := [][]any{
		{true, int32(-7), int64(1) << 40, float32(1.25), 3.5, "héllo", int64(1700000000123), day, []byte{0, 1, 255}, "s"},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil, "only"},
	}
	// columns come back named by full path, in the order asked
	for i, c := range qr.Columns {
		if !strings.HasSuffix(c, "."+sc.Measurements[i]) {
			t.Fatalf("column %d is %s, want ….%s", i, c, sc.Measurements[i])
		}
	}
	for i := range want {
		for j := range want[i] {
			g, w := rows[i][j], want[i][j]
			if gt, ok := g.(time.Time); ok {
				if wt := w.(time.Time); gt.Year() != wt.Year() || gt.YearDay() != wt.YearDay() {
					t.Errorf("row %d col %s: %v, want %v", i, qr.Columns[j], g, w)
				}
				continue
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("row %d col %s: %#v, want %#v", i, qr.Columns[j], g, w)
			}
		}
	}
	if !reflect.DeepEqual(times, []int64{1000, 2000}) {
		t.Fatalf("times %v", times)
	}

	stop := errors.New("enough")
	calls := 0
	err = s.Query(ctx, "SELECT str FROM "+dev, 0, nil, func(*Row) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("a callback's error: got %v after %d calls, want it as it is after 1", err, calls)
	}
	err = s.Query(ctx, "SELECT nosuchfunction(x) FROM root.factory.**", 0, nil, func(*Row) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "nosuchfunction") {
		t.Fatalf("a refused statement: %v", err)
	}
}
