package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// buildBinary builds cmd/backfill into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "backfill")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is the binary running in the background.
type proc struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	stderr string // file
	stdout string // file
}

func startBinary(t *testing.T, bin, cfg, dir string, n int) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{}),
		stdout: filepath.Join(dir, "run"+strconv.Itoa(n)+".stdout"),
		stderr: filepath.Join(dir, "run"+strconv.Itoa(n)+".stderr")}
	so, err := os.Create(p.stdout)
	if err != nil {
		t.Fatal(err)
	}
	se, err := os.Create(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "--config", cfg)
	p.cmd.Stdout, p.cmd.Stderr = so, se
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		so.Close()
		se.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(runTimeout):
		t.Fatalf("backfill did not exit within %s", runTimeout)
	}
}

func (p *proc) output(t *testing.T) (stdout, stderr string) {
	t.Helper()
	a, err := os.ReadFile(p.stdout)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	return string(a), string(b)
}

func (p *proc) exitCode() int {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -2
	}
	return 0
}

// stateRows is the number of rows the state file records as acknowledged
// (0 while there is no readable state file).
func stateRows(path string) int64 {
	st, ok, err := backfill.LoadState(path)
	if err != nil || !ok {
		return 0
	}
	return stateRowsOf(st)
}

// pageQuery recognises the keyset page queries of table big in MariaDB's
// general log, where an Execute is logged with its parameters inlined:
//
//	first page:  ... WHERE `id` >= 1 AND `id` <= 37500 ORDER BY ...
//	next pages:  ... WHERE `id` >= 500 AND `id` > 500 AND `id` <= 37500 ORDER BY ...
var (
	cursorRe = regexp.MustCompile("`id` >= (-?\\d+) AND `id` > (-?\\d+) AND `id` <= (-?\\d+) ")
	firstRe  = regexp.MustCompile("`id` >(=?) (-?\\d+) AND `id` <= (-?\\d+) ")
)

type executed struct {
	hi    int64
	after int64 // rows with id > after were asked for (first page: lo, minus one when inclusive)
}

func (h *harness) pageQueries() []executed {
	h.t.Helper()
	rows, err := h.root.Query("SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log " +
		"WHERE command_type = 'Execute' AND user_host LIKE 'bridge%' AND argument LIKE 'SELECT%FROM `factory`.`big`%'")
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []executed
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			h.t.Fatal(err)
		}
		if m := cursorRe.FindStringSubmatch(q); m != nil {
			after, _ := strconv.ParseInt(m[2], 10, 64)
			hi, _ := strconv.ParseInt(m[3], 10, 64)
			out = append(out, executed{hi: hi, after: after})
			continue
		}
		if m := firstRe.FindStringSubmatch(q); m != nil {
			lo, _ := strconv.ParseInt(m[2], 10, 64)
			hi, _ := strconv.ParseInt(m[3], 10, 64)
			if m[1] == "=" {
				lo--
			}
			out = append(out, executed{hi: hi, after: lo})
			continue
		}
		h.t.Fatalf("general log: unrecognised page query %q", q)
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// checkResumed verifies against the general log of one run that it read no
// partition recorded finished in prev, and read every other partition only
// after the key prev records for it.
func (h *harness) checkResumed(run int, prev *backfill.State) int {
	h.t.Helper()
	plan := prev.Tables["big"].Plan
	prog := prev.Tables["big"].Progress
	byHi := map[int64]int{}
	for i, p := range plan.Partitions {
		hi, err := strconv.ParseInt(p.Hi.Text, 10, 64)
		if err != nil {
			h.t.Fatalf("partition %d: hi %v", i, p.Hi)
		}
		byHi[hi] = i
	}
	qs := h.pageQueries()
	if len(qs) == 0 {
		h.t.Fatalf("run %d: no page query in the general log (is it on?)", run)
	}
	for _, q := range qs {
		i, ok := byHi[q.hi]
		if !ok {
			h.t.Errorf("run %d: page query up to %d matches no planned partition", run, q.hi)
			continue
		}
		if prog[i].Done {
			h.t.Errorf("run %d read partition p%d %s again, which the state recorded finished", run, i, plan.Partitions[i])
			continue
		}
		if prog[i].Last != nil {
			last, _ := strconv.ParseInt(prog[i].Last[0].Text, 10, 64)
			if q.after < last {
				h.t.Errorf("run %d read partition p%d from after %d, but the state recorded rows up to %d as written", run, i, q.after, last)
			}
		}
	}
	return len(qs)
}

func doneParts(st *backfill.State) int {
	n := 0
	for _, p := range st.Tables["big"].Progress {
		if p.Done {
			n++
		}
	}
	return n
}

