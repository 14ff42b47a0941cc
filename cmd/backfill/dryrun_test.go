package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

const dryRunConfig = `
mysql:
  {{mysql}}
  tables:
    - name: alpha
      partition: {count: 2}
    - name: beta
      partition: {count: 1}
iotdb:
  {{iotdb}}
  mappings:
    - table: alpha
      device: "root.dr.${dev}"
      time: {column: ts}
      measurements: [{column: v}]
    - table: beta
      device: "root.dr.${dev}"
      time: {column: ts}
      measurements: [{column: v}]
backfill:
  {{state}}
  page_rows: 100
dirty_rows:
  {{dirty}}
`

func dryRunTables(h *harness) {
	h.exec(
		"CREATE TABLE alpha (id INT PRIMARY KEY, dev VARCHAR(8) NOT NULL, ts DATETIME(3) NOT NULL, v BIGINT NOT NULL)",
		"INSERT INTO alpha SELECT seq, CONCAT('a', seq % 2), '2024-01-01' + INTERVAL seq SECOND, seq * 5 FROM seq_1_to_1000",
		"CREATE TABLE beta (id INT PRIMARY KEY, dev VARCHAR(8) NULL, ts DATETIME(3) NOT NULL, v BIGINT NOT NULL)",
		"INSERT INTO beta SELECT seq, IF(seq = 1, NULL, 'b'), '2024-02-01' + INTERVAL seq SECOND, -seq FROM seq_1_to_300",
	)
}

func noFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s exists (%v): a dry run must write nothing", path, err)
	}
}

// matchLines checks that out has exactly the lines of want, in order, each
// a regular expression matched against the whole line.
func matchLines(t *testing.T, out string, want []string) {
	t.Helper()
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(got) != len(want) {
		t.Errorf("%d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range min(len(got), len(want)) {
		if !regexp.MustCompile("^" + want[i] + "$").MatchString(got[i]) {
			t.Errorf("line %d: %q does not match %q\n%s", i+1, got[i], want[i], out)
		}
	}
}

func TestIntegrationDryRun(t *testing.T) {
	h := newHarness(t, iotdbtest.Options{})
	dryRunTables(h)
	cfg := h.writeConfig(dryRunConfig)

	r := h.run(flags{config: cfg, dryRun: true, sample: 3})
	mustSucceed(t, r)
	matchLines(t, r.stdout, []string{
		`dry run: nothing is written`,
		`IoTDB 127\.0\.0\.1:\d+: session opened as root \(timestamp precision ms\)`,
		`  database root\.dr: does not exist yet; the run creates it \(iotdb\.create_schema: true\)`,
		`  privileges: root holds every privilege`,
		`IoTDB: ready for this run's writes`,
		`table alpha: 2 partitions, ~\d+ rows, keyset paging on \(id\)`,
		`  partition column id: min 1, max 1000 \(rows above max are left to cdc\)`,
		`  p0 \[1, 500\] ~\d+ rows`,
		`  p1 \(500, 1000\] ~\d+ rows`,
		`table beta: 1 partitions, ~\d+ rows, keyset paging on \(id\)`,
		`  partition column id: min 1, max 300 \(rows above max are left to cdc\)`,
		`  p0 \[1, 300\] ~\d+ rows`,
		``,
		`first mapped points \(timestamps in ms\):`,
		// 2024-01-01 00:00:01 UTC is 1704067201000 ms.
		`  root\.dr\.a1 @1704067201000 v=5\(INT64\)`,
		`  root\.dr\.a0 @1704067202000 v=10\(INT64\)`,
		`  root\.dr\.a1 @1704067203000 v=15\(INT64\)`,
		`  root\.dr\.b @1706745602000 v=-2\(INT64\)`,
		`  root\.dr\.b @1706745603000 v=-3\(INT64\)`,
		`  dirty: beta id=1 column dev = NULL: null_device`,
	})
	noWrites(t, h)
	noFile(t, h.statePath())
	noFile(t, h.dirtyPath())

	// --tables narrows the dry run.
	r = h.run(flags{config: cfg, dryRun: true, sample: 1, tables: "beta"})
	mustSucceed(t, r)
	if strings.Contains(r.stdout, "alpha") || !strings.Contains(r.stdout, "table beta: 1 partitions") {
		t.Errorf("--tables beta --dry-run:\n%s", r.stdout)
	}
	noWrites(t, h)
	noFile(t, h.statePath())

	// A database that exists is said to exist.
	if err := h.iot.AddPoint("root.dr.x", "v", iotdbtest.INT64, true, 1, int64(1)); err != nil {
		t.Fatal(err)
	}
	r = h.run(flags{config: cfg, dryRun: true, sample: 1})
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "\n  database root.dr: exists\n") {
		t.Errorf("existing database:\n%s", r.stdout)
	}
}

// noWrites fails the test when the dry run changed IoTDB: no statement
// that writes, no point, no series, no database.
func noWrites(t *testing.T, h *harness) {
	t.Helper()
	s := h.iot.Stats()
	if h.iot.TotalPoints() != 0 || len(h.iot.Series()) != 0 || len(h.iot.Databases()) != 0 ||
		s.InsertTabletCalls+s.InsertTabletsCalls+s.InsertRecordCalls+s.InsertRecordsCalls+s.Deletes != 0 {
		t.Errorf("dry run wrote to IoTDB: %d points, series %v, databases %v, stats %+v", h.iot.TotalPoints(), h.iot.Series(), h.iot.Databases(), s)
	}
	if s.Sessions == 0 {
		t.Errorf("dry run opened no IoTDB session: it cannot say whether the run could write")
	}
}

