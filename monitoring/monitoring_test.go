// Package monitoring holds no code: its test checks the Prometheus alert
// rules, their unit tests, the scrape config and the Grafana dashboard of
// this folder, and that every metric they use is one a running cdc,
// backfill or sync exports.
package monitoring

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// The scrape job names alerts.yml and the dashboard select (and
// prometheus.yml defines).
const (
	job         = "mysql-iotdb-bridge-cdc"
	backfillJob = "mysql-iotdb-bridge-backfill"
	syncJob     = "mysql-iotdb-bridge-sync"
)

// tool finds a Prometheus binary; without it the test fails under CI=true
// and skips otherwise.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s is not installed (apt-get install prometheus): %v", name, err)
	}
	t.Skipf("SKIPPING: %s is not installed (apt-get install prometheus); CI=true makes this a failure", name)
	return ""
}

func runTool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtool: the rules and the scrape config are valid, and the rules'
// unit tests (alerts_test.yml: lag, a stalled stream, a failing sink, dirty
// rows, cdc down) pass.
func TestPromtool(t *testing.T) {
	promtool := tool(t, "promtool")
	out := runTool(t, promtool, "check", "rules", "alerts.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules: %s", out)
	}
	runTool(t, promtool, "check", "config", "prometheus.yml")
	out = runTool(t, promtool, "test", "rules", "alerts_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: %s", out)
	}
	// Every alert has a unit test.
	tests, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range alertRules(t) {
		if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
			t.Errorf("alert %s has no test in alerts_test.yml", r.Alert)
		}
	}
}

type rule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	return out
}

// dashboardExprs is every query of the Grafana dashboard, with its
// variables given values Prometheus takes.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	r := strings.NewReplacer("$__rate_interval", "1m", `"$instance"`, `".+"`)
	var out []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, r.Replace(tg.Expr))
		}
	}
	// Variables: label_values(<selector>, <label>).
	lv := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		if v.Definition == "" {
			continue
		}
		m := lv.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("dashboard variable %s: %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		out = append(out, m[1])
	}
	return out
}

var identRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)

// promqlWords are the PromQL keywords and aggregation operators, which
// look like metric names but are not.
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "offset": true, "bool": true, "sum": true, "avg": true,
	"min": true, "max": true, "count": true, "stddev": true, "stdvar": true, "topk": true, "bottomk": true,
	"quantile": true, "count_values": true, "group": true, "inf": true, "nan": true,
}

// selectors extracts the vector selectors (name{matchers}) of a PromQL
// expression: identifiers that are not functions (followed by "("),
// keywords, label lists of by/on/..., durations or numbers.
func selectors(expr string) []string {
	var out []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '[':
			i += strings.IndexByte(expr[i:], ']') + 1
		case c >= '0' && c <= '9':
			for i < len(expr) && (expr[i] == '.' || expr[i] >= '0' && expr[i] <= '9' || expr[i] >= 'a' && expr[i] <= 'z') {
				i++
			}
		case identRE.MatchString(expr[i:]):
			name := identRE.FindString(expr[i:])
			i += len(name)
			j := i
			for j < len(expr) && (expr[j] == ' ' || expr[j] == '\n') {
				j++
			}
			lower := strings.ToLower(name)
			switch {
			case lower == "by" || lower == "without" || lower == "on" || lower == "ignoring" ||
				lower == "group_left" || lower == "group_right":
				if j < len(expr) && expr[j] == '(' {
					i = j + strings.IndexByte(expr[j:], ')') + 1
				}
			case promqlWords[lower]:
			case j < len(expr) && expr[j] == '(':
				// a function
			case j < len(expr) && expr[j] == '{':
				end := j + strings.IndexByte(expr[j:], '}') + 1
				out = append(out, name+expr[j:end])
				i = end
			default:
				out = append(out, name)
			}
		default:
			i++
		}
	}
	return out
}

