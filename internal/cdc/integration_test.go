package cdc_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

func insertReadings(f *fixture, from, n int) {
	f.t.Helper()
	var vals []string
	for i := from; i < from+n; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 's%d', 'd%d', '2024-01-01 00:00:00' + INTERVAL %d SECOND, %d.5, %d, %d)", i, i%2, i%5, i, i, i%100, i%3))
	}
	f.exec("INSERT INTO readings (id, site, dev, ts, temp, hum, status) VALUES " + strings.Join(vals, ", "))
}

func TestIntegrationInsertsAndResume(t *testing.T) {
	f := newFixture(t)
	f.exec(readingsDDL)
	r := f.run()
	r.waitStreaming(t)

	start := time.Now()
	insertReadings(f, 1, 100)
	f.waitSource(20 * time.Second)
	t.Logf("100 rows visible in IoTDB after %s", time.Since(start))
	if got := stat(r.e, "readings", cdc.OutInsertWritten); got != 100 {
		t.Fatalf("insert_written = %d, want 100", got)
	}
	// readings' types are all decoded by the stream's own decoder; an
	// unmapped table's events are not decoded at all.
	f.exec("CREATE TABLE unmapped (id INT PRIMARY KEY, tm TIME)", "INSERT INTO unmapped VALUES (1, '10:00:00')")
	testenv.WaitFor(t, 10*time.Second, "the unmapped table's event to be skipped", func() bool {
		_, ds := r.e.Decoded()
		return ds.Skipped >= 1
	})
	if _, ds := r.e.Decoded(); ds.Fast < 1 || ds.GoMySQL != 0 {
		t.Fatalf("rows events decoded: own %v, go-mysql %v; want readings' events all decoded by the own decoder", ds.Fast, ds.GoMySQL)
	}
	// A single-row insert on a quiet source shows up within a second
	// (flush on caught-up, not only on the interval).
	start = time.Now()
	insertReadings(f, 101, 1)
	f.waitSource(5 * time.Second)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("quiet insert took %s", d)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	ck := f.loadCheckpoint()
	if ck.Position.File == "" || !ck.Tables["readings"].SnapshotDone {
		t.Fatalf("checkpoint %+v", ck)
	}

	// While stopped: more rows. The restarted engine resumes at the
	// checkpoint: it writes exactly the new rows, nothing again.
	insertReadings(f, 200, 50)
	r2 := f.run()
	f.waitSource(20 * time.Second)
	time.Sleep(300 * time.Millisecond)
	if got := stat(r2.e, "readings", cdc.OutInsertWritten); got != 50 {
		t.Fatalf("after resume insert_written = %d, want 50 (re-delivered rows?)", got)
	}
	if err := r2.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	ck2 := f.loadCheckpoint()
	if ck2.Position.Compare(ck.Position) <= 0 {
		t.Fatalf("checkpoint did not advance: %s then %s", ck.Position, ck2.Position)
	}
}