// TestIntegrationDryRunRefusals: a dry run says, and exits 1, when the run
// could not write: a database that nothing creates, a wrong password. The plan and the sample are printed anyway.
func TestIntegrationDryRunRefusals(t *testing.T) {
	h := newHarness(t, iotdbtest.Options{})
	dryRunTables(h)

	cfg := h.writeConfig(strings.Replace(dryRunConfig, "  {{iotdb}}\n", "  {{iotdb}}\n  create_schema: false\n", 1))
	r := h.run(flags{config: cfg, dryRun: true, sample: 1})
	if r.code != exitFailed || !strings.Contains(r.stdout, "  database root.dr: does not exist, and iotdb.create_schema is false: create it, or set create_schema: true\n") ||
		!strings.Contains(r.stdout, "IoTDB: this run's writes would be refused (see above)") || !strings.Contains(r.stdout, "table alpha: 2 partitions") {
		t.Errorf("create_schema false, no database: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	noWrites(t, h)

	cfg = h.writeConfig(dryRunConfig)
	bad := strings.Replace(readConfig(t, cfg), "password: root", "password: wr0ng-pw-9731", 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	r = h.run(flags{config: cfg, dryRun: true, sample: 1})
	if r.code != exitFailed || !strings.Contains(r.stdout, "cannot open a session as root") || !strings.Contains(r.stdout, "IoTDB: a run would fail at its start") {
		t.Errorf("wrong password: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "wr0ng-pw-9731") {
		t.Errorf("the password appears in the output")
	}
}

func readConfig(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIntegrationTablesSubset(t *testing.T) {
	h := newHarness(t, iotdbtest.Options{})
	dryRunTables(h)
	cfg := h.writeConfig(dryRunConfig)
	wantAlpha := h.expectFromSQL("SELECT CONCAT('root.dr.', dev, '.v'), ts, v FROM alpha")
	wantBeta := h.expectFromSQL("SELECT CONCAT('root.dr.', dev, '.v'), ts, v FROM beta WHERE dev IS NOT NULL")

	// An unknown name is a usage error, reported before connecting.
	r := h.run(flags{config: cfg, tables: "alpha,nope"})
	if want := "--tables: no mapping in " + cfg + " for: nope\n"; r.code != exitUsage || r.stderr != want {
		t.Errorf("--tables alpha,nope: exit %d, stderr %q; want 2, %q", r.code, r.stderr, want)
	}
	if h.iot.Stats().Connections != 0 {
		t.Errorf("--tables error after connecting to IoTDB")
	}

	// Only alpha.
	r = h.run(flags{config: cfg, tables: "alpha"})
	mustSucceed(t, r)
	comparePoints(t, "--tables alpha", wantAlpha, storedPoints(h.iot, "root.dr.a"))
	if got := storedPoints(h.iot, "root.dr.b"); len(got) != 0 {
		t.Errorf("--tables alpha wrote beta's points: %d series", len(got))
	}
	sum, _, _ := parseSummary(t, r.stdout)
	if len(sum) != 1 || sum["alpha"] == nil || sum["alpha"].rows != 1000 {
		t.Errorf("--tables alpha summary:\n%s", r.stdout)
	}
	st := loadState(t, h.statePath())
	if len(st.Tables) != 1 || st.Tables["alpha"] == nil {
		t.Errorf("state after --tables alpha has tables %v", st.Tables)
	}

	// Then beta, added later: alpha is not read again and keeps its state.
	r = h.run(flags{config: cfg, tables: " beta "})
	mustSucceed(t, r)
	sum, _, _ = parseSummary(t, r.stdout)
	if len(sum) != 1 || sum["beta"] == nil || sum["beta"].rows != 300 || sum["beta"].dirty != 1 {
		t.Errorf("--tables beta summary:\n%s", r.stdout)
	}
	comparePoints(t, "--tables beta", wantBeta, storedPoints(h.iot, "root.dr.b"))
	comparePoints(t, "alpha after beta", wantAlpha, storedPoints(h.iot, "root.dr.a"))
	st = loadState(t, h.statePath())
	if len(st.Tables) != 2 || st.Tables["alpha"] == nil || st.Tables["beta"] == nil {
		t.Errorf("state after both runs has tables %v", st.Tables)
	}

	// All tables: everything is done already; nothing is read.
	r = h.run(flags{config: cfg})
	mustSucceed(t, r)
	sum, _, _ = parseSummary(t, r.stdout)
	for name, s := range sum {
		if s.rows != 0 || s.earlier != s.partitions {
			t.Errorf("rerun of %s: %+v, want nothing read", name, *s)
		}
	}
	if len(sum) != 2 {
		t.Errorf("rerun summary:\n%s", r.stdout)
	}
}

// TestIntegrationDryRunTableModel: in the table model a run creates its
// database at the start (create_schema); a dry run must not, so a second
// dry run still finds it missing.
func TestIntegrationDryRunTableModel(t *testing.T) {
	h := newHarness(t, iotdbtest.Options{})
	dryRunTables(h)
	cfg := h.writeConfig(`
mysql:
  {{mysql}}
iotdb:
  {{iotdb}}
  model: table
  database: plant
  mappings:
    - table: alpha
      device: alpha
      tags: [dev]
      time: {column: ts}
      measurements: [{column: v}]
backfill:
  {{state}}
dirty_rows:
  {{dirty}}
`)
	for i := range 2 {
		r := h.run(flags{config: cfg, dryRun: true, sample: 1})
		mustSucceed(t, r)
		if !strings.Contains(r.stdout, "\n  database plant: does not exist yet; the run creates it (iotdb.create_schema: true)\n") {
			t.Fatalf("dry run %d:\n%s", i+1, r.stdout)
		}
	}
}
