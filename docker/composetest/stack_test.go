//go:build compose

package composetest

import (
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/checkpoint"
	"github.com/mysql-iotdb-bridge/bridge/internal/source"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// Passwords with the characters that broke the init script before: a
// quote, a backslash, a dollar and a double quote.
const (
	testRootPassword   = `ro'ot"pw\1`
	testBridgePassword = `br'id\ge$pw"2`
)

// stack is one compose project: a copy of docker/ (so the test can edit its
// config and mappings as a user would) run with the product's compose file
// and the test override.
type stack struct {
	t       *testing.T
	repo    string
	dir     string // the project folder: a copy of docker/
	project string
	cli     []string
	env     []string

	mysqlPort, iotdbPort, metricsPort, inspectPort int

	db *sql.DB // root over the published port, with the bridge's driver settings
}

func newStack(t *testing.T, cli []string, repo string) *stack {
	t.Helper()
	parent := t.TempDir()
	if os.Getenv("COMPOSE_TEST_KEEP") != "" {
		// Kept with the stack, for `docker compose` by hand afterwards.
		var err error
		if parent, err = os.MkdirTemp("", "composetest-"); err != nil {
			t.Fatal(err)
		}
	}
	s := &stack{t: t, repo: repo, cli: cli, dir: filepath.Join(parent, "docker"),
		project: fmt.Sprintf("bridgecomposetest%d", os.Getpid())}
	copyTree(t, filepath.Join(repo, "docker"), s.dir, "composetest")
	s.mysqlPort, s.iotdbPort, s.metricsPort, s.inspectPort = freePort(t), freePort(t), freePort(t), freePort(t)
	s.env = append(os.Environ(),
		"MYSQL_ROOT_PASSWORD="+testRootPassword,
		"BRIDGE_PASSWORD="+testBridgePassword,
		"MYSQL_HOST_PORT="+strconv.Itoa(s.mysqlPort),
		"IOTDB_HOST_PORT="+strconv.Itoa(s.iotdbPort),
		"METRICS_HOST_PORT="+strconv.Itoa(s.metricsPort),
		"STANDIN_INSPECT_PORT="+strconv.Itoa(s.inspectPort),
	)
	t.Cleanup(s.teardown)
	return s
}

func (s *stack) args(a ...string) (string, []string) {
	out := append([]string{}, s.cli[1:]...)
	out = append(out, "-f", filepath.Join(s.dir, "docker-compose.yml"),
		"-f", filepath.Join(s.repo, "docker", "composetest", "compose.test.yml"), "-p", s.project)
	return s.cli[0], append(out, a...)
}

// compose runs one Compose command in the project folder.
func (s *stack) compose(a ...string) (string, error) {
	name, args := s.args(a...)
	start := time.Now()
	out, err := runErr(s.dir, s.env, name, args...)
	s.t.Logf("%s %s: %s", strings.Join(s.cli, " "), strings.Join(a, " "), time.Since(start).Round(10*time.Millisecond))
	return out, err
}

func (s *stack) mustCompose(a ...string) string {
	s.t.Helper()
	out, err := s.compose(a...)
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", strings.Join(s.cli, " "), strings.Join(a, " "), err, tail(out, 60))
	}
	return out
}

func (s *stack) teardown() {
	if s.t.Failed() {
		if out, err := s.compose("logs", "--no-color", "--tail=60"); err == nil {
			s.t.Logf("compose logs (last lines per service):\n%s", out)
		}
	}
	if os.Getenv("COMPOSE_TEST_KEEP") != "" {
		s.t.Logf("COMPOSE_TEST_KEEP: leaving project %s in %s", s.project, s.dir)
		return
	}
	if s.db != nil {
		s.db.Close()
	}
	if out, err := s.compose("down", "-v", "--remove-orphans"); err != nil {
		s.t.Logf("compose down -v: %v\n%s", err, out)
	}
}

// containerID is the id of the service's (not one-off) container, "" if none.
func (s *stack) containerID(service string) string {
	out, err := exec.Command("docker", "ps", "-a", "-q",
		"--filter", "label=com.docker.compose.project="+s.project,
		"--filter", "label=com.docker.compose.service="+service,
		"--filter", "label=com.docker.compose.oneoff=False").Output()
	if err != nil {
		return ""
	}
	return firstLine(string(out))
}

func (s *stack) inspect(service string) container {
	s.t.Helper()
	id := s.containerID(service)
	if id == "" {
		s.t.Fatalf("no container for service %s", service)
	}
	out, err := exec.Command("docker", "inspect", id).Output()
	if err != nil {
		s.t.Fatalf("docker inspect %s: %v", id, err)
	}
	var cs []container
	if err := json.Unmarshal(out, &cs); err != nil || len(cs) != 1 {
		s.t.Fatalf("docker inspect %s: %v", id, err)
	}
	return cs[0]
}