// TestIntegrationResumeAfterKill interrupts the built binary with SIGTERM
// once and SIGKILL three times at different points of a slow copy (the
// targets are shares of the rows the state file records), then lets
// it finish, and checks: IoTDB equals the source exactly; no run read a
// partition an earlier run had recorded finished, or rows below a
// partition's recorded key (MariaDB's general log); the final run read
// exactly the rows the state did not record.
func TestIntegrationResumeAfterKill(t *testing.T) {
	h := newHarness(t, iotdbtest.Options{})
	bin := buildBinary(t)
	const total = 300000
	h.exec(
		"CREATE TABLE big (id INT PRIMARY KEY, dev VARCHAR(8) NOT NULL, ts DATETIME(3) NOT NULL, v BIGINT NOT NULL)",
		"INSERT INTO big SELECT seq, CONCAT('d', seq % 50), '2024-01-01' + INTERVAL seq SECOND, seq * 3 FROM seq_1_to_300000",
		"SET GLOBAL log_output = 'TABLE'",
		"SET GLOBAL general_log = 'ON'",
	)
	cfg := h.writeConfig(`
mysql:
  {{mysql}}
  tables:
    - name: big
      partition: {count: 8}
iotdb:
  {{iotdb}}
  mappings:
    - table: big
      device: "root.big.${dev}"
      time: {column: ts}
      measurements: [{column: v}]
backfill:
  {{state}}
  readers: 2
  writers: 2
  page_rows: 500
  queue: 2
dirty_rows:
  {{dirty}}
`)
	// Every IoTDB answer waits 15ms: 600 writes by 2 writers take 4.5s at
	// least, so even the last kill point (65%) leaves over a second of work,
	// longer than the state's save period.
	h.iot.SetLatency(15 * time.Millisecond)

	// Run 1: SIGTERM once some progress is recorded.
	h.exec("TRUNCATE TABLE mysql.general_log")
	p := startBinary(t, bin, cfg, h.dir, 1)
	testenv.WaitFor(t, runTimeout, "run 1 to record 15% of the rows", func() bool {
		return p.exited() || stateRows(h.statePath()) >= total*15/100
	})
	if p.exited() {
		so, se := p.output(t)
		t.Fatalf("run 1 ended before it could be interrupted (exit %d):\n%s\n%s", p.exitCode(), so, tail(se, 20))
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	so, se := p.output(t)
	if p.exitCode() != exitInterrupted || !strings.Contains(se, "interrupted, resume by running again") {
		t.Fatalf("SIGTERM: exit %d, want 3 with \"interrupted, resume by running again\"\nstdout:\n%s\nstderr:\n%s", p.exitCode(), so, tail(se, 20))
	}
	prev := loadState(t, h.statePath())
	// A graceful stop finishes the pages in flight and records them: the
	// state accounts for every point written so far, no more, no less.
	if got, rec := h.iot.TotalPoints(), stateRows(h.statePath()); got != rec || rec == 0 || rec >= total {
		t.Fatalf("after SIGTERM IoTDB holds %d points, the state records %d rows (of %d)", got, rec, total)
	}
	t.Logf("run 1 (SIGTERM): %d rows recorded, %d partitions done", stateRows(h.statePath()), doneParts(prev))

	// Runs 2-4: SIGKILL at later and later points.
	for i, pct := range []int64{25, 45, 65} {
		n := i + 2
		h.exec("TRUNCATE TABLE mysql.general_log")
		// Kill once the state records pct% of the rows, and at least one
		// page more than when this run started.
		target := max(total*pct/100, stateRowsOf(prev)+1)
		p := startBinary(t, bin, cfg, h.dir, n)
		testenv.WaitFor(t, runTimeout, "the state to record more rows", func() bool {
			return p.exited() || stateRows(h.statePath()) >= target
		})
		if p.exited() {
			so, se := p.output(t)
			t.Fatalf("run %d ended before it could be killed (exit %d):\n%s\n%s", n, p.exitCode(), so, tail(se, 20))
		}
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		p.wait(t)
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("run %d: not killed by SIGKILL: %v", n, p.cmd.ProcessState)
		}
		pages := h.checkResumed(n, prev)
		prev = loadState(t, h.statePath())
		t.Logf("run %d (SIGKILL at >= %d%%): %d page queries, %d rows recorded, %d partitions done", n, pct, pages, stateRows(h.statePath()), doneParts(prev))
	}

	// Run 5: to the end.
	h.exec("TRUNCATE TABLE mysql.general_log")
	p = startBinary(t, bin, cfg, h.dir, 5)
	p.wait(t)
	so, se = p.output(t)
	if p.exitCode() != exitOK {
		t.Fatalf("final run: exit %d\nstdout:\n%s\nstderr:\n%s", p.exitCode(), so, tail(se, 30))
	}
	h.checkResumed(5, prev)
	sum, _, _ := parseSummary(t, so)
	big := sum["big"]
	if big == nil {
		t.Fatalf("no summary line for big:\n%s", so)
	}
	left := int64(total) - stateRowsOf(prev)
	if big.earlier != doneParts(prev) || big.rows != left || big.done != big.partitions {
		t.Errorf("final summary %+v: want %d partitions from earlier runs and exactly the %d rows the state did not record", *big, doneParts(prev), left)
	}
	if got := stateRows(h.statePath()); got != total {
		t.Errorf("final state records %d rows, want %d (each row once)", got, total)
	}
	comparePoints(t, "after kills", h.expectFromSQL("SELECT CONCAT('root.big.', dev, '.v'), ts, v FROM big"), storedPoints(h.iot, "root.big."))
	t.Logf("final run: %s", strings.TrimSpace(so))
}

func stateRowsOf(st *backfill.State) int64 {
	var n int64
	for _, ts := range st.Tables {
		for _, p := range ts.Progress {
			n += p.Rows
		}
	}
	return n
}
