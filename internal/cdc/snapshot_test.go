package cdc_test

import (
	"fmt"
	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"io"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// start: initial with writes running during the snapshot: the position is
// taken before the snapshot, the overlap is replayed, and the final IoTDB
// state equals the source mapped through the mapping.
func TestIntegrationInitialWithConcurrentWrites(t *testing.T) {
	f := newFixture(t)
	f.start = "initial"
	f.exec(readingsDDL)
	f.exec(`INSERT INTO readings (id, site, dev, ts, temp, hum, status)
		SELECT seq, CONCAT('s', seq % 3), CONCAT('d', seq % 10), '2024-01-01' + INTERVAL seq SECOND, seq / 4, seq % 1000, seq % 7 FROM seq_1_to_20000`)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ops atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		rnd := rand.New(rand.NewSource(1))
		next := 20001
		for {
			select {
			case <-stop:
				return
			default:
			}
			id := 1 + rnd.Intn(20000)
			var q string
			switch rnd.Intn(5) {
			case 0:
				q = fmt.Sprintf("UPDATE readings SET temp = %d.25 WHERE id = %d", rnd.Intn(1000), id)
			case 1:
				q = fmt.Sprintf("UPDATE readings SET hum = NULL, status = %d WHERE id = %d", rnd.Intn(9), id)
			case 2:
				q = fmt.Sprintf("DELETE FROM readings WHERE id = %d", id)
			case 3:
				q = fmt.Sprintf("UPDATE readings SET ts = ts + INTERVAL 1 DAY WHERE id = %d", id)
			default:
				q = fmt.Sprintf("INSERT INTO readings (id, site, dev, ts, temp, hum, status) VALUES (%d, 's9', 'd%d', '2024-03-01' + INTERVAL %d SECOND, 1.5, 2, 3)", next, next%4, next)
				next++
			}
			if _, err := f.db.Exec(q); err != nil {
				t.Errorf("%s: %v", q, err)
				return
			}
			ops.Add(1)
		}
	}()
	r := f.run()
	r.waitStreaming(t) // the snapshot is done once streaming
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d concurrent changes", ops.Load())
	f.waitSource(60 * time.Second)
	ck := f.loadCheckpoint()
	if ts := ck.Tables["readings"]; !ts.SnapshotDone || ts.SnapshotAt.IsZero() {
		t.Fatalf("snapshot state %+v", ts)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

// A table added to the mappings later is snapshotted on its own; the
// others are not copied again, and streaming continues from the checkpoint.
func TestIntegrationTableAddedLater(t *testing.T) {
	f := newFixture(t)
	f.start = "initial"
	f.exec(readingsDDL)
	insertReadings(f, 1, 100)
	r := f.run()
	r.waitStreaming(t)
	f.waitSource(20 * time.Second)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	first := f.loadCheckpoint().Tables["readings"]

	f.exec("CREATE TABLE pumps (id INT PRIMARY KEY, name VARCHAR(10) NOT NULL, at BIGINT NOT NULL, rpm INT)",
		"INSERT INTO pumps SELECT seq, CONCAT('p', seq % 3), 1700000000000 + seq, seq * 10 FROM seq_1_to_500")
	insertReadings(f, 101, 10) // streamed, not snapshotted
	f.extraTables = "    - name: pumps"
	f.extraMappings = `    - table: pumps
      device: "root.plant.${name}"
      time: {column: at, unit: ms}
      measurements: [{column: rpm}]
      on_delete: delete`
	r2 := f.run()
	r2.waitStreaming(t)
	f.exec("UPDATE pumps SET rpm = 7 WHERE id = 3", "DELETE FROM pumps WHERE id = 4")
	want := func() state { return merge(f.expected("readings"), f.expected("pumps")) }
	f.waitState(want, 30*time.Second)
	if got := stat(r2.e, "readings", cdc.OutInsertWritten); got != 10 {
		t.Fatalf("readings: insert_written = %d after the restart, want the 10 streamed rows only", got)
	}
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	ck := f.loadCheckpoint()
	if ck.Tables["readings"].SnapshotAt != first.SnapshotAt {
		t.Fatalf("readings was snapshotted again: %+v then %+v", first, ck.Tables["readings"])
	}
	if p := ck.Tables["pumps"]; !p.SnapshotDone || p.SnapshotAt.IsZero() {
		t.Fatalf("pumps snapshot state %+v", p)
	}
}

// IoTDB failing past the sink's retries: the stream restarts from the
// last acknowledged commit with backoff and nothing is lost.
func TestIntegrationIoTDBOutage(t *testing.T) {
	f := newFixture(t)
	f.retryGiveUp = "300ms"
	f.exec(readingsDDL)
	r := f.run()
	r.waitStreaming(t)
	insertReadings(f, 1, 10)
	f.waitSource(20 * time.Second)
	f.iot.FailWrites(40, 305, "injected outage")
	insertReadings(f, 11, 10)
	f.exec("UPDATE readings SET temp = NULL WHERE id = 3", "DELETE FROM readings WHERE id = 4")
	insertReadings(f, 21, 10)
	f.waitSource(60 * time.Second)
	if n := testutilCounter(t, r.e, cdc.MetricStreamRestarts); n < 1 {
		t.Fatalf("stream restarts = %v, want the outage to have restarted the stream", n)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

// /metrics, /healthz and /readyz.
func TestIntegrationHTTP(t *testing.T) {
	f := newFixture(t)
	f.exec(readingsDDL)
	r := f.run()
	r.waitStreaming(t)
	insertReadings(f, 1, 10)
	f.waitSource(20 * time.Second)
	time.Sleep(300 * time.Millisecond)
	base := "http://" + r.e.MetricsAddr()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, _ := get("/healthz"); c != 200 {
		t.Fatalf("/healthz %d", c)
	}
	if c, body := get("/readyz"); c != 200 {
		t.Fatalf("/readyz %d %s", c, body)
	}
	_, body := get("/metrics")
	for _, want := range []string{
		`mysql_iotdb_bridge_cdc_rows_total{outcome="insert_written",table="readings"} 10`,
		cdc.MetricLag, cdc.MetricCheckpointFile + " 1", cdc.MetricCheckpointPos, cdc.MetricCheckpointTime, cdc.MetricIoTDBRPC + "_bucket",
		`mysql_iotdb_bridge_build_info{binary="cdc"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}