func (s *stack) waitHealthy(service string, timeout time.Duration) container {
	s.t.Helper()
	var c container
	waitFor(s.t, service+" healthy", timeout, func() (bool, string) {
		c = s.inspect(service)
		return c.health() == "healthy", fmt.Sprintf("state %s, health %s, restarts %d", c.State.Status, c.health(), c.RestartCount)
	})
	return c
}

// logs is the service's log (stdout and stderr).
func (s *stack) logs(service string) string {
	out, _ := exec.Command("docker", "logs", s.containerID(service)).CombinedOutput()
	return string(out)
}

func (s *stack) metricsURL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.metricsPort) }

// metrics scrapes cdc's /metrics through the published port.
func (s *stack) metrics() []sample {
	code, body := httpGet(s.metricsURL() + "/metrics")
	if code != 200 {
		return nil
	}
	return parseMetrics(body)
}

func (s *stack) readyz() (int, string) { return httpGet(s.metricsURL() + "/readyz") }

func (s *stack) standin() stats {
	s.t.Helper()
	var st stats
	getJSON(s.t, fmt.Sprintf("http://127.0.0.1:%d/stats", s.inspectPort), &st)
	return st
}

// iotdbState is every point the stand-in holds: normalised series path ->
// time -> canonical value.
func (s *stack) iotdbState() map[string]map[int64]string {
	s.t.Helper()
	var st struct {
		Series []struct {
			Path   string
			Type   string
			Points []struct {
				T json.Number `json:"t"`
				V any         `json:"v"`
			}
		}
	}
	getJSON(s.t, fmt.Sprintf("http://127.0.0.1:%d/series", s.inspectPort), &st)
	out := map[string]map[int64]string{}
	for _, se := range st.Series {
		if len(se.Points) == 0 {
			continue
		}
		m := map[int64]string{}
		for _, p := range se.Points {
			tm, err := p.T.Int64()
			if err != nil {
				s.t.Fatalf("%s: time %v: %v", se.Path, p.T, err)
			}
			m[tm] = canonJSON(s.t, se.Type, p.V)
		}
		out[normPath(se.Path)] = m
	}
	return out
}

// config loads the project's config as cdc reads it.
func (s *stack) config() *config.Config {
	s.t.Helper()
	s.t.Setenv("MYSQL_PASSWORD", testBridgePassword)
	c, err := config.Load(filepath.Join(s.dir, "config.yaml"))
	if err != nil {
		s.t.Fatalf("loading the project's config: %v", err)
	}
	return c
}

// openDB connects as root through the published port, with the driver
// settings the bridge uses (so the expected values are converted exactly
// as the backfill converts them).
func (s *stack) openDB() {
	s.t.Helper()
	mc := s.config().MySQL
	mc.Host, mc.Port, mc.User, mc.Password = "127.0.0.1", s.mysqlPort, "root", testRootPassword
	ctx, cancel := bgContext()
	defer cancel()
	db, err := source.Open(ctx, mc, 4)
	if err != nil {
		s.t.Fatalf("connecting to the mysql service through 127.0.0.1:%d: %v", s.mysqlPort, err)
	}
	s.db = db
}

func (s *stack) exec(stmts ...string) {
	s.t.Helper()
	ctx, cancel := bgContext()
	defer cancel()
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			s.t.Fatalf("%s: %v", q, err)
		}
	}
}

