package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// cmd/verify at process level: the real binary against what the other
// binaries wrote (backfill, cdc after kill -9 chaos, cdc still running,
// sync), its exit codes and its --json shape.

var (
	verifyOnce sync.Once
	verifyErr  error
)

// verifyBinary builds cmd/verify next to the other binaries (once).
func verifyBinary(t *testing.T) string {
	t.Helper()
	binaries(t)
	verifyOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		args := []string{"build"}
		if buildRace() {
			args = append(args, "-race")
		}
		args = append(args, "-o", filepath.Join(binDir, "verify"), "./cmd/verify")
		cmd := exec.Command(goBin, args...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			verifyErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if verifyErr != nil {
		t.Fatal(verifyErr)
	}
	return filepath.Join(binDir, "verify")
}

// runVerify runs the verify binary to its end and returns its exit code,
// stdout and stderr (kept apart: --json prints the report on stdout).
func (e *env) runVerify(cfgPath string, args ...string) (int, string, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, verifyBinary(e.t), append([]string{"--config", cfgPath, "--log-format", "json"}, args...)...)
	cmd.Dir = e.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("verify: %v\n%s", err, errb.String())
	}
	if ctx.Err() != nil {
		e.t.Fatalf("verify still running after 5 minutes; stderr:\n%s", errb.String())
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// verifyJSON runs verify --json and decodes the report.
func (e *env) verifyJSON(cfgPath string, args ...string) (int, map[string]any, string) {
	e.t.Helper()
	code, out, errs := e.runVerify(cfgPath, append([]string{"--json"}, args...)...)
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		e.t.Fatalf("verify --json (exit %d): no JSON on stdout: %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errs)
	}
	return code, rep, out
}

// The binary's exit codes (0 equal, 1 differences, 2 a wrong command line,
// --help 0) and the shape of its --json report, after cmd/backfill copied
// a table; --repair fixes the damage.
func TestIntegrationVerifyBinary(t *testing.T) {
	e := newEnv(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "vb"))
	e.preload("vb", rand.New(rand.NewPCG(seed(t), 1)), 3000)
	cfgPath, _ := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{"vb"}, Mappings: readingsMapping("vb", "vb")})
	if code, out := e.runProc(e.backfillBin, "backfill", 3*time.Minute, "--config", cfgPath); code != 0 {
		t.Fatalf("backfill exit %d:\n%s", code, out)
	}

	code, rep, out := e.verifyJSON(cfgPath)
	if code != 0 {
		t.Fatalf("verify after backfill: exit %d\n%s", code, out)
	}
	// the documented shape
	for _, k := range []string{"equal", "mode", "window", "tables", "differences", "differences_total", "scan_seconds", "seconds"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("--json report without %q:\n%s", k, out)
		}
	}
	win, _ := rep["window"].(map[string]any)
	for _, k := range []string{"from", "until", "from_time", "until_time", "bounded", "bucket", "precision"} {
		if _, ok := win[k]; !ok {
			t.Errorf("--json window without %q:\n%s", k, out)
		}
	}
	tables, _ := rep["tables"].([]any)
	if len(tables) != 1 {
		t.Fatalf("tables: %v", rep["tables"])
	}
	tab, _ := tables[0].(map[string]any)
	for _, k := range []string{"table", "model", "on_delete", "rows_read", "dirty_rows", "collisions", "devices", "buckets", "source_points",
		"iotdb_points", "differing_buckets", "undrilled_buckets", "differences", "extras_are_differences", "equal"} {
		if _, ok := tab[k]; !ok {
			t.Errorf("--json table without %q:\n%s", k, out)
		}
	}
	var rows int64
	if err := e.db.QueryRow("SELECT COUNT(*) FROM vb").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rep["equal"] != true || rep["mode"] != "coarse" || tab["rows_read"] != float64(rows) || tab["source_points"] != tab["iotdb_points"] {
		t.Fatalf("report after a clean backfill:\n%s", out)
	}
	if code, out, _ := e.runVerify(cfgPath, "--exact"); code != 0 || !strings.Contains(out, "result: EQUAL") {
		t.Fatalf("verify --exact (text): exit %d\n%s", code, out)
	}

	// one point lost
	series := srv.Series()[0]
	pts := srv.Points(series.Path)
	if !srv.DeletePoint(series.Path, pts[len(pts)/2].Time) {
		t.Fatal("no point deleted")
	}
	code, rep, out = e.verifyJSON(cfgPath)
	diffs, _ := rep["differences"].([]any)
	if code != 1 || rep["equal"] != false || len(diffs) != 1 {
		t.Fatalf("verify after a lost point: exit %d, want 1 and one difference\n%s", code, out)
	}
	d, _ := diffs[0].(map[string]any)
	for _, k := range []string{"table", "device", "time", "time_text", "measurement", "kind", "source"} {
		if _, ok := d[k]; !ok {
			t.Errorf("--json difference without %q:\n%s", k, out)
		}
	}
	if d["kind"] != "missing" || d["time"] != float64(pts[len(pts)/2].Time) || d["device"].(string)+"."+d["measurement"].(string) != series.Path {
		t.Fatalf("difference %v, want %s @%d missing", d, series.Path, pts[len(pts)/2].Time)
	}
	code, rep, out = e.verifyJSON(cfgPath, "--repair")
	after, _ := rep["repair"].(map[string]any)["after"].(map[string]any)
	if code != 0 || after["equal"] != true {
		t.Fatalf("verify --repair: exit %d\n%s", code, out)
	}
	if code, _, _ := e.runVerify(cfgPath); code != 0 {
		t.Fatalf("verify after the repair: exit %d", code)
	}

	// a wrong command line: exit 2, a pointer to --help; --help: exit 0
	if code, _, errs := e.runVerify(cfgPath, "--bukket", "1d"); code != 2 || !strings.Contains(errs, "--help") {
		t.Fatalf("an unknown flag: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := e.runVerify(cfgPath, "--bucket", "soon"); code != 2 || !strings.Contains(errs, "--bucket") {
		t.Fatalf("a bad --bucket: exit %d, stderr %q", code, errs)
	}
	if code, out, _ := e.runVerify(cfgPath, "--help"); code != 0 || !strings.Contains(out, "--repair") || !strings.Contains(out, "--until") {
		t.Fatalf("--help: exit %d\n%s", code, out)
	}
}