func TestSelectors(t *testing.T) {
	got := selectors(`sum by (job, instance) (rate(a_total{result="error"}[5m])) > 0 unless b offset 15m and on (job) (up == 1)` +
		` or histogram_quantile(0.99, sum by (le) (rate(c_bucket{x=~"y"}[1m]))) or time() - d_seconds`)
	want := []string{`a_total{result="error"}`, "b", "up", `c_bucket{x=~"y"}`, "d_seconds"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("selectors: got %q, want %q", got, want)
	}
}

// usedSelectors is every selector of the alert rules and the dashboard.
func usedSelectors(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	add := func(expr string) {
		for _, s := range selectors(expr) {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	for _, r := range alertRules(t) {
		add(r.Expr)
	}
	for _, e := range dashboardExprs(t) {
		add(e)
	}
	sort.Strings(out)
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a started binary, stopped with SIGTERM at cleanup.
type process struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func start(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...)}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), tailLines(p.output(), 40))
		}
	})
	return p
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s; last: %s", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func get(u string) (int, []byte) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestIntegrationPrometheusScrape runs cdc, backfill and sync on a schedule
// (the binaries) against a throwaway MariaDB and iotdbtest, makes them
// export every series the rules and the dashboard read (a dirty row, a
// failing IoTDB call and its retry included), has Debian's prometheus
// scrape them with alerts.yml loaded, and checks that Prometheus has a
// series for every selector they use and that every rule evaluates without
// error.
func TestIntegrationPrometheusScrape(t *testing.T) {
	prometheus := tool(t, "prometheus")
	m := testenv.StartMariaDB(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	db := m.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, q := range []string{
		`CREATE TABLE readings (id BIGINT PRIMARY KEY AUTO_INCREMENT, dev VARCHAR(16) NOT NULL,
			at DATETIME(3) NOT NULL, v DOUBLE, big BIGINT UNSIGNED)`,
		`INSERT INTO readings (dev, at, v, big) VALUES ('d1', '2024-01-01 00:00:00', 1.5, 7), ('d2', '2024-01-01 00:00:01', 2.5, 8)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/cdc", "./cmd/backfill", "./cmd/sync")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "cdc")
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(`mysql:
  host: %s
  port: %d
  user: %s
  password: %q
  database: %s
  tls: disabled
  server_id: 5477
  tables: [{name: readings}]
iotdb:
  nodes: [%q]
  user: root
  password: root
  retry: {initial: 50ms, max: 200ms}
  mappings:
    - table: readings
      device: "root.mon.${dev}"
      time: {column: at}
      measurements: [{column: v}, {column: big}]
cdc:
  start: initial
  checkpoint: {path: %s}
dirty_rows: {file: %s}
metrics: {listen: %q}
log: {format: json}
`, m.Host, m.Port, m.BridgeUser, m.BridgePassword, m.Database, srv.Addr(),
		filepath.Join(dir, "cdc.checkpoint.json"), filepath.Join(dir, "dirty.jsonl"), metricsAddr)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, bin, "--config", cfgPath)
	waitFor(t, "cdc ready", 2*time.Minute, func() (bool, string) {
		code, body := get("http://" + metricsAddr + "/readyz")
		return code == 200, fmt.Sprintf("%d %s", code, body)
	})

	// A row the mapping refuses (BIGINT UNSIGNED above 2^63-1: a dirty
	// row), then a write IoTDB refuses twice with a retryable status (606, the
	// write process rejected).
	if _, err := db.ExecContext(ctx, `INSERT INTO readings (dev, at, v, big) VALUES ('d3', '2024-01-01 00:00:02', 3.5, 18446744073709551615)`); err != nil {
		t.Fatal(err)
	}
	srv.FailWrites(2, 606, "write process rejected (injected by the monitoring test)")
	if _, err := db.ExecContext(ctx, `INSERT INTO readings (dev, at, v, big) VALUES ('d4', '2024-01-01 00:00:03', 4.5, 9)`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the row after the failed writes in IoTDB", time.Minute, func() (bool, string) {
		n := len(srv.Points("root.mon.d4.v"))
		return n == 1, fmt.Sprintf("%d points", n)
	})

	// backfill and sync (on a schedule) of the same table, each with its
	// own state, IoTDB and address; the BIGINT UNSIGNED row is dirty for
	// them too. backfill's IoTDB refuses its writes with a retryable
	// status until Prometheus has seen every series, so that the copy is
	// scraped while it runs.
	slow := iotdbtest.Start(t, iotdbtest.Options{})
	slow.FailWrites(1<<30, 606, "write process rejected (injected: backfill waits for the scrapes)")
	backfillAddr, syncAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	jobCfg := func(name, iotdbAddr string) string {
		c := strings.Replace(cfg, "tables: [{name: readings}]", "tables: [{name: readings, cursor: {columns: [at]}}]", 1)
		c = strings.Replace(c, fmt.Sprintf("nodes: [%q]", srv.Addr()), fmt.Sprintf("nodes: [%q]", iotdbAddr), 1)
		c = strings.Replace(c, filepath.Join(dir, "dirty.jsonl"), filepath.Join(dir, name+"-dirty.jsonl"), 1)
		c += fmt.Sprintf("backfill: {state: %s, page_rows: 1, readers: 1, writers: 1}\nsync: {state: %s}\n",
			filepath.Join(dir, name+"-backfill.state.json"), filepath.Join(dir, name+"-sync.state.json"))
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bf := start(t, filepath.Join(dir, "backfill"), "--config", jobCfg("backfill", slow.Addr()), "--metrics-listen", backfillAddr)
	start(t, filepath.Join(dir, "sync"), "--config", jobCfg("sync", srv.Addr()), "--every", "2s", "--metrics-listen", syncAddr)

	promPort := freePort(t)
	rules, err := filepath.Abs("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	promCfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promCfg, []byte(fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: %s
    static_configs: [{targets: [%q]}]
  - job_name: %s
    static_configs: [{targets: [%q]}]
  - job_name: %s
    static_configs: [{targets: [%q]}]
`, rules, job, metricsAddr, backfillJob, backfillAddr, syncJob, syncAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	api := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	start(t, prometheus, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	waitFor(t, "prometheus ready", time.Minute, func() (bool, string) {
		code, body := get(api + "/-/ready")
		return code == 200, fmt.Sprintf("%d %s", code, body)
	})

	used := usedSelectors(t)
	missing := map[string]bool{}
	waitFor(t, "every selector of the rules and the dashboard has a series in Prometheus", time.Minute, func() (bool, string) {
		missing = map[string]bool{}
		for _, sel := range used {
			code, body := get(api + "/api/v1/series?match[]=" + url.QueryEscape(sel))
			var r struct {
				Status string
				Data   []map[string]string
			}
			if code != 200 || json.Unmarshal(body, &r) != nil || len(r.Data) == 0 {
				missing[sel] = true
			}
		}
		return len(missing) == 0, fmt.Sprintf("no series for %v", keys(missing))
	})
	t.Logf("Prometheus scraped a series for each of the %d selectors: %s", len(used), strings.Join(used, ", "))
	// Every metric family exported is documented, and every documented
	// one was seen: while backfill copies, and once it finished.
	documented, seen := documentedMetrics(t), map[string]map[string]bool{}
	scrapeFamilies(t, documented, map[string]string{"cdc": metricsAddr, "backfill": backfillAddr, "sync": syncAddr}, seen)
	slow.FailWrites(0, 0, "")
	waitFor(t, "backfill to finish", time.Minute, func() (bool, string) {
		return strings.Contains(bf.output(), "backfill finished"), "not yet"
	})
	scrapeFamilies(t, documented, map[string]string{"cdc": metricsAddr, "sync": syncAddr}, seen)
	checkAllSeen(t, documented, seen)

	// Every rule has been evaluated against the scraped data, without error.
	waitFor(t, "every rule evaluated without error", time.Minute, func() (bool, string) {
		code, body := get(api + "/api/v1/rules")
		var r struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name           string
						Health         string
						LastError      string `json:"lastError"`
						LastEvaluation string `json:"lastEvaluation"`
					}
				}
			}
		}
		if code != 200 || json.Unmarshal(body, &r) != nil {
			return false, fmt.Sprintf("%d %s", code, body)
		}
		n := 0
		for _, g := range r.Data.Groups {
			for _, rl := range g.Rules {
				if rl.LastError != "" {
					t.Fatalf("rule %s: %s", rl.Name, rl.LastError)
				}
				if rl.Health != "ok" {
					return false, fmt.Sprintf("rule %s health %q", rl.Name, rl.Health)
				}
				n++
			}
		}
		return n == len(alertRules(t)), fmt.Sprintf("%d rules evaluated", n)
	})
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// documentedMetrics reads docs/metrics.md: its sections ("Every" for every
// binary, "cdc", "backfill", "sync") and the metric names their tables list.
func documentedMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]map[string]bool{}
	section := ""
	row := regexp.MustCompile("^\\| `(mysql_iotdb_bridge_[a-z_]+)` \\|")
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.Fields(h)[0]
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil {
			if documented[section] == nil {
				documented[section] = map[string]bool{}
			}
			documented[section][m[1]] = true
		}
	}
	for _, s := range []string{"Every", "cdc", "backfill", "sync"} {
		if len(documented[s]) == 0 {
			t.Fatalf("docs/metrics.md: no metric listed in the section of %s", s)
		}
	}
	return documented
}

