package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/checkpoint"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// ---------------------------------------------------------------------------
// Binaries: built once per test binary, on first use (so -run filters and
// -short skips build nothing).

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildRace reports whether the binaries are built with -race: E2E_RACE
// when set, else the same as this test binary.
func buildRace() bool {
	if v, err := strconv.ParseBool(os.Getenv("E2E_RACE")); err == nil {
		return v
	}
	return raceEnabled
}

// binaries builds cmd/cdc, cmd/backfill and cmd/sync (once) and returns
// the paths of the first two (syncBinary gives the third).
func binaries(t *testing.T) (cdc, backfill string) {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bridge-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		args := []string{"build"}
		if buildRace() {
			args = append(args, "-race")
		}
		args = append(args, "-o", dir+string(filepath.Separator), "./cmd/cdc", "./cmd/backfill", "./cmd/sync")
		cmd := exec.Command(goBin, args...)
		cmd.Dir = ".." // the module root
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "e2e: built cdc, backfill and sync (race=%v) in %.1fs\n", buildRace(), time.Since(start).Seconds())
	})
	if binErr != nil {
		t.Fatalf("building the binaries: %v", binErr)
	}
	return filepath.Join(binDir, "cdc"), filepath.Join(binDir, "backfill")
}

// ---------------------------------------------------------------------------
// Environment: one MariaDB, a work directory, the binaries.

type env struct {
	t           *testing.T
	m           *testenv.MariaDB
	db          *sql.DB // root pool on the test database (UTC session)
	dir         string
	cdcBin      string
	backfillBin string
	seq         int // process counter, names log files
}

func newEnv(t *testing.T) *env {
	t.Helper()
	m := testenv.StartMariaDB(t) // skips with -short / without mariadbd
	cdcBin, bfBin := binaries(t)
	e := &env{t: t, m: m, db: m.DB(t), dir: workDir(t), cdcBin: cdcBin, backfillBin: bfBin}
	return e
}

func workDir(t *testing.T) string {
	if os.Getenv("E2E_KEEP") == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "bridge-e2e-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("work directory kept: %s", dir)
	return dir
}

func (e *env) exec(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		if _, err := e.db.Exec(s); err != nil {
			e.t.Fatalf("%s: %v", abbrev(s, 200), err)
		}
	}
}

func (e *env) script(s string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.m.ExecScript(ctx, s); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) checkpointPath() string { return filepath.Join(e.dir, "cdc.checkpoint.json") }
func (e *env) dirtyPath() string      { return filepath.Join(e.dir, "dirty-rows.jsonl") }
func (e *env) syncStatePath() string  { return filepath.Join(e.dir, "sync.state.json") }

// ---------------------------------------------------------------------------
// Configuration.

type cfgOpts struct {
	Name         string            // file name; default config.yaml
	IoTDB        *iotdbtest.Server // required
	Tables       []string          // mysql.tables
	Mappings     string            // items of iotdb.mappings, unindented ("- table: x\n  device: ...")
	Start        string            // YAML value of cdc.start; default latest
	Precision    string            // iotdb.timestamp_precision; default auto
	WriteTimeout string            // default 10s
	GiveUp       string            // iotdb.retry.give_up_after; default 5s
	BatchRows    int               // default 2000
	Metrics      string            // metrics.listen; default "" (off)
	Checkpoint   string            // default e.checkpointPath()
	BackfillSt   string            // backfill.state; default <dir>/backfill.state.json
	Dirty        string            // dirty_rows.file; default e.dirtyPath()
	CDCExtra     string            // more keys of cdc:, one per line ("on_purged: resnapshot")
	TableExtra   string            // more keys of every mysql.tables entry, one per line ("cursor: {columns: [ts]}")
	SyncExtra    string            // more keys of sync:, one per line (its state is e.syncStatePath())
	User, Pass   string            // mysql.user and password; default the bridge user
}

