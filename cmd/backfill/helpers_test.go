package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver for the expected-value queries

	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// The tests of this package drive the command itself: run() in-process (or
// the built binary for the kill tests) against a throwaway MariaDB and the
// iotdbtest wire-protocol server, over real sockets, with a generated
// configuration file. Expected values come from the source (a SELECT) or are
// written out by hand; they never come from the code under test.

// runTimeout bounds one in-process run: generous for a loaded 2-core machine.
const runTimeout = 3 * time.Minute

// syncBuffer collects a run's output while its logger writes.
type syncBuffer = testenv.Buffer

// harness is one MariaDB, one iotdbtest server and a scratch directory.
type harness struct {
	t    *testing.T
	my   *testenv.MariaDB
	root *sql.DB
	iot  *iotdbtest.Server
	dir  string
}

func newHarness(t *testing.T, o iotdbtest.Options) *harness {
	t.Helper()
	my := testenv.StartMariaDB(t)
	h := &harness{t: t, my: my, root: my.DB(t), iot: iotdbtest.Start(t, o), dir: t.TempDir()}
	return h
}

func (h *harness) exec(stmts ...string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	for _, s := range stmts {
		if err := h.my.Exec(ctx, s); err != nil {
			h.t.Fatalf("%v", err)
		}
	}
}

func (h *harness) script(s string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	if err := h.my.ExecScript(ctx, s); err != nil {
		h.t.Fatalf("%v", err)
	}
}

func (h *harness) statePath() string { return filepath.Join(h.dir, "state.json") }
func (h *harness) dirtyPath() string { return filepath.Join(h.dir, "dirty.jsonl") }