// scrapeFamilies adds the product's metric families each binary exports
// now (its /metrics at addrs[binary]) to seen[binary], and fails for one
// docs/metrics.md does not list for it or for every binary.
func scrapeFamilies(t *testing.T, documented map[string]map[string]bool, addrs map[string]string, seen map[string]map[string]bool) {
	t.Helper()
	typeLine := regexp.MustCompile(`(?m)^# TYPE (mysql_iotdb_bridge_[a-z_]+) `)
	for bin, addr := range addrs {
		code, body := get("http://" + addr + "/metrics")
		if code != 200 {
			t.Fatalf("%s /metrics: %d", bin, code)
		}
		if seen[bin] == nil {
			seen[bin] = map[string]bool{}
		}
		for _, m := range typeLine.FindAllStringSubmatch(string(body), -1) {
			seen[bin][m[1]] = true
			if !documented["Every"][m[1]] && !documented[bin][m[1]] {
				t.Errorf("%s exports %s, which docs/metrics.md does not list", bin, m[1])
			}
		}
	}
}

// notSeenHere are metrics docs/metrics.md lists that this test's run does
// not make appear (a labelled metric is exported once it has a series):
// each is checked where its condition is created.
var notSeenHere = map[string]string{
	"mysql_iotdb_bridge_cdc_snapshot_estimated_rows": "exists only while a snapshot runs (e2e TestIntegrationCDCStartOverKeepsRows scrapes it mid-snapshot)",
	"mysql_iotdb_bridge_iotdb_rejected_points_total": "counts points IoTDB refuses for good (iotdbsink's rejection tests)",
}

// checkAllSeen: every metric docs/metrics.md lists for a binary was
// exported by it at one of the scrapes (and those for every binary by
// some binary), but for notSeenHere.
func checkAllSeen(t *testing.T, documented, seen map[string]map[string]bool) {
	t.Helper()
	for bin, names := range documented {
		for name := range names {
			if _, ok := notSeenHere[name]; ok {
				continue
			}
			found := seen[bin][name]
			if bin == "Every" {
				found = seen["cdc"][name] || seen["backfill"][name] || seen["sync"][name]
			}
			if !found {
				t.Errorf("docs/metrics.md lists %s (section %s), which no scrape found", name, bin)
			}
		}
	}
}
