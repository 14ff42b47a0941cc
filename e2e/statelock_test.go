package e2e

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// Two cdc processes on one checkpoint (an overlapping pod in a rollout):
// the second exits 1 at once naming the first, and the first keeps
// streaming.
func TestIntegrationCDCSecondProcessOnSameCheckpointRefused(t *testing.T) {
	e := newEnv(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "lk"))
	cfgPath, _ := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{"lk"}, Mappings: readingsMapping("lk", "lk")})

	first := e.startCDC(cfgPath)
	e.waitStreaming(first, time.Minute)

	second := e.startCDC(cfgPath)
	code, exited := second.wait(30 * time.Second)
	if !exited {
		second.kill9()
		t.Fatalf("the second cdc on the same checkpoint still runs after 30s; log:\n%s", second.tail(30))
	}
	out := second.output()
	want := fmt.Sprintf(`cdc: checkpoint %s is in use by pid %d on host \S+ since .+; stop that process first`,
		regexp.QuoteMeta(e.checkpointPath()), first.cmd.Process.Pid)
	if code != 1 || !regexp.MustCompile(want).MatchString(out) {
		t.Fatalf("second cdc exited %d, want 1 with a line matching %q; output:\n%s", code, want, out)
	}
	if strings.Contains(out, "streaming") {
		t.Fatalf("the second cdc streamed before it was refused; output:\n%s", out)
	}

	// --reset is refused too while the first runs.
	code, out = e.runProc(e.cdcBin, "cdc-reset", time.Minute, "--config", cfgPath, "--reset")
	if code != 1 || !strings.Contains(out, "is in use by pid") {
		t.Fatalf("cdc --reset while cdc runs exited %d; output:\n%s", code, out)
	}
	if _, ok := readCheckpoint(e.checkpointPath()); !ok {
		t.Fatal("the refused --reset removed the checkpoint")
	}

	// The first still streams: new rows reach IoTDB.
	before := srv.Stats().PointsWritten
	e.exec("INSERT INTO lk (site, dev, ts, temp) VALUES ('s1', 'd1', '2026-01-01 00:00:00', 1.5), ('s1', 'd2', '2026-01-01 00:00:01', 2.5)")
	testenv.WaitFor(t, time.Minute, "the first cdc writes the new rows", func() bool {
		if first.exited() {
			t.Fatalf("the first cdc exited (code %d); log:\n%s", first.code, first.tail(30))
		}
		return srv.Stats().PointsWritten >= before+2
	})
	if code := first.terminate(time.Minute); code != 0 {
		t.Fatalf("first cdc exited %d; log:\n%s", code, first.tail(30))
	}

	// Once it stopped, the lock is free again (the lock file stays).
	code, out = e.runProc(e.cdcBin, "cdc-reset", time.Minute, "--config", cfgPath, "--reset")
	if code != 0 || !strings.Contains(out, "cdc state reset") {
		t.Fatalf("cdc --reset after the first stopped exited %d; output:\n%s", code, out)
	}
}

// Two backfills on one state file: the second exits 1 naming the first.
func TestIntegrationBackfillSecondProcessOnSameStateRefused(t *testing.T) {
	e := newEnv(t)
	// Slow writes keep the first backfill running while the second starts.
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "lkb"))
	e.loadBig("lkb", rand.New(rand.NewPCG(seed(t), 1)), 20000, 1)
	cfgPath, cfg := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{"lkb"}, Mappings: readingsMapping("lkb", "lkb"), BatchRows: 10})
	srv.SetLatency(200 * time.Millisecond)

	first := e.startProc(e.backfillBin, "backfill", "--config", cfgPath, "--log-format", "json")
	first.readyMsg = "scanning" // interrupted from here on, it saves its state and exits 3
	first.waitLog(t, "scanning", time.Minute)
	if first.exited() {
		t.Fatalf("the first backfill ended early (code %d); log:\n%s", first.code, first.tail(30))
	}
	code, out := e.runProc(e.backfillBin, "backfill", 30*time.Second, "--config", cfgPath, "--log-format", "json")
	want := fmt.Sprintf("backfill state %s is in use by pid %d on host ", cfg.Backfill.State, first.cmd.Process.Pid)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("second backfill exited %d, want 1 with %q; output:\n%s", code, want, out)
	}
	if first.exited() {
		t.Fatalf("the first backfill ended (code %d) while the second was refused; log:\n%s", first.code, first.tail(30))
	}
	if code := first.terminate(time.Minute); code != 3 {
		t.Fatalf("first backfill exited %d; log:\n%s", code, first.tail(30))
	}
}
