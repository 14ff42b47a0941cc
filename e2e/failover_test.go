package e2e

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// Failover by GTID: cdc streams from the primary under a mixed workload;
// the primary dies mid-stream; cdc is pointed at the replica (its binlog
// files have other names and offsets) and restarted: it resumes by the
// checkpoint's GTID set, and IoTDB ends equal to the source.
func TestIntegrationCDCFailoverToReplicaByGTID(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	primary := e.m
	replica := testenv.StartReplica(t, primary)
	srv := e.bigTable(s, 5000)
	cfgPath, _ := e.bigConfig(srv, cfgOpts{Start: "initial", BatchRows: 200})

	p := e.startCDC(cfgPath)
	e.waitStreaming(p, time.Minute)
	w := chaosWorkload(e.db, "big", rand.New(rand.NewPCG(s, 2)))
	w.start()
	testenv.WaitFor(t, time.Minute, "changes streamed", func() bool { return w.changes.Load() > 2000 && srv.Stats().PointsWritten > 0 })
	w.stop()
	replica.WaitReplicaCaughtUp(t, primary)
	primary.Kill() // mid-stream: cdc may still be behind
	time.Sleep(200 * time.Millisecond)
	p.kill9()
	t.Logf("primary killed; workload before: %s", w)

	// The operator promotes the replica and points cdc at it.
	if err := replica.Promote(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.m, e.db = replica, replica.DB(t)
	cfgPath, cfg := e.bigConfig(srv, cfgOpts{Name: "replica.yaml", Start: "latest", BatchRows: 200})
	p = e.startCDC(cfgPath)
	e.waitStreaming(p, time.Minute)
	w2 := chaosWorkload(e.db, "big", rand.New(rand.NewPCG(s, 3)))
	w2.start()
	testenv.WaitFor(t, time.Minute, "changes on the replica", func() bool { return w2.changes.Load() > 500 })
	w2.stop()
	e.waitCaughtUp(p, srv, 5*time.Minute)
	if code := p.terminate(time.Minute); code != 0 {
		t.Fatalf("cdc on the replica exited %d; log:\n%s", code, p.tail(30))
	}
	if len(p.logEntries("the checkpoint was written on another server: resuming by its GTID set (failover)")) == 0 {
		t.Errorf("no failover logged; log:\n%s", p.tail(20))
	}
	assertSameState(t, "after a failover to the replica", expectedState(t, e.db, cfg, "big"), actualState(srv))
}

// A checkpoint that holds only a file and offset, written on another
// server, is refused with a message naming both servers and the remedy:
// a file position means something else on another server.
func TestIntegrationCDCRefusesFilePositionOfAnotherServer(t *testing.T) {
	e := newEnv(t)
	srv := e.bigTable(0, 0)
	cfgPath, _ := e.bigConfig(srv, cfgOpts{})
	ck := `{"version": 1, "flavor": "mariadb", "position": {"file": "binlog.000001", "pos": 4},
  "saved_at": "2026-01-01T00:00:00Z", "tables": {"big": {"snapshot_done": true, "snapshot_position": {"file": "binlog.000001", "pos": 4}}},
  "server_id": 5401, "source_server_id": 777}`
	if err := os.WriteFile(e.checkpointPath(), []byte(ck), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := e.runProc(e.cdcBin, "cdc", time.Minute, "--config", cfgPath)
	if code != 1 || !strings.Contains(out, "was written on another server (source server_id 777") ||
		!strings.Contains(out, "holds only a file and offset") || !strings.Contains(out, "cdc --reset") {
		t.Fatalf("cdc with another server's file position: exit %d\n%s", code, out)
	}
}
