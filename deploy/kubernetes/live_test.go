package kubernetes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// ---- running a container as a process ---------------------------------------
//
// A container is run as a process of the binary the image would run, with
// the manifest's arguments and environment (after the kubelet's $(VAR)
// expansion) and its volumes laid out by podFS. The container's absolute
// paths are moved under the pod's root (the one liberty taken: no chroot),
// and the configuration is pointed at the test's servers: MariaDB, an
// iotdbtest, metrics on a free loopback port. Everything else (state
// paths, probes' endpoints, flags, mappings, password files) is the
// manifests' own.

type pod struct {
	t    *testing.T
	w    *workload
	c    container
	fs   *podFS
	bin  string
	args []string
	env  []string
	cfg  string // host path of the configuration

	metrics string // host:port the pod serves /metrics on (metrics.listen, or --metrics-listen)
}

type servers struct {
	maria *testenv.MariaDB
	iotdb *iotdbtest.Server
}

func newPod(t *testing.T, m *manifests, w *workload, idx int, srv servers, claimDirs map[string]string) *pod {
	t.Helper()
	c := w.pod.Containers[0]
	secrets := map[string]string{"mysql-password": srv.maria.BridgePassword, "iotdb-password": "root"}
	fs := newPodFS(t, m, w, c, secrets, claimDirs)
	env := environment(t, w, c, idx)
	p := &pod{t: t, w: w, c: c, fs: fs, bin: filepath.Join(binaries(t), binaryOf(t, w, c))}
	for _, a := range args(t, w, c, env) {
		p.args = append(p.args, p.translate(a))
	}
	for _, k := range sortedKeys(env) {
		p.env = append(p.env, k+"="+p.translate(env[k]))
	}
	p.cfg = fs.host(flagValue(args(t, w, c, env), "config"))
	p.pointAt(srv)
	// A --metrics-listen of the manifest (every interface, the port the pod
	// declares) becomes a free loopback port: pods share this host.
	for i, a := range p.args {
		if (a == "--metrics-listen" || a == "-metrics-listen") && i+1 < len(p.args) {
			if _, port, err := net.SplitHostPort(p.args[i+1]); err != nil || !declaresPort(c, port) {
				t.Fatalf("%s %s: --metrics-listen %q is not a port the container declares", w.kind, w.name, p.args[i+1])
			}
			p.metrics = freePort(t)
			p.args[i+1] = p.metrics
		}
	}
	return p
}

func declaresPort(c container, port string) bool {
	for _, cp := range c.Ports {
		if strconv.Itoa(cp.ContainerPort) == port {
			return true
		}
	}
	return false
}

// translate moves a container path (anywhere in s) under the pod's root.
func (p *pod) translate(s string) string {
	for _, mt := range p.fs.mounts {
		s = regexp.MustCompile(regexp.QuoteMeta(mt.path)+`(/|$|[^A-Za-z0-9._-])`).ReplaceAllStringFunc(s, func(match string) string {
			return p.fs.host(mt.path) + match[len(mt.path):]
		})
	}
	return s
}