// writeConfig writes body as config.yaml in the scratch directory and returns
// its path. Placeholders, each standing for indented keys:
//
//	{{mysql}}  host, port, user, password, database, tls (indent 2)
//	{{iotdb}}  nodes, user, password, a fast retry policy (indent 2)
//	{{state}}  backfill.state in the scratch directory (indent 2)
//	{{dirty}}  dirty_rows.file in the scratch directory (indent 2)
func (h *harness) writeConfig(body string) string {
	h.t.Helper()
	r := strings.NewReplacer(
		"{{mysql}}", fmt.Sprintf("host: %s\n  port: %d\n  user: %s\n  password: %s\n  database: %s\n  tls: disabled",
			h.my.Host, h.my.Port, h.my.BridgeUser, h.my.BridgePassword, h.my.Database),
		"{{iotdb}}", fmt.Sprintf("nodes: [%q]\n  user: root\n  password: root\n  retry: {initial: 20ms, max: 200ms, give_up_after: 60s}", h.iot.Addr()),
		"{{state}}", "state: "+h.statePath(),
		"{{dirty}}", "file: "+h.dirtyPath(),
	)
	path := filepath.Join(h.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(r.Replace(body)), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the command in-process, as main does after parsing flags.
func runCmd(t *testing.T, ctx context.Context, f flags) result {
	t.Helper()
	if f.sample == 0 {
		f.sample = 5
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	var stdout, stderr syncBuffer
	code := run(ctx, f, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func (h *harness) run(f flags) result {
	h.t.Helper()
	return runCmd(h.t, context.Background(), f)
}

// mustSucceed fails the test unless r exited 0.
func mustSucceed(t *testing.T, r result) {
	t.Helper()
	if r.code != exitOK {
		t.Fatalf("exit code %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 40))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tableSummary is one table's line of the summary printed at exit.
type tableSummary struct {
	rows, points, dirty, empty, collisions int64
	done, partitions, earlier              int
	skipped                                map[string]int64 // "(reason N, ...)" after the dirty rows
}

var (
	summaryLine = regexp.MustCompile(`^(\S+): (\d+) rows? read, (\d+) points? written, (\d+) dirty rows? skipped(?: \((.*)\))?, ` +
		`(\d+) rows? without values, (\d+) collisions?, (\d+)/(\d+) partitions done \((\d+) from earlier runs\), \S+, \d+ rows/s$`)
	reasonCount = regexp.MustCompile(`^(.+) (\d+)$`)
	totalLine   = regexp.MustCompile(`^total \S+; state (\S+)(; dirty rows in (\S+))?$`)
	sourceLine  = regexp.MustCompile(`^source binlog position before the copy: \S+:\d+( gtid=\S+)? \(cdc with start: backfill streams from here\)$`)
)

// parseSummary parses the summary on stdout; it fails the test when a line
// does not have the documented shape (one line per table, with its number
// words in the singular for 1).
func parseSummary(t *testing.T, out string) (map[string]*tableSummary, string, string) {
	t.Helper()
	tables := map[string]*tableSummary{}
	var state, dirty string
	sawTotal := false
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if m := summaryLine.FindStringSubmatch(line); m != nil {
			n := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v }
			cur := &tableSummary{rows: n(2), points: n(3), dirty: n(4), empty: n(6), collisions: n(7),
				done: int(n(8)), partitions: int(n(9)), earlier: int(n(10)), skipped: map[string]int64{}}
			if m[5] != "" {
				for _, r := range strings.Split(m[5], ", ") {
					rc := reasonCount.FindStringSubmatch(r)
					if rc == nil {
						t.Fatalf("dirty reason %q in %q", r, line)
					}
					v, _ := strconv.ParseInt(rc[2], 10, 64)
					cur.skipped[rc[1]] = v
				}
			}
			for _, c := range []struct {
				n    int64
				word string
			}{{cur.rows, "row read"}, {cur.points, "point written"}, {cur.dirty, "dirty row skipped"}, {cur.empty, "row without"}, {cur.collisions, "collision,"}} {
				if singular := strings.Contains(line, fmt.Sprintf(" %d %s", c.n, c.word)); singular != (c.n == 1) {
					t.Errorf("summary line %q: %d with the wrong number of %q", line, c.n, c.word)
				}
			}
			tables[m[1]] = cur
			continue
		}
		if m := totalLine.FindStringSubmatch(line); m != nil {
			state, dirty, sawTotal = m[1], m[3], true
			continue
		}
		if sawTotal && sourceLine.MatchString(line) {
			continue
		}
		t.Fatalf("unexpected summary line %q in:\n%s", line, out)
	}
	if !sawTotal {
		t.Fatalf("no total line in summary:\n%s", out)
	}
	return tables, state, dirty
}

// points is series -> time -> value.
type points map[string]map[int64]any

func (p points) add(series string, ts int64, v any) {
	m := p[series]
	if m == nil {
		m = map[int64]any{}
		p[series] = m
	}
	m[ts] = v
}

func (p points) count() int {
	n := 0
	for _, m := range p {
		n += len(m)
	}
	return n
}

// storedPoints reads every stored point of iot whose series path starts
// with prefix.
func storedPoints(iot *iotdbtest.Server, prefix string) points {
	out := points{}
	for _, s := range iot.Series() {
		if !strings.HasPrefix(s.Path, prefix) {
			continue
		}
		for _, p := range iot.Points(s.Path) {
			out.add(s.Path, p.Time, p.Value)
		}
	}
	return out
}

func sameValue(a, b any) bool {
	if x, ok := a.([]byte); ok {
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}

// comparePoints fails the test unless got equals want exactly: the same
// series, times, values and Go types (int32 is not int64).
func comparePoints(t *testing.T, what string, want, got points) {
	t.Helper()
	var diffs []string
	series := map[string]bool{}
	for s := range want {
		series[s] = true
	}
	for s := range got {
		series[s] = true
	}
	names := make([]string, 0, len(series))
	for s := range series {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		w, g := want[s], got[s]
		times := map[int64]bool{}
		for ts := range w {
			times[ts] = true
		}
		for ts := range g {
			times[ts] = true
		}
		sorted := make([]int64, 0, len(times))
		for ts := range times {
			sorted = append(sorted, ts)
		}
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		for _, ts := range sorted {
			wv, wok := w[ts]
			gv, gok := g[ts]
			switch {
			case !gok:
				diffs = append(diffs, fmt.Sprintf("missing %s @%d = %#v", s, ts, wv))
			case !wok:
				diffs = append(diffs, fmt.Sprintf("unexpected %s @%d = %#v", s, ts, gv))
			case !sameValue(wv, gv):
				diffs = append(diffs, fmt.Sprintf("%s @%d = %#v (%T), want %#v (%T)", s, ts, gv, gv, wv, wv))
			}
		}
	}
	if len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("... %d differences in all", len(diffs)))
		}
		t.Errorf("%s: IoTDB differs from the source (want %d points, got %d):\n  %s", what, want.count(), got.count(), strings.Join(diffs, "\n  "))
	}
}

// expectFromSQL builds the expected points from a query returning
// (series path, time as DATETIME/TIMESTAMP in UTC, int64 value): one point
// per row, at millisecond precision.
func (h *harness) expectFromSQL(query string) points {
	h.t.Helper()
	rows, err := h.root.Query(query)
	if err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	out := points{}
	n := 0
	for rows.Next() {
		var series string
		var ts time.Time
		var v int64
		if err := rows.Scan(&series, &ts, &v); err != nil {
			h.t.Fatal(err)
		}
		if _, dup := out[series][ts.UnixMilli()]; dup {
			h.t.Fatalf("test data: two rows map to %s @%d", series, ts.UnixMilli())
		}
		out.add(series, ts.UnixMilli(), v)
		n++
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	if n == 0 {
		h.t.Fatalf("%s: no rows (test data missing)", query)
	}
	return out
}

func (h *harness) count(query string) int64 {
	h.t.Helper()
	var n int64
	if err := h.root.QueryRow(query).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// dirtyLine is the part of a dirty-rows record a test can predict.
type dirtyLine struct {
	Table, Key, Column, Value, Reason string
}

func readDirty(t *testing.T, path string) []dirtyLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("dirty-rows file: %v", err)
	}
	defer f.Close()
	var out []dirtyLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Table, Key, Column, Reason string
			Value                      any
			Time                       time.Time
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("dirty-rows line %q: %v", sc.Text(), err)
		}
		if rec.Time.IsZero() {
			t.Errorf("dirty-rows line without time: %s", sc.Text())
		}
		v := ""
		if rec.Value != nil {
			v = fmt.Sprint(rec.Value)
		}
		out = append(out, dirtyLine{Table: rec.Table, Key: rec.Key, Column: rec.Column, Value: v, Reason: rec.Reason})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Key < out[j].Key
	})
	return out
}

func loadState(t *testing.T, path string) *backfill.State {
	t.Helper()
	st, ok, err := backfill.LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("no state file %s", path)
	}
	return st
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// checkLogLines fails the test unless every JSON log line on stderr is one
// valid object without repeated keys (log processors disagree on which of
// two "component" fields wins).
func checkLogLines(t *testing.T, stderr string) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		n++
		dec := json.NewDecoder(strings.NewReader(line))
		if _, err := dec.Token(); err != nil {
			t.Errorf("log line %q: %v", line, err)
			continue
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Errorf("log line %q: %v", line, err)
				break
			}
			key := tok.(string)
			if seen[key] {
				t.Errorf("log line repeats key %q: %s", key, line)
				return
			}
			seen[key] = true
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Errorf("log line %q: %v", line, err)
				break
			}
		}
	}
	if n == 0 {
		t.Errorf("no JSON log line on stderr:\n%s", stderr)
	}
}
