package e2e

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// TestIntegrationCDCKill9Chaos kills the cdc binary with SIGKILL at random
// moments while a mixed workload runs (inserts, updates, NULL and back,
// device and time moves, deletes; transactions of 1 to 5000 rows), restarts
// it each time, then lets a last run catch up and stop with SIGTERM: IoTDB
// must equal the source exactly, in both directions.
func TestIntegrationCDCKill9Chaos(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 1))
	minKills, minChanges := 10, 20000
	if v, err := strconv.Atoi(os.Getenv("E2E_CHAOS_CHANGES")); err == nil {
		minChanges = v
	}
	srv := iotdbtest.Start(t, iotdbtest.Options{})

	e.exec(strings.ReplaceAll(readingsDDL, "%s", "chaos"))
	e.preload("chaos", rng, 30000) // big enough for early kills to hit the initial snapshot
	cfgPath, cfg := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{"chaos"},
		Mappings: readingsMapping("chaos", "chaos"), Start: "initial", BatchRows: 1000})

	w := chaosWorkload(e.db, "chaos", rand.New(rand.NewPCG(s, 2)))
	w.start()
	defer w.stop()

	began := time.Now()
	kills, streamed, inSnapshot := 0, 0, 0
	var positions []string
	seen := map[string]bool{}
	for kills < minKills || w.changes.Load() < int64(minChanges) {
		if time.Since(began) > 4*time.Minute {
			t.Logf("chaos phase capped at 4 minutes")
			break
		}
		if w.changes.Load() >= 3*int64(minChanges) {
			w.stop() // enough changes: the remaining kills hit the catch-up
		}
		p := e.startCDC(cfgPath)
		runFor := 200*time.Millisecond + time.Duration(rng.Int64N(int64(1800*time.Millisecond)))
		if kills == 0 {
			// The first kill aims at the initial snapshot: right after its
			// scan began (best effort: a fast machine may finish first).
			p.waitLog(t, "scanning", time.Minute)
			runFor = time.Duration(rng.Int64N(int64(50 * time.Millisecond)))
		}
		if code, exited := p.wait(runFor); exited {
			t.Errorf("%s exited by itself after %s with code %d (signal %q); log:\n%s",
				p.name, time.Since(p.started).Round(time.Millisecond), code, p.signal, p.tail(30))
			continue
		}
		p.kill9()
		kills++
		if len(p.logEntries("streaming")) > 0 {
			streamed++
		}
		if len(p.logEntries("snapshot: copying")) > 0 && len(p.logEntries("snapshot done")) == 0 {
			inSnapshot++
		}
		if st, ok := readCheckpoint(e.checkpointPath()); ok {
			pos := st.Position.String()
			if !seen[pos] {
				seen[pos] = true
				positions = append(positions, pos)
			}
		}
	}
	w.stop()
	t.Logf("chaos: %d kill -9 in %s (%d during the initial snapshot, %d after streaming began); workload: %s",
		kills, time.Since(began).Round(time.Second), inSnapshot, streamed, w)
	t.Logf("chaos: %d distinct checkpoint positions seen after kills: %s", len(positions), strings.Join(positions, ", "))
	if kills < minKills {
		t.Errorf("only %d kills (want %d)", kills, minKills)
	}
	if w.txns.Load() == 0 {
		t.Fatalf("the workload committed nothing: %s", w)
	}

	// The last run catches up and stops cleanly.
	e.finalRun(cfgPath, srv, 5*time.Minute)
	assertSameState(t, "after kill -9 chaos", expectedState(t, e.db, cfg, "chaos"), actualState(srv))
}

// TestIntegrationCDCRestartOnCaughtUpCheckpoint restarts cdc on a
// checkpoint that already equals the source (the previous run caught up,
// then died by kill -9) and stops it with SIGTERM: the harness must wait
// for the new process, not take the old checkpoint for its progress and
// signal a process that does not handle SIGTERM yet (which then dies of it
// with code -1 and an empty log).
func TestIntegrationCDCRestartOnCaughtUpCheckpoint(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(seed(t), 1))
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "restart"))
	e.preload("restart", rng, 500)
	cfgPath, cfg := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{"restart"},
		Mappings: readingsMapping("restart", "restart"), Start: "initial"})

	p := e.startCDC(cfgPath)
	e.waitCaughtUp(p, srv, 3*time.Minute)
	p.kill9()
	for i := 0; i < 3; i++ {
		p = e.startCDC(cfgPath)
		e.waitCaughtUp(p, srv, 3*time.Minute)
		if code := p.terminate(2 * time.Minute); code != 0 {
			t.Fatalf("restart %d: %s exited %d (signal %q) after SIGTERM (want 0); log:\n%s", i, p.name, code, p.signal, p.tail(30))
		}
		stops := p.logEntries("stopped: flushed and checkpointed")
		if len(stops) == 0 {
			t.Errorf("restart %d: %s did not log its clean stop; log:\n%s", i, p.name, p.tail(30))
			continue
		}
		// Nothing changed since the last run: the position logged is the
		// one the file holds, not "(none)".
		if st, ok := readCheckpoint(e.checkpointPath()); !ok || stops[0]["checkpoint"] != st.Position.String() {
			t.Errorf("restart %d: stop logged checkpoint %v, the file holds %v", i, stops[0]["checkpoint"], st)
		}
	}
	assertSameState(t, "after restarts on a caught-up checkpoint", expectedState(t, e.db, cfg, "restart"), actualState(srv))
}