func (s *stack) count(q string) int {
	s.t.Helper()
	ctx, cancel := bgContext()
	defer cancel()
	var n int
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// idList is a list of row ids.
type idList []int64

func (l idList) list() string {
	parts := make([]string, len(l))
	for i, id := range l {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// ids runs a query of one integer column.
func (s *stack) ids(q string) idList {
	s.t.Helper()
	ctx, cancel := bgContext()
	defer cancel()
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out idList
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// sourcePos is the source's current binlog position (SHOW MASTER STATUS).
func (s *stack) sourcePos() binlog.Position {
	s.t.Helper()
	ctx, cancel := bgContext()
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		s.t.Fatal("SHOW MASTER STATUS: no row (is the binlog on?)")
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		s.t.Fatal(err)
	}
	pos, _ := strconv.ParseUint(string(vals[1]), 10, 32)
	return binlog.Position{File: string(vals[0]), Pos: uint32(pos)}
}

// checkpoint reads cdc's checkpoint file out of the bridge-state volume
// (docker cp works on a scratch image).
func (s *stack) checkpoint() (binlog.Position, bool) {
	s.t.Helper()
	dst := filepath.Join(s.t.TempDir(), "cdc.checkpoint.json")
	if out, err := exec.Command("docker", "cp", s.containerID("cdc")+":/var/lib/bridge/cdc.checkpoint.json", dst).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "No such") || strings.Contains(string(out), "Could not find") {
			return binlog.Position{}, false
		}
		s.t.Fatalf("docker cp checkpoint: %v: %s", err, out)
	}
	st, found, err := (&checkpoint.Store{Path: dst}).Load()
	if err != nil {
		s.t.Fatalf("reading the checkpoint: %v", err)
	}
	if !found {
		return binlog.Position{}, false
	}
	return st.Position, true
}

// waitCheckpointed waits until cdc's saved checkpoint is at the source's
// current position (so a crash now replays nothing).
func (s *stack) waitCheckpointed() {
	s.t.Helper()
	src := s.sourcePos()
	waitFor(s.t, "checkpoint at the source position "+src.String(), time.Minute, func() (bool, string) {
		ck, ok := s.checkpoint()
		return ok && ck.File == src.File && ck.Pos >= src.Pos, fmt.Sprintf("checkpoint %s (found %v)", ck, ok)
	})
}

// expected is what IoTDB must hold for the rows of table matching where
// (all rows when empty), through the project's mapping for it.
func (s *stack) expected(table, where string) map[string]map[int64]string {
	s.t.Helper()
	cfg := s.config()
	mc, ok := cfg.Mapping(table)
	if !ok {
		s.t.Fatalf("no mapping for %s", table)
	}
	ctx, cancel := bgContext()
	defer cancel()
	mp, err := wire.CompileOffline(ctx, s.db, cfg, mc)
	if err != nil {
		s.t.Fatalf("compiling the mapping of %s: %v", table, err)
	}
	q := "SELECT " + strings.Join(mp.SelectList(), ", ") + " FROM `" + table + "`"
	if where != "" {
		q += " WHERE " + where
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]map[int64]string{}
	vals := make([]any, len(mp.Columns()))
	ptrs := make([]any, len(vals))
	for rows.Next() {
		for i := range vals {
			vals[i] = nil
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			s.t.Fatal(err)
		}
		p, err := mp.Map(vals)
		if err != nil {
			s.t.Fatalf("%s: a row the mapping refuses (this test has none): %v", table, err)
		}
		for i, v := range p.Values {
			if v == nil {
				continue
			}
			series := normPath(p.Device + "." + p.Schema.Measurements[i])
			if out[series] == nil {
				out[series] = map[int64]string{}
			}
			out[series][p.Time] = canon(v)
		}
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// merge adds b's points to a.
func merge(a, b map[string]map[int64]string) map[string]map[int64]string {
	for s, pts := range b {
		if a[s] == nil {
			a[s] = map[int64]string{}
		}
		for tm, v := range pts {
			a[s][tm] = v
		}
	}
	return a
}

func normPath(p string) string {
	if n, err := iotdbtest.NormalizePath(p); err == nil {
		return n
	}
	return p
}

// canon is a mapped value as comparable text, with its Go type (an int32
// never equals an int64; a FLOAT compares at 32 bits).
func canon(v any) string {
	switch x := v.(type) {
	case bool:
		return "bool:" + strconv.FormatBool(x)
	case int32:
		return "int32:" + strconv.FormatInt(int64(x), 10)
	case int64:
		return "int64:" + strconv.FormatInt(x, 10)
	case float32:
		return "float32:" + strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return "float64:" + strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return "text:" + x
	case []byte:
		return "blob:" + hex.EncodeToString(x)
	case time.Time: // DATE
		return "date:" + x.Format("20060102")
	}
	return fmt.Sprintf("%T:%v", v, v)
}

// canonJSON is canon for a value of the stand-in's /series (JSON, typed by
// the series' IoTDB type).
func canonJSON(t *testing.T, typ string, v any) string {
	t.Helper()
	num := func() json.Number {
		n, ok := v.(json.Number)
		if !ok {
			t.Fatalf("%s value %v (%T) is not a number", typ, v, v)
		}
		return n
	}
	switch typ {
	case "BOOLEAN":
		return "bool:" + fmt.Sprint(v)
	case "INT32":
		return "int32:" + num().String()
	case "INT64", "TIMESTAMP":
		return "int64:" + num().String()
	case "FLOAT":
		f, err := strconv.ParseFloat(num().String(), 32)
		if err != nil {
			t.Fatal(err)
		}
		return "float32:" + strconv.FormatFloat(f, 'g', -1, 32)
	case "DOUBLE":
		f, err := num().Float64()
		if err != nil {
			t.Fatal(err)
		}
		return "float64:" + strconv.FormatFloat(f, 'g', -1, 64)
	case "TEXT", "STRING":
		return "text:" + fmt.Sprint(v)
	case "BLOB":
		b, err := base64.StdEncoding.DecodeString(fmt.Sprint(v))
		if err != nil {
			t.Fatal(err)
		}
		return "blob:" + hex.EncodeToString(b)
	case "DATE":
		return "date:" + num().String()
	}
	t.Fatalf("unknown IoTDB type %q", typ)
	return ""
}

// compare fails the test unless IoTDB holds exactly want.
func (s *stack) compare(what string, want map[string]map[int64]string) {
	s.t.Helper()
	got := s.iotdbState()
	if d := diffStates(want, got); d != "" {
		s.t.Fatalf("%s: IoTDB differs from the source: %s", what, d)
	}
	s.t.Logf("%s: IoTDB equals the source exactly: %d series, %d points", what, len(want), points(want))
}
