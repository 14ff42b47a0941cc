package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/internal/verify"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// The tests of this package run the command in-process (run, as main does
// after parsing flags) against a throwaway MariaDB and iotdbtest over real
// sockets. IoTDB is filled by backfill (wire.RunBackfill, what cmd/backfill
// runs), damaged directly through iotdbtest's store, and verify must find
// exactly the damage. Expected differences are written from the damage
// done and from SELECTs on the source, never from verify's own code.

const runTimeout = 3 * time.Minute

// syncBuffer collects a run's output while its logger writes.
type syncBuffer = testenv.Buffer

type harness struct {
	t    *testing.T
	my   *testenv.MariaDB
	root *sql.DB
	iot  *iotdbtest.Server
	dir  string
	cfg  string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	my := testenv.StartMariaDB(t)
	return &harness{t: t, my: my, root: my.DB(t), iot: iotdbtest.Start(t, iotdbtest.Options{}), dir: t.TempDir()}
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

// writeConfig writes the configuration: the readings table, the mappings
// given (YAML items of iotdb.mappings, indented by 4), the model and
// database of iotdb.
func (h *harness) writeConfig(model, database, mappings string) string {
	h.t.Helper()
	db := ""
	if database != "" {
		db = "  database: " + database + "\n"
	}
	y := fmt.Sprintf(`mysql:
  host: %s
  port: %d
  user: %s
  password: %s
  database: %s
  tls: disabled
  tables:
    - name: readings
      partition: {count: 3}
iotdb:
  nodes: [%q]
  user: root
  password: root
  model: %s
%s  retry: {initial: 20ms, max: 200ms, give_up_after: 30s}
  mappings:
%sbackfill:
  readers: 2
  writers: 2
  page_rows: 17
  state: %s
dirty_rows: {file: %s, max: -1}
log: {level: warn, format: json}
`, h.my.Host, h.my.Port, h.my.BridgeUser, h.my.BridgePassword, h.my.Database, h.iot.Addr(), model, db, mappings,
		filepath.Join(h.dir, "backfill.state.json"), filepath.Join(h.dir, "dirty.jsonl"))
	h.cfg = filepath.Join(h.dir, "config.yaml")
	if err := os.WriteFile(h.cfg, []byte(y), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return h.cfg
}

func (h *harness) backfill() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var out, errb syncBuffer
	if code := wire.RunBackfill(ctx, wire.BackfillArgs{Config: h.cfg, Restart: true}, &out, &errb); code != 0 {
		h.t.Fatalf("backfill exit %d\n%s\n%s", code, out.String(), errb.String())
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func (h *harness) verify(a wire.VerifyArgs) result {
	h.t.Helper()
	if a.Config == "" {
		a.Config = h.cfg
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var out, errb syncBuffer
	code := run(ctx, a, &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// verifyJSON runs verify --json with every difference listed.
func (h *harness) verifyJSON(a wire.VerifyArgs) (int, *verify.Report, result) {
	h.t.Helper()
	a.JSON, a.Show = true, 100000
	r := h.verify(a)
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		h.t.Fatalf("verify --json (exit %d) printed no JSON report: %v\nstdout:\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
	}
	return r.code, &rep, r
}

// diffKey is one difference as the tests state it.
type diffKey struct {
	device string
	time   int64
	meas   string
	kind   string
}

func (d diffKey) String() string {
	return fmt.Sprintf("%s @%d %s %s", d.device, d.time, d.meas, d.kind)
}

func keysOf(rep *verify.Report) []diffKey {
	var out []diffKey
	for _, d := range rep.Differences {
		out = append(out, diffKey{d.Device, d.Time, d.Measurement, d.Kind})
	}
	return sortKeys(out)
}

func sortKeys(k []diffKey) []diffKey {
	sort.Slice(k, func(i, j int) bool { return k[i].String() < k[j].String() })
	return k
}

// sameDiffs fails the test unless got lists exactly want.
func sameDiffs(t *testing.T, what string, got *verify.Report, want []diffKey, r result) {
	t.Helper()
	g, w := keysOf(got), sortKeys(append([]diffKey(nil), want...))
	gs, ws := map[string]bool{}, map[string]bool{}
	for _, k := range g {
		gs[k.String()] = true
	}
	for _, k := range w {
		ws[k.String()] = true
	}
	var missing, extra []string
	for _, k := range w {
		if !gs[k.String()] {
			missing = append(missing, k.String())
		}
	}
	for _, k := range g {
		if !ws[k.String()] {
			extra = append(extra, k.String())
		}
	}
	for i := 1; i < len(g); i++ {
		if g[i] == g[i-1] {
			extra = append(extra, "listed twice: "+g[i].String())
		}
	}
	for i := 1; i < len(w); i++ {
		if w[i] == w[i-1] {
			missing = append(missing, "expected twice (a bug of the test): "+w[i].String())
		}
	}
	if len(missing) > 0 || len(extra) > 0 || len(g) != len(w) {
		t.Fatalf("%s: differences not as expected\nnot found:\n  %s\nunexpected:\n  %s\nreport:\n%s\nstderr:\n%s", what,
			strings.Join(missing, "\n  "), strings.Join(extra, "\n  "), r.stdout, tailLines(r.stderr, 30))
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