// writeConfig writes a configuration file for both binaries and loads it
// back (as the binaries will).
func (e *env) writeConfig(o cfgOpts) (string, *config.Config) {
	e.t.Helper()
	if o.Name == "" {
		o.Name = "config.yaml"
	}
	if o.Start == "" {
		o.Start = "latest"
	}
	if o.Precision == "" {
		o.Precision = "auto"
	}
	if o.WriteTimeout == "" {
		o.WriteTimeout = "10s"
	}
	if o.GiveUp == "" {
		o.GiveUp = "5s"
	}
	if o.BatchRows == 0 {
		o.BatchRows = 2000
	}
	if o.Checkpoint == "" {
		o.Checkpoint = e.checkpointPath()
	}
	if o.Dirty == "" {
		o.Dirty = e.dirtyPath()
	}
	if o.BackfillSt == "" {
		o.BackfillSt = filepath.Join(e.dir, "backfill.state.json")
	}
	var tables strings.Builder
	for _, t := range o.Tables {
		fmt.Fprintf(&tables, "    - name: %s\n      partition: {count: 4}\n", t)
		for _, l := range strings.Split(strings.TrimSpace(o.TableExtra), "\n") {
			if l != "" {
				tables.WriteString("      " + l + "\n")
			}
		}
	}
	if o.User == "" {
		o.User, o.Pass = e.m.BridgeUser, e.m.BridgePassword
	}
	var maps strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(o.Mappings), "\n") {
		maps.WriteString("    " + l + "\n")
	}
	y := fmt.Sprintf(`# written by the e2e tests
mysql:
  host: 127.0.0.1
  port: %d
  user: %s
  password: %q
  database: %s
  tls: disabled
  server_id: 5401
  tables:
%siotdb:
  nodes: [%q]
  user: root
  password: root
  timestamp_precision: %s
  sessions: 2
  write_timeout: %s
  batch: {rows: %d, interval: 50ms}
  retry: {initial: 50ms, max: 500ms, give_up_after: %s}
  mappings:
%sbackfill:
  readers: 2
  writers: 2
  page_rows: 2000
  state: %s
cdc:
  start: %s
  checkpoint: {path: %s, interval: 100ms}
  heartbeat: 500ms
%ssync:
  state: %s
%sdirty_rows: {policy: skip, file: %s, max: -1}
metrics: {listen: %q}
log: {level: info, format: json}
`, e.m.Port, o.User, o.Pass, e.m.Database, tables.String(),
		o.IoTDB.Addr(), o.Precision, o.WriteTimeout, o.BatchRows, o.GiveUp, maps.String(),
		o.BackfillSt, o.Start, o.Checkpoint, indent(o.CDCExtra), e.syncStatePath(), indent(o.SyncExtra), o.Dirty, o.Metrics)
	path := filepath.Join(e.dir, o.Name)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		e.t.Fatalf("config: %v\n%s", err, y)
	}
	return path, cfg
}

// indent indents YAML lines by two spaces (for a section's extra keys).
func indent(lines string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
		if l != "" {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Processes.

// proc is one run of a binary; its stdout and stderr go to a log file.
type proc struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time
	done    chan struct{}
	code    int    // exit code; -1 when killed by a signal
	signal  string // the signal that ended it, if any
	// readyMsg starts the message of the first log line the process writes
	// once it handles SIGTERM; terminate waits for it ("" = no wait). Until
	// then a SIGTERM kills the process (Go's default action), with code -1
	// and nothing flushed.
	readyMsg string
}

// cdcReadyMsg is the first line cmd/cdc logs; its main installs the
// SIGTERM/SIGINT handler (signal.NotifyContext) before it.
const cdcReadyMsg = "cdc starting"

func (e *env) startProc(bin, label string, args ...string) *proc {
	e.t.Helper()
	e.seq++
	name := fmt.Sprintf("%s-%02d", label, e.seq)
	logPath := filepath.Join(e.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	var w io.Writer = f
	if os.Getenv("E2E_LOG") != "" {
		w = io.MultiWriter(f, &tlogWriter{t: e.t, prefix: name + ": "})
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.dir
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = os.Environ()
	p := &proc{t: e.t, name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		f.Close()
		e.t.Fatalf("starting %s: %v", bin, err)
	}
	p.started = time.Now()
	go func() {
		err := cmd.Wait()
		f.Close()
		p.code = cmd.ProcessState.ExitCode()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.signal = ws.Signal().String()
			}
		}
		close(p.done)
	}()
	e.t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if e.t.Failed() && os.Getenv("E2E_LOG") == "" {
			e.t.Logf("%s: last log lines (%s):\n%s", p.name, p.logPath, p.tail(25))
		}
	})
	return p
}

// startCDC starts the cdc binary on a configuration.
func (e *env) startCDC(cfgPath string, extra ...string) *proc {
	e.t.Helper()
	p := e.startProc(e.cdcBin, "cdc", append([]string{"--config", cfgPath, "--log-format", "json"}, extra...)...)
	p.readyMsg = cdcReadyMsg
	return p
}