// What cdc wrote through kill -9 cycles under a mixed workload (inserts,
// updates, NULLs and back, device and time moves, deletes) verifies equal,
// in both modes, as the independent comparison of the store says too.
func TestIntegrationVerifyAfterCDCKill9(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 7))
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "vk"))
	e.preload("vk", rng, 5000)
	cfgPath, cfg := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{"vk"}, Mappings: readingsMapping("vk", "vk"), Start: "initial", BatchRows: 500})
	w := chaosWorkload(e.db, "vk", rand.New(rand.NewPCG(s, 8)))
	w.start()
	for kills := 0; kills < 5; kills++ {
		p := e.startCDC(cfgPath)
		if code, exited := p.wait(300*time.Millisecond + time.Duration(rng.Int64N(int64(700*time.Millisecond)))); exited {
			t.Fatalf("cdc exited by itself with code %d; log:\n%s", code, p.tail(30))
		}
		p.kill9()
	}
	w.stop()
	t.Logf("workload: %s", w)
	if w.changes.Load() == 0 {
		t.Fatal("the workload changed nothing")
	}
	e.finalRun(cfgPath, srv, 5*time.Minute)
	if !assertSameState(t, "after kill -9 (independent check)", expectedState(t, e.db, cfg, "vk"), actualState(srv)) {
		return
	}
	for _, mode := range [][]string{nil, {"--exact"}, {"--bucket", "10m"}} {
		if code, out, errs := e.runVerify(cfgPath, mode...); code != 0 {
			t.Fatalf("verify %v after the chaos: exit %d\n%s\n%s", mode, code, out, errs)
		}
	}
}

// With cdc running and rows being inserted meanwhile, verify --until (a
// time before the rows in flight) reports no difference; the report says
// the window was bounded.
func TestIntegrationVerifyUnderRunningCDC(t *testing.T) {
	e := newEnv(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "vl"))
	e.preload("vl", rand.New(rand.NewPCG(seed(t), 3)), 3000) // wlBase + up to 3000 s
	cfgPath, _ := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{"vl"}, Mappings: readingsMapping("vl", "vl"), Start: "initial"})
	p := e.startCDC(cfgPath)
	e.waitCaughtUp(p, srv, 3*time.Minute)

	// A writer inserts rows stamped from 2024-01-02 on, one transaction
	// each, until stopped.
	var inserted atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			ts := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond).Format("2006-01-02 15:04:05.000")
			if _, err := e.db.ExecContext(ctx, "INSERT INTO vl (site, dev, ts, temp, hum) VALUES ('live', 'w1', ?, ?, ?)", ts, float64(i)/4, i); err == nil {
				inserted.Add(1)
			}
		}
	}()
	defer func() { cancel(); <-done }()
	for inserted.Load() < 50 { // the stream is busy before verify starts
		time.Sleep(5 * time.Millisecond)
	}
	before := inserted.Load()
	code, rep, out := e.verifyJSON(cfgPath, "--until", "2024-01-02T00:00:00Z")
	during := inserted.Load() - before
	if code != 0 || rep["equal"] != true {
		t.Fatalf("verify --until under a running cdc: exit %d, want 0\n%s", code, out)
	}
	win, _ := rep["window"].(map[string]any)
	if win["bounded"] != true || win["until_time"] != "2024-01-02T00:00:00Z" {
		t.Fatalf("window: %v", win)
	}
	if during == 0 {
		t.Fatal("no row was inserted while verify ran: the test did not test a live source")
	}
	t.Logf("%d rows inserted while verify ran", during)
	cancel()
	<-done
	if code := p.terminate(2 * time.Minute); code != 0 {
		t.Errorf("cdc exit %d", code)
	}
}

// What the incremental mode (cmd/sync) wrote verifies equal.
func TestIntegrationVerifyAfterSync(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.syncTable("big")
	e.preload("big", rand.New(rand.NewPCG(s, 1)), 3000)
	cfgPath, _ := e.bigConfig(srv, cfgOpts{TableExtra: "cursor: {columns: [upd]}"})
	e.runSync(cfgPath)
	w := &workload{db: e.db, table: "big", rng: rand.New(rand.NewPCG(s, 2)),
		sizes: []int{1, 5, 20}, sizeW: []int{40, 40, 20},
		kinds: []string{"insert", "restore"}, kindW: []int{60, 40}, pause: 5 * time.Millisecond}
	w.start()
	for range 3 {
		e.runSync(cfgPath)
	}
	w.stop()
	e.runSync(cfgPath)
	if code, out, errs := e.runVerify(cfgPath, "--exact"); code != 0 {
		t.Fatalf("verify after sync: exit %d\n%s\n%s", code, out, errs)
	}
}