// pointAt edits the pod's copy of the configuration: the test's servers,
// a free metrics port, and the container's absolute paths under its root.
func (p *pod) pointAt(srv servers) {
	t := p.t
	data, err := os.ReadFile(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	set := func(path, value string) {
		n := root
		for _, key := range strings.Split(path, ".") {
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
				}
			}
			if next == nil {
				t.Fatalf("the ConfigMap's configuration has no %s", path)
			}
			n = next
		}
		n.Kind, n.Tag, n.Value, n.Style, n.Content = yaml.ScalarNode, "", value, 0, nil
	}
	set("mysql.host", srv.maria.Host)
	set("mysql.port", strconv.Itoa(srv.maria.Port))
	set("mysql.database", srv.maria.Database)
	set("mysql.user", srv.maria.BridgeUser)
	nodes := findKey(root, "iotdb", "nodes")
	nodes.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Value: srv.iotdb.Addr()}}
	p.metrics = freePort(t)
	set("metrics.listen", p.metrics)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			n.Value = p.translate(n.Value)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.cfg, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func findKey(n *yaml.Node, keys ...string) *yaml.Node {
	for _, key := range keys {
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type lockedBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newBuffer() *lockedBuffer { return &lockedBuffer{mu: make(chan struct{}, 1)} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

type proc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

// start runs the container's process; its working directory is the
// image's (/var/lib/bridge, docker/Dockerfile), which the test does not
// have, so an empty folder stands in: a relative path would land there
// and the checks would not find it.
func (p *pod) start() *proc {
	p.t.Helper()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Dir = p.t.TempDir()
	out := newBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	pr := &proc{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { pr.err = cmd.Wait(); close(pr.done) }()
	p.t.Cleanup(func() {
		select {
		case <-pr.done:
		default:
			_ = cmd.Process.Kill()
			<-pr.done
		}
	})
	return pr
}

// wait returns the exit code, failing the test after timeout.
func (pr *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-pr.done:
	case <-time.After(timeout):
		_ = pr.cmd.Process.Kill()
		<-pr.done
		t.Fatalf("%s did not exit within %s; output:\n%s", pr.cmd.Path, timeout, pr.out)
	}
	var ee *exec.ExitError
	if errors.As(pr.err, &ee) {
		return ee.ExitCode()
	}
	if pr.err != nil {
		t.Fatalf("%s: %v", pr.cmd.Path, pr.err)
	}
	return 0
}

// run runs the pod to its end and returns the exit code.
func (p *pod) run(timeout time.Duration) (int, string) {
	p.t.Helper()
	pr := p.start()
	code := pr.wait(p.t, timeout)
	return code, pr.out.String()
}

func get(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls ok until it holds; it fails when timeout passes or the
// process ends first.
func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool, pr *proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		select {
		case <-pr.done:
			t.Fatalf("%s: the process ended first (%v); output:\n%s", what, pr.err, pr.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; output:\n%s", what, timeout, pr.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const sampleRows = 20000

// sampleTable creates the table the ConfigMap's mapping describes (the
// schema of docker/mysql/init/20-sample-schema.sql) with sampleRows rows,
// each a distinct point of three measurements.
func sampleTable(t *testing.T, m *testenv.MariaDB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range []string{
		`CREATE TABLE sensor_readings (
		  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		  device_id VARCHAR(64) NOT NULL, site VARCHAR(32) NOT NULL, created_at DATETIME(3) NOT NULL,
		  temperature DOUBLE NULL, humidity FLOAT NULL, status ENUM('ok','warn','fault') NOT NULL DEFAULT 'ok',
		  KEY (created_at))`,
		fmt.Sprintf(`INSERT INTO sensor_readings (device_id, site, created_at, temperature, humidity, status)
		  SELECT CONCAT('pump-', seq %% 50), CONCAT('plant_', seq %% 3), TIMESTAMP('2024-01-01') + INTERVAL (seq * 10000) MICROSECOND,
		         seq / 10, seq %% 100, ELT(1 + seq %% 3, 'ok', 'warn', 'fault') FROM seq_1_to_%d`, sampleRows),
	} {
		if err := m.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIntegrationManifestsRun runs each workload of the manifests as the
// cluster would start it, against MariaDB and the IoTDB test double:
//
//   - cdc: /healthz answers from the start and all through the snapshot,
//     while /readyz says 503 (so the liveness and startup probes never
//     restart a snapshotting pod); /readyz turns 200 once streaming; every
//     probe path and the scrape path is served, and every metric the
//     README names is exported; a new row is streamed; SIGTERM ends it
//     with exit 0 well within terminationGracePeriodSeconds.
//   - the backfill Job: a shard interrupted by SIGTERM exits 3, which the
//     Job's podFailurePolicy ignores, and its replacement resumes; every
//     shard run with its pod's --shard copies its part, together the
//     whole table once, each into its own state file on the shared
//     volume; a shard index out of range exits 2, which fails the Job.
//   - the sync CronJob: one run copies the table, the next one finds
//     nothing new; both exit 0.
func TestIntegrationManifestsRun(t *testing.T) {
	m := loadManifests(t)
	maria := testenv.StartMariaDB(t)
	sampleTable(t, maria)
	points := 3 * int64(sampleRows) // cdc's subtest adds a row (3 points) for the later ones

	t.Run("cdc", func(t *testing.T) {
		w := m.workload(t, "StatefulSet")
		iot := iotdbtest.Start(t, iotdbtest.Options{})
		iot.SetLatency(300 * time.Millisecond) // a snapshot long enough to look at
		claims := map[string]string{}
		p := newPod(t, m, w, -1, servers{maria, iot}, claims)
		base := "http://" + p.metrics
		started := time.Now()
		pr := p.start()
		waitFor(t, "/healthz answers 200", 30*time.Second, func() bool { c, _ := get(base + "/healthz"); return c == 200 }, pr)
		t.Logf("/healthz 200 after %s", time.Since(started).Round(time.Millisecond))
		if c, body := get(base + "/readyz"); c != 503 {
			t.Fatalf("/readyz during startup: %d %q, want 503", c, body)
		}
		waitFor(t, "the snapshot runs", 60*time.Second, func() bool {
			_, body := get(base + "/metrics")
			return strings.Contains(body, "\nmysql_iotdb_bridge_cdc_snapshot_running 1\n")
		}, pr)
		iot.SetHang(true) // the snapshot now waits on IoTDB, as it would on a slow one
		time.Sleep(500 * time.Millisecond)
		_, scrapeSnapshot := get(base + "/metrics")
		c, body := get(base + "/readyz")
		if c != 503 || !strings.Contains(body, "snapshot") {
			t.Fatalf("/readyz during the snapshot: %d %q, want 503 naming the snapshot", c, body)
		}
		if c, _ := get(base + "/healthz"); c != 200 {
			t.Fatalf("/healthz during the snapshot: %d, want 200 (liveness must not restart a snapshot)", c)
		}
		iot.SetHang(false)
		iot.SetLatency(0)
		waitFor(t, "/readyz answers 200", 90*time.Second, func() bool { c, _ := get(base + "/readyz"); return c == 200 }, pr)
		if got := iot.TotalPoints(); got != points {
			t.Fatalf("after the snapshot IoTDB holds %d points, want %d", got, points)
		}
		// Every path the manifests name is served.
		c0 := w.pod.Containers[0]
		paths := map[string]bool{w.obj.annotations()["prometheus.io/path"]: true}
		for _, pb := range []*probe{c0.StartupProbe, c0.LivenessProbe, c0.ReadinessProbe} {
			paths[pb.HTTPGet.Path] = true
		}
		for path := range paths {
			if c, body := get(base + path); c != 200 {
				t.Errorf("GET %s: %d %q", path, c, body)
			}
		}
		_, scrape := get(base + "/metrics")
		scrape = scrapeSnapshot + scrape // the snapshot's metrics exist while one runs
		readme, err := os.ReadFile("README.md")
		if err != nil {
			t.Fatal(err)
		}
		named := regexp.MustCompile(`\bmysql_iotdb_bridge_[a-z_]+`).FindAllString(string(readme), -1)
		if len(named) == 0 {
			t.Fatal("README.md names no metric")
		}
		for _, name := range named {
			if !regexp.MustCompile(`(?m)^` + name + `(\{| )`).MatchString(scrape) {
				t.Errorf("README.md names %s, which cdc does not export", name)
			}
		}
		// Streaming: a new row arrives.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := maria.Exec(ctx, `INSERT INTO sensor_readings (device_id, site, created_at, temperature, humidity)
			VALUES ('pump-new', 'plant_z', '2025-01-01', 1.5, 2)`); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the new row is streamed", time.Minute, func() bool { return iot.TotalPoints() == points+3 }, pr)
		points += 3
		// SIGTERM, as the kubelet stops a pod.
		stopAt := time.Now()
		_ = pr.cmd.Process.Signal(syscall.SIGTERM)
		grace := time.Duration(*w.pod.TerminationGracePeriodSeconds) * time.Second
		if code := pr.wait(t, grace); code != 0 {
			t.Fatalf("cdc exit %d after SIGTERM, want 0; output:\n%s", code, pr.out)
		}
		t.Logf("cdc stopped %s after SIGTERM (grace %s)", time.Since(stopAt).Round(time.Millisecond), grace)
		if _, err := os.Stat(filepath.Join(claims["state"], "cdc.checkpoint.json")); err != nil {
			t.Fatalf("no checkpoint on cdc's volume: %v", err)
		}
	})

	t.Run("backfill Job", func(t *testing.T) {
		w := m.workload(t, "Job")
		n := *w.job.Completions
		iot := iotdbtest.Start(t, iotdbtest.Options{})
		claims := map[string]string{}
		srv := servers{maria, iot}

		// Shard 0 stopped by SIGTERM (a drain, a preemption, a deleted pod):
		// once while it connects, once in the middle of the copy. Both are
		// exit 3, which the Job's podFailurePolicy ignores.
		grace := time.Duration(*w.pod.TerminationGracePeriodSeconds) * time.Second
		interrupt := func(when string, ready func(iotdbtest.Stats) bool, hold bool, during ...func(*pod)) {
			t.Helper()
			p := newPod(t, m, w, 0, srv, claims)
			pr := p.start()
			waitFor(t, "shard 0 "+when, time.Minute, func() bool { return ready(iot.Stats()) }, pr)
			if hold {
				iot.SetHang(true) // the writes in flight wait on IoTDB when the signal comes
			}
			for _, f := range during {
				f(p)
			}
			stopAt := time.Now()
			_ = pr.cmd.Process.Signal(syscall.SIGTERM)
			if hold {
				time.Sleep(300 * time.Millisecond)
				iot.SetHang(false)
			}
			code := pr.wait(t, grace)
			t.Logf("shard 0, SIGTERM %s: exit %d after %s", when, code, time.Since(stopAt).Round(time.Millisecond))
			if code != 3 {
				t.Fatalf("shard 0, SIGTERM %s: exit %d, want 3 (interrupted, resumable); output:\n%s", when, code, pr.out)
			}
			if a := failureAction(w.job, w.pod.Containers[0].Name, code); a != "Ignore" {
				t.Fatalf("the Job's podFailurePolicy does %s with exit 3, want Ignore", a)
			}
		}
		iot.SetLatency(300 * time.Millisecond)
		interrupt("while connecting", func(st iotdbtest.Stats) bool { return st.Sessions > 0 }, false)
		iot.SetLatency(0)
		// While it copies, the shard serves its progress where the
		// manifest says (--metrics-listen, the annotated port).
		scrapeWhileCopying := func(pr *pod) {
			base := "http://" + pr.metrics
			_, scrape := get(base + "/metrics")
			for _, want := range []string{backfill.MetricRows + `{table="sensor_readings"}`, backfill.MetricRunning + " 1", `mysql_iotdb_bridge_build_info{binary="backfill"`} {
				if !strings.Contains(scrape, want) {
					t.Errorf("shard 0's /metrics while copying lacks %q", want)
				}
			}
			if c, body := get(base + "/status"); c != 200 || !strings.Contains(body, `"phase": "copying"`) {
				t.Errorf("shard 0's /status while copying: %d %s", c, body)
			}
			if path := w.obj.annotations()["prometheus.io/path"]; path != "/metrics" {
				t.Errorf("the Job's pods are annotated with the metrics path %q", path)
			}
		}
		interrupt("while copying", func(st iotdbtest.Stats) bool { return st.InsertTabletsCalls+st.InsertTabletCalls > 0 }, true, scrapeWhileCopying)
		if got := iot.TotalPoints(); got == 0 || got >= points {
			t.Fatalf("after the interrupted copy IoTDB holds %d points: want some of the %d, not all", got, points)
		}
		// Its replacement (same index, same volume) and the other shards.
		for i := 0; i < n; i++ {
			began := time.Now()
			code, out := newPod(t, m, w, i, srv, claims).run(2 * time.Minute)
			t.Logf("shard %d/%d: %s", i, n, time.Since(began).Round(time.Millisecond))
			if code != 0 {
				t.Fatalf("shard %d/%d: exit %d; output:\n%s", i, n, code, out)
			}
			if i == 0 && !strings.Contains(out, "resuming from saved state") {
				t.Fatalf("shard 0's replacement did not resume from its state; output:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(claims["bridge-backfill-state"], fmt.Sprintf("backfill.state.shard-%d-of-%d.json", i, n))); err != nil {
				t.Fatalf("shard %d: no state file of its own on the shared volume: %v", i, err)
			}
		}
		if got := iot.TotalPoints(); got != points {
			t.Fatalf("the %d shards wrote %d points, want %d", n, got, points)
		}
		// A pod whose index is outside --shard's range: a usage error, exit 2, and the Job fails.
		code, out := newPod(t, m, w, n, srv, claims).run(time.Minute)
		if action := failureAction(w.job, w.pod.Containers[0].Name, code); code != 2 || action != "FailJob" {
			t.Fatalf("shard %d/%d: exit %d (policy %s), want 2 and FailJob; output:\n%s", n, n, code, action, out)
		}
	})

	t.Run("sync CronJob", func(t *testing.T) {
		w := m.workload(t, "CronJob")
		iot := iotdbtest.Start(t, iotdbtest.Options{})
		claims := map[string]string{}
		for run := 1; run <= 2; run++ {
			code, out := newPod(t, m, w, -1, servers{maria, iot}, claims).run(2 * time.Minute)
			if code != 0 {
				t.Fatalf("sync run %d: exit %d; output:\n%s", run, code, out)
			}
		}
		if got := iot.TotalPoints(); got != points {
			t.Fatalf("sync wrote %d points, want %d", got, points)
		}
		if _, err := os.Stat(filepath.Join(claims["bridge-sync-state"], "sync.state.json")); err != nil {
			t.Fatalf("no sync state on its volume: %v", err)
		}
	})
}