// runProc runs a binary to its end (bounded by timeout) and returns its
// exit code and output.
func (e *env) runProc(bin, label string, timeout time.Duration, args ...string) (int, string) {
	e.t.Helper()
	p := e.startProc(bin, label, args...)
	code, ok := p.wait(timeout)
	if !ok {
		p.kill9()
		e.t.Fatalf("%s %s still running after %s; log:\n%s", label, strings.Join(args, " "), timeout, p.tail(30))
	}
	return code, p.output()
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to end.
func (p *proc) wait(d time.Duration) (code int, exited bool) {
	select {
	case <-p.done:
		return p.code, true
	case <-time.After(d):
		return 0, false
	}
}

func (p *proc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM and waits (generously) for the exit code. It
// first waits (up to d) for the process to log p.readyMsg: a process just
// started may not handle SIGTERM yet.
func (p *proc) terminate(d time.Duration) int {
	p.t.Helper()
	if p.readyMsg != "" {
		deadline := time.Now().Add(d)
		for !p.exited() && len(p.logEntries(p.readyMsg)) == 0 {
			if time.Now().After(deadline) {
				p.t.Errorf("%s did not log %q within %s, so it may not handle SIGTERM yet; killing it. log:\n%s",
					p.name, p.readyMsg, d, p.tail(30))
				p.kill9()
				return -1
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if p.exited() {
		p.t.Errorf("%s had already exited (code %d) before SIGTERM; log:\n%s", p.name, p.code, p.tail(30))
		return p.code
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	code, ok := p.wait(d)
	if !ok {
		p.t.Errorf("%s still running %s after SIGTERM; killing it. log:\n%s", p.name, d, p.tail(30))
		p.kill9()
		return -1
	}
	return code
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func (p *proc) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.output(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logEntries returns the JSON log lines whose message starts with msg.
func (p *proc) logEntries(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.output()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		if s, _ := m["message"].(string); strings.HasPrefix(s, msg) {
			out = append(out, m)
		}
	}
	return out
}

// waitLog polls the log closely (5 ms) until a line with a message
// starting with msg appears, or the process ends (not an error: the
// caller looks at the process), or timeout passes (an error).
func (p *proc) waitLog(t *testing.T, msg string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !p.exited() && len(p.logEntries(msg)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %s; log:\n%s", p.name, msg, timeout, p.tail(30))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tlogWriter copies process output to the test log (E2E_LOG), until the
// test ends.
type tlogWriter struct {
	mu     sync.Mutex
	t      *testing.T
	prefix string
	buf    bytes.Buffer
}

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf.Next(i + 1))
		func() {
			defer func() { _ = recover() }() // logging after the test ended panics
			w.t.Log(w.prefix + strings.TrimRight(line, "\n"))
		}()
	}
	return len(p), nil
}

// ---------------------------------------------------------------------------
// Positions and waiting.

func readCheckpoint(path string) (*checkpoint.State, bool) {
	st, ok, err := (&checkpoint.Store{Path: path}).Load()
	if err != nil || !ok {
		return nil, false
	}
	return st, true
}

// srcPos is the source's current binlog position.
func (e *env) srcPos() binlog.Position {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	file, pos, gtid, err := e.m.BinlogPosition(ctx)
	if err != nil {
		e.t.Fatalf("source binlog position: %v", err)
	}
	return binlog.Position{File: file, Pos: pos, GTID: gtid}
}

// reached reports whether checkpoint position ck is at or after the source
// position src (same server: file names sort in order).
func reached(ck, src binlog.Position) bool {
	if ck.File == "" || src.File == "" {
		return false
	}
	if ck.File != src.File {
		return ck.File > src.File
	}
	return ck.Pos >= src.Pos
}

// waitCaughtUp waits until p streams (it logged "streaming") and cdc's
// saved checkpoint reaches the source's current binlog position (taken now:
// call it after the writers stopped). It falls back to "IoTDB stable for
// 20s" when the checkpoint does not get there, and reports which condition
// ended the wait. p ending early fails the test.
//
// The checkpoint alone is not enough: on a restart the previous run's
// checkpoint may already equal the source, and the wait would end before p
// did anything (or even installed its SIGTERM handler).
func (e *env) waitCaughtUp(p *proc, srv *iotdbtest.Server, timeout time.Duration) (viaCheckpoint bool) {
	e.t.Helper()
	src := e.srcPos()
	deadline := time.Now().Add(timeout)
	var lastActivity int64 = -1
	stableSince := time.Now()
	var ck binlog.Position
	streaming := p == nil
	for {
		if !streaming && len(p.logEntries("streaming")) > 0 {
			streaming, stableSince = true, time.Now() // IoTDB idle before p streamed says nothing
		}
		if st, ok := readCheckpoint(e.checkpointPath()); ok {
			ck = st.Position
			if streaming && reached(ck, src) && allSnapshotsDone(st) {
				return true
			}
		}
		if p != nil && p.exited() {
			e.t.Fatalf("%s exited (code %d, signal %q) while catching up to %s (checkpoint %s); log:\n%s",
				p.name, p.code, p.signal, src, ck, p.tail(40))
		}
		s := srv.Stats()
		act := s.PointsWritten + s.PointsDeleted + s.Deletes + s.RPCs
		if act != lastActivity {
			lastActivity, stableSince = act, time.Now()
		} else if streaming && time.Since(stableSince) > 20*time.Second {
			e.t.Logf("WARNING: checkpoint %s did not reach the source position %s, but IoTDB saw no activity for 20s: taking that as caught up", ck, src)
			return false
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("cdc did not catch up within %s: checkpoint %s, source %s, streaming %v", timeout, ck, src, streaming)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func allSnapshotsDone(st *checkpoint.State) bool {
	for _, ts := range st.Tables {
		if !ts.SnapshotDone {
			return false
		}
	}
	return true
}

// waitStreaming waits until cdc logs that it streams and a checkpoint
// exists (on a restart it may still be the previous run's: "streaming" in
// p's own log is what says p is up).
func (e *env) waitStreaming(p *proc, timeout time.Duration) {
	e.t.Helper()
	testenv.WaitFor(e.t, timeout, p.name+" streaming", func() bool {
		if p.exited() {
			e.t.Fatalf("%s exited (code %d) before streaming; log:\n%s", p.name, p.code, p.tail(40))
		}
		_, ok := readCheckpoint(e.checkpointPath())
		return ok && len(p.logEntries("streaming")) > 0
	})
}

func abbrev(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// dirtyRows returns the lines of the dirty-rows file (default path).
func (e *env) dirtyRows() []string { return readLines(e.dirtyPath()) }

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// finalRun starts cdc one last time after a chaos phase, waits until it
// caught up, stops it with SIGTERM (exit 0 expected) and checks that the
// checkpoint reached the source and no dirty row was recorded.
func (e *env) finalRun(cfgPath string, srv *iotdbtest.Server, timeout time.Duration) {
	t := e.t
	t.Helper()
	p := e.startCDC(cfgPath)
	catchUp := time.Now()
	viaCk := e.waitCaughtUp(p, srv, timeout)
	t.Logf("final run caught up in %s (via checkpoint: %v)", time.Since(catchUp).Round(100*time.Millisecond), viaCk)
	src := e.srcPos()
	if code := p.terminate(2 * time.Minute); code != 0 {
		t.Errorf("cdc exited %d after SIGTERM (want 0); log:\n%s", code, p.tail(30))
	}
	if st, ok := readCheckpoint(e.checkpointPath()); !ok {
		t.Errorf("no checkpoint after SIGTERM")
	} else {
		t.Logf("final checkpoint %s, source %s", st.Position, src)
		if !reached(st.Position, src) {
			t.Errorf("checkpoint after SIGTERM %s is behind the source %s", st.Position, src)
		}
	}
	if d := e.dirtyRows(); len(d) > 0 {
		t.Errorf("%d dirty rows recorded, e.g. %s", len(d), d[0])
	}
}

// bigTable creates the readings table "big" with rows generated from seed
// s (none when rows is 0) and starts an empty iotdbtest for it.
func (e *env) bigTable(s uint64, rows int) *iotdbtest.Server {
	e.t.Helper()
	srv := iotdbtest.Start(e.t, iotdbtest.Options{})
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "big"))
	if rows > 0 {
		e.loadBig("big", rand.New(rand.NewPCG(s, 1)), rows, 1)
	}
	return srv
}

// bigConfig writes a configuration mapping the table "big" (o.Tables and
// o.Mappings are set here) into srv.
func (e *env) bigConfig(srv *iotdbtest.Server, o cfgOpts) (string, *config.Config) {
	e.t.Helper()
	o.IoTDB, o.Tables, o.Mappings = srv, []string{"big"}, readingsMapping("big", "big")
	return e.writeConfig(o)
}
