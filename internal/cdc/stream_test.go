package cdc_test

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
)

func binlogEnd(t *testing.T, f *fixture) binlog.Position {
	t.Helper()
	file, pos, _, err := f.m.BinlogPosition(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return binlog.Position{File: file, Pos: pos}
}

func samePlace(a, b binlog.Position) bool { return a.File == b.File && a.Pos == b.Pos }

// A 50k-row transaction streams through in batches (memory stays bounded)
// and the checkpoint moves only at its commit.
func TestIntegrationBigTransaction(t *testing.T) {
	f := newFixture(t)
	f.batchRows = 5000
	f.exec(readingsDDL)
	var mu sync.Mutex
	var saved []binlog.Position
	r := f.runWith(f.config(), func(e *cdc.Engine) {
		e.SetSavedHook(func(p binlog.Position) { mu.Lock(); saved = append(saved, p); mu.Unlock() })
	})
	r.waitStreaming(t)
	startPos := binlogEnd(t, f)
	f.exec(`INSERT INTO readings (id, site, dev, ts, temp, hum, status)
		SELECT seq, CONCAT('s', seq % 3), CONCAT('d', seq % 10), '2024-01-01' + INTERVAL seq SECOND, seq / 4, seq % 1000, seq % 7 FROM seq_1_to_50000`)
	endPos := binlogEnd(t, f)
	f.waitSource(120 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for !samePlace(r.e.Acked(), endPos) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if got := stat(r.e, "readings", cdc.OutInsertWritten); got != 50000 {
		t.Fatalf("insert_written = %d", got)
	}
	batches := testutilCounter(t, r.e, cdc.MetricBatches)
	if batches < 10 {
		t.Fatalf("%v batches for 50000 rows with batch.rows 5000: not flushed mid-transaction", batches)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range saved {
		if !samePlace(p, startPos) && !samePlace(p, endPos) {
			t.Fatalf("checkpoint saved at %s: neither before (%s) nor after (%s) the transaction", p, startPos, endPos)
		}
	}
	if last := f.loadCheckpoint().Position; !samePlace(last, endPos) {
		t.Fatalf("final checkpoint %s, want %s", last, endPos)
	}
	t.Logf("%v batches, %d saves", batches, len(saved))
}

// Cancelling the context (SIGTERM) flushes what was read and checkpoints it.
func TestIntegrationShutdownFlushes(t *testing.T) {
	f := newFixture(t)
	f.exec(readingsDDL)
	r := f.run()
	r.waitStreaming(t)
	f.iot.SetLatency(100 * time.Millisecond) // writes are slow: the stop lands mid-write
	insertReadings(f, 1, 300)
	endPos := binlogEnd(t, f)
	deadline := time.Now().Add(20 * time.Second)
	for rows, _ := r.e.Decoded(); rows < 300 && time.Now().Before(deadline); rows, _ = r.e.Decoded() {
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	f.iot.SetLatency(0)
	if got, want := f.actual(), f.expected("readings"); got.points() != want.points() {
		t.Fatalf("after stop IoTDB has %d points, source %d", got.points(), want.points())
	}
	if ck := f.loadCheckpoint().Position; !samePlace(ck, endPos) {
		t.Fatalf("checkpoint %s, want %s", ck, endPos)
	}
}

// Dirty rows go to the file with table, key, column, value, reason and
// binlog position; skip goes on, fail stops before the row's commit.
func TestIntegrationDirtyRows(t *testing.T) {
	t.Run("skip", func(t *testing.T) {
		f := newFixture(t)
		f.exec(readingsDDL)
		r := f.run()
		r.waitStreaming(t)
		insertReadings(f, 1, 3)
		f.exec("INSERT INTO readings (id, site, dev, ts, temp) VALUES (77, NULL, 'd1', '2024-01-01', 1.5)")
		insertReadings(f, 4, 3)
		f.waitSource(20 * time.Second)
		if got := stat(r.e, "readings", cdc.OutDirty); got != 1 {
			t.Fatalf("dirty = %d", got)
		}
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		recs := readDirty(t, f.dirtyPath())
		if len(recs) != 1 {
			t.Fatalf("dirty file: %+v", recs)
		}
		d := recs[0]
		if d.Table != "readings" || d.Key != "id=77" || d.Column != "site" || d.Value != "NULL" || d.Reason != "null_device" ||
			!strings.HasPrefix(d.Position, "binlog.") || d.Action != "insert" {
			t.Fatalf("dirty record %+v", d)
		}
	})
	t.Run("fail", func(t *testing.T) {
		f := newFixture(t)
		f.dirtyPolicy = "fail"
		f.exec(readingsDDL)
		r := f.run()
		r.waitStreaming(t)
		insertReadings(f, 1, 3)
		f.waitSource(20 * time.Second)
		good := binlogEnd(t, f)
		f.exec("INSERT INTO readings (id, site, dev, ts, temp) VALUES (77, NULL, 'd1', '2024-01-01', 1.5)")
		err := r.wait(t, 20*time.Second)
		if err == nil || !strings.Contains(err.Error(), "id=77") || !strings.Contains(err.Error(), "policy is fail") {
			t.Fatalf("Run = %v", err)
		}
		if ck := f.loadCheckpoint().Position; ck.Compare(good) > 0 {
			t.Fatalf("checkpoint %s moved past the dirty row's transaction (before it: %s)", ck, good)
		}
	})
}

func readDirty(t *testing.T, path string) []dirty.Record {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []dirty.Record
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var d dirty.Record
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		out = append(out, d)
	}
	return out
}

// A checkpoint whose binlog file was purged is a clear, immediate error.
func TestIntegrationPurgedCheckpoint(t *testing.T) {
	f := newFixture(t)
	f.exec(readingsDDL)
	r := f.run()
	r.waitStreaming(t)
	insertReadings(f, 1, 10)
	f.waitSource(20 * time.Second)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	ck := f.loadCheckpoint().Position
	insertReadings(f, 11, 10)
	if err := f.m.PurgeBinlogs(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	r2 := f.run()
	err := r2.wait(t, 30*time.Second)
	if err == nil {
		t.Fatal("Run succeeded from a purged binlog")
	}
	for _, want := range []string{ck.File, "purged", "cdc --reset", "on_purged: resnapshot", "initial"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
	t.Log(err)
}

// DDL: adding a column is fine; dropping a mapped column stops with an
// error naming the table, the column and the binlog position.
func TestIntegrationDDL(t *testing.T) {
	f := newFixture(t)
	f.exec(readingsDDL)
	r := f.run()
	r.waitStreaming(t)
	insertReadings(f, 1, 5)
	f.exec("ALTER TABLE readings ADD COLUMN note VARCHAR(20) NULL AFTER site")
	f.exec("INSERT INTO readings (id, site, note, dev, ts, temp, hum, status) VALUES (6, 's0', 'x', 'd9', '2024-01-02', 6.5, 6, 6)")
	insertReadings(f, 7, 5)
	f.waitSource(20 * time.Second)

	f.exec("ALTER TABLE readings DROP COLUMN hum")
	err := r.wait(t, 20*time.Second)
	if err == nil {
		t.Fatal("Run did not stop")
	}
	for _, want := range []string{"readings", "hum", "binlog.0"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
	t.Log(err)
}

// Commits of unmapped tables and binlog rotations advance the checkpoint
// (heartbeats on an idle stream), so the server may purge old files.
func TestIntegrationIdleCheckpointAdvances(t *testing.T) {
	f := newFixture(t)
	f.exec(readingsDDL, "CREATE TABLE other (id INT PRIMARY KEY)")
	r := f.run()
	r.waitStreaming(t)
	f.exec("INSERT INTO other VALUES (1), (2)")
	end := binlogEnd(t, f)
	waitCheckpoint(t, f, func(p binlog.Position) bool { return samePlace(p, end) })
	if err := f.m.FlushBinlogs(t.Context()); err != nil {
		t.Fatal(err)
	}
	end = binlogEnd(t, f)
	waitCheckpoint(t, f, func(p binlog.Position) bool { return p.File == end.File })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

func waitCheckpoint(t *testing.T, f *fixture, ok func(binlog.Position) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last binlog.Position
	for time.Now().Before(deadline) {
		last = f.loadCheckpoint().Position
		if ok(last) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("checkpoint stuck at %s", last)
}

// The binlog connection is killed mid-stream: the streamer reconnects from
// the last commit and nothing is lost.
func TestIntegrationBinlogConnectionKilled(t *testing.T) {
	f := newFixture(t)
	f.exec(readingsDDL)
	r := f.run()
	r.waitStreaming(t)
	for i := 0; i < 5; i++ {
		insertReadings(f, 1+i*100, 100)
		n, err := f.m.KillConnections(t.Context(), func(user, command, info string) bool {
			return strings.HasPrefix(command, "Binlog Dump")
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("killed %d binlog connections", n)
		f.exec("UPDATE readings SET temp = temp + 1 WHERE id % 7 = 0")
	}
	f.waitSource(60 * time.Second)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if n := testutilCounter(t, r.e, cdc.MetricBinlogReconnect); n < 1 {
		t.Fatalf("reconnects = %v", n)
	}
}

// TestIntegrationGroupCommit: on a busy live stream (single-row commits
// back to back, so the stream never idles long enough to be "caught up")
// rows must reach IoTDB while the writes go on, because a commit is handed
// to an idle writer at once. The other flush triggers are taken out of play:
// a 1-minute batch interval, a batch size far above the rows written, and a
// 10-second caught-up wait. Without group commit nothing is visible until
// the writes stop.
func TestIntegrationGroupCommit(t *testing.T) {
	f := newFixture(t)
	f.batchRows = 10_000_000
	f.batchInterval = "1m"
	f.exec(readingsDDL)
	r := f.runWith(f.config(), func(e *cdc.Engine) { e.SetCaughtUpWait(10 * time.Second) })
	defer r.stop()
	r.waitStreaming(t)

	const maxRows = 20000
	var written atomic.Int64
	writing, stop := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-writing }()
	go func() {
		defer close(writing)
		for i := 1; i <= maxRows; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.db.Exec(`INSERT INTO readings (site, dev, ts, temp, hum, status) VALUES ('s1', 'd1', ?, 1.5, 2, 3)`,
				time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Millisecond)); err != nil {
				t.Errorf("insert %d: %v", i, err)
				return
			}
			written.Store(int64(i))
		}
	}()
	// 200 rows (3 points each) visible while the writer is still running.
	for {
		visible := f.iot.TotalPoints()
		select {
		case <-writing:
			t.Fatalf("the writer finished %d single-row commits with only %d points in IoTDB: commits were not flushed while the stream was busy",
				written.Load(), visible)
		default:
		}
		if visible >= 600 {
			t.Logf("%d points visible after %d commits, writer still running", visible, written.Load())
			return
		}
		time.Sleep(time.Millisecond)
	}
}
