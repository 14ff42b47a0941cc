package e2e

import (
	"context"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// TestIntegrationCDCFaults runs the cdc binary on a steady insert/update
// workload and injects one fault at a time: IoTDB failing writes (305),
// IoTDB hanging past write_timeout, IoTDB restarting, the binlog connection
// killed, MariaDB restarting. After each, the workload stops, cdc catches
// up and IoTDB must equal the source exactly. Last, the binlogs are purged
// past the checkpoint while cdc is stopped: cdc must exit non-zero at once
// with a message naming the purged file and how to re-snapshot, and
// `cdc --check` must show a FAIL row for it.
func TestIntegrationCDCFaults(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 1))
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	ctx := context.Background()

	e.exec(strings.ReplaceAll(readingsDDL, "%s", "faults"))
	e.preload("faults", rng, 2000)
	cfgPath, cfg := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{"faults"},
		Mappings: readingsMapping("faults", "faults"), Start: "initial",
		WriteTimeout: "1s", GiveUp: "3s", BatchRows: 500})

	p := e.startCDC(cfgPath)
	e.waitStreaming(p, 2*time.Minute)
	w := steadyWorkload(e.db, "faults", rand.New(rand.NewPCG(s, 2)))
	defer w.stop()

	phase := func(name string, inject func()) {
		t.Helper()
		began := time.Now()
		before := w.changes.Load()
		w.start()
		time.Sleep(time.Second)
		inject()
		time.Sleep(time.Second)
		w.stop()
		if p.exited() {
			t.Fatalf("%s: cdc exited (code %d); log:\n%s", name, p.code, p.tail(40))
		}
		viaCk := e.waitCaughtUp(p, srv, 3*time.Minute)
		want, got := expectedState(t, e.db, cfg, "faults"), actualState(srv)
		if n, _ := diffStates(want, got, 0); n > 0 && !viaCk {
			// Caught up by the stability fallback only: give it more time.
			deadline := time.Now().Add(30 * time.Second)
			for n > 0 && time.Now().Before(deadline) {
				time.Sleep(500 * time.Millisecond)
				got = actualState(srv)
				n, _ = diffStates(want, got, 0)
			}
		}
		assertSameState(t, name, want, got)
		t.Logf("phase %q: %d rows changed, took %s (workload total: %s)", name, w.changes.Load()-before,
			time.Since(began).Round(100*time.Millisecond), w)
	}

	phase("IoTDB fails writes with 305", func() {
		const n = 30
		failed := srv.Stats().FailedWrites
		srv.FailWrites(n, 305, "injected by e2e: internal server error")
		testenv.WaitFor(t, 2*time.Minute, "the injected write failures to be consumed", func() bool {
			return srv.Stats().FailedWrites >= failed+n
		})
	})
	phase("IoTDB hangs 2s (write_timeout 1s)", func() {
		srv.SetHang(true)
		time.Sleep(2 * time.Second)
		srv.SetHang(false)
	})
	phase("IoTDB restarts", func() {
		if err := srv.Restart(); err != nil {
			t.Fatalf("iotdbtest restart: %v", err)
		}
	})
	phase("binlog connection killed", func() {
		testenv.WaitFor(t, time.Minute, "a Binlog Dump connection to kill", func() bool {
			n, err := e.m.KillConnections(ctx, func(user, command, info string) bool { return command == "Binlog Dump" })
			if err != nil {
				t.Fatalf("KillConnections: %v", err)
			}
			return n > 0
		})
	})
	phase("MariaDB restarts", func() {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := e.m.Restart(rctx); err != nil {
			t.Fatalf("MariaDB restart: %v", err)
		}
		time.Sleep(2 * time.Second)
	})

	// Binlogs purged past the checkpoint while cdc is stopped.
	if code := p.terminate(2 * time.Minute); code != 0 {
		t.Fatalf("cdc exited %d after SIGTERM (want 0); log:\n%s", code, p.tail(30))
	}
	st, ok := readCheckpoint(e.checkpointPath())
	if !ok || st.Position.File == "" {
		t.Fatalf("no checkpoint with a binlog file after SIGTERM: %+v", st)
	}
	ckFile := st.Position.File
	w.start()
	time.Sleep(time.Second)
	w.stop()
	if err := e.m.FlushBinlogs(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.m.PurgeBinlogs(ctx, ""); err != nil {
		t.Fatal(err)
	}
	files, err := e.m.BinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(files, ckFile) {
		t.Fatalf("checkpoint file %s still on the server after the purge: %v", ckFile, files)
	}
	t.Logf("purged: checkpoint at %s, binlogs left %v", st.Position, files)

	p = e.startCDC(cfgPath)
	code, exited := p.wait(2 * time.Minute)
	if !exited {
		p.kill9()
		t.Fatalf("cdc still running 2 minutes after starting on a purged checkpoint (endless retry?); log:\n%s", p.tail(30))
	}
	took := time.Since(p.started).Round(time.Millisecond)
	out := p.output()
	t.Logf("cdc on a purged checkpoint exited with code %d after %s", code, took)
	if code == 0 {
		t.Errorf("cdc exited 0 on a purged checkpoint; log:\n%s", p.tail(20))
	}
	if !strings.Contains(out, ckFile) {
		t.Errorf("the error does not name the purged file %s; output:\n%s", ckFile, p.tail(20))
	}
	if !regexp.MustCompile(`(?i)re-?snapshot|start: initial`).MatchString(out) {
		t.Errorf("the error does not say how to re-snapshot; output:\n%s", p.tail(20))
	}

	code, check := e.runProc(e.cdcBin, "cdc-check", 2*time.Minute, "--config", cfgPath, "--check")
	if code == 0 {
		t.Errorf("cdc --check exited 0 with a purged checkpoint; output:\n%s", check)
	}
	var failRow string
	for _, l := range strings.Split(check, "\n") {
		if strings.HasPrefix(l, "FAIL") && strings.Contains(l, ckFile) {
			failRow = l
		}
	}
	if failRow == "" {
		t.Errorf("cdc --check shows no FAIL row naming %s; output:\n%s", ckFile, check)
	} else {
		t.Logf("cdc --check (exit %d): %s", code, abbrev(failRow, 200))
	}
}
