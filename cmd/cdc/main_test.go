package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

func writeConfig(t *testing.T, m *testenv.MariaDB, iot *iotdbtest.Server, serverID int) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
mysql:
  host: 127.0.0.1
  port: %d
  user: %s
  password: ${TEST_MYSQL_PASSWORD}
  database: %s
  tls: disabled
  server_id: %d
  tables: [{name: readings}]
iotdb:
  nodes: ["%s"]
  password: root
  mappings:
    - table: readings
      device: "root.factory.${dev}"
      time: {column: ts}
      measurements: [{column: temp}]
cdc:
  start: latest
  checkpoint: {path: %s}
dirty_rows: {file: %s}
metrics: {listen: "127.0.0.1:0"}
`, m.Port, m.BridgeUser, m.Database, serverID, iot.Addr(), filepath.Join(dir, "ck.json"), filepath.Join(dir, "dirty.jsonl"))
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_MYSQL_PASSWORD", m.BridgePassword)
	return path
}

func TestIntegrationCheckAndRun(t *testing.T) {
	m := testenv.StartMariaDB(t)
	iot := iotdbtest.Start(t, iotdbtest.Options{})
	if err := m.Exec(context.Background(), "CREATE TABLE readings (id INT PRIMARY KEY, dev VARCHAR(9) NOT NULL, ts DATETIME NOT NULL, temp DOUBLE)"); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, m, iot, 5401)

	var out bytes.Buffer
	var errb lockedBuffer
	if code := run(context.Background(), flags{config: path, check: true}, &out, &errb); code != exitOK {
		t.Fatalf("--check = %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"PASS  config", "PASS  log_bin", "PASS  binlog_format", "PASS  table readings", "PASS  iotdb", "PASS  checkpoint"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--check output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String()+errb.String(), m.BridgePassword) {
		t.Fatal("password printed")
	}

	// A mapping naming a missing column fails the check (exit 1).
	bad := strings.Replace(readFile(t, path), "{column: temp}", "{column: nope}", 1)
	badPath := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(context.Background(), flags{config: badPath, check: true}, &out, &errb); code != exitFailed || !strings.Contains(out.String(), "FAIL  table readings") {
		t.Fatalf("--check with a bad mapping = %d\n%s", code, out.String())
	}

	// Running, then SIGTERM (ctx cancel): exit 0.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	errb.Reset()
	go func() { done <- run(ctx, flags{config: path, logFormat: "console"}, &out, &errb) }()
	time.Sleep(1500 * time.Millisecond)
	if err := m.Exec(context.Background(), "INSERT INTO readings VALUES (1, 'd1', '2024-01-01', 1.5)"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(iot.Points("root.factory.d1.temp")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("run = %d\n%s", code, errb.String())
	}
	if len(iot.Points("root.factory.d1.temp")) != 1 {
		t.Fatal("row not written")
	}
	if strings.Contains(errb.String(), m.BridgePassword) {
		t.Fatal("password logged")
	}
}

// lockedBuffer is a bytes.Buffer safe for the engine's concurrent loggers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBadConfigExitsUsage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("mysql: {nope: 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), flags{config: p}, &out, &errb); code != exitUsage || errb.Len() == 0 {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
	if code := run(context.Background(), flags{config: p, logFormat: "xml"}, &out, &errb); code != exitUsage {
		t.Fatalf("bad --log-format: code %d", code)
	}
}

func TestHealthcheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer bad.Close()
	var errb bytes.Buffer
	if c := healthcheck(ok.URL, &errb); c != exitOK {
		t.Fatalf("healthy: %d", c)
	}
	if c := healthcheck(bad.URL, &errb); c != exitFailed {
		t.Fatalf("503: %d", c)
	}
	if c := healthcheck("http://127.0.0.1:1/healthz", &errb); c != exitFailed {
		t.Fatalf("refused: %d", c)
	}
}

// cdc --check with MySQL unreachable and an IoTDB whose precision differs
// from the configured one (auto, compiled as ms before the sink opens)
// reports both verdicts instead of crashing: nothing recompiles the
// mappings against a source that was never opened.
func TestCheckWithSourceDownAndOtherPrecision(t *testing.T) {
	iot := iotdbtest.Start(t, iotdbtest.Options{Precision: "us"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
mysql: {host: 127.0.0.1, port: %d, user: bridge, database: plant, tls: disabled, tables: [{name: readings}]}
iotdb:
  nodes: ["%s"]
  password: root
  retry: {initial: 10ms, max: 50ms, give_up_after: 1s}
  mappings:
    - {table: readings, device: "root.factory.${dev}", time: {column: ts}, measurements: [{column: temp}]}
cdc: {checkpoint: {path: %s}}
metrics: {listen: ""}
`, port, iot.Addr(), filepath.Join(dir, "ck.json"))
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), flags{config: path, check: true}, &out, &errb)
	if code != exitFailed || !strings.Contains(out.String(), "FAIL  mysql") || !strings.Contains(out.String(), "PASS  iotdb") ||
		!strings.Contains(out.String(), "precision us") {
		t.Fatalf("exit %d, want %d with FAIL mysql and PASS iotdb (precision us)\nstdout:\n%s\nstderr:\n%s", code, exitFailed, out.String(), errb.String())
	}
}

// cdc --check with IoTDB unreachable fails fast (CheckIoTDBTimeout), not
// after iotdb.retry.give_up_after, and prints the source's rows first.
func TestCheckFailsFastWhenIoTDBIsDown(t *testing.T) {
	m := testenv.StartMariaDB(t)
	if err := m.Exec(context.Background(), "CREATE TABLE readings (id INT PRIMARY KEY, dev VARCHAR(9) NOT NULL, ts DATETIME NOT NULL, temp DOUBLE)"); err != nil {
		t.Fatal(err)
	}
	iot := iotdbtest.Start(t, iotdbtest.Options{})
	path := writeConfig(t, m, iot, 5401)
	iot.SetRefuse(true)
	iot.DropConnections()
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A long retry budget: the check must not wait for it.
	cfg = []byte(strings.Replace(string(cfg), "  password: root\n", "  password: root\n  retry: {initial: 50ms, max: 1s, give_up_after: 5m}\n", 1))
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	start := time.Now()
	code := run(context.Background(), flags{config: path, check: true}, &out, &errb)
	took := time.Since(start)
	s := out.String()
	if code != exitFailed || !strings.Contains(s, "FAIL  iotdb") || strings.Index(s, "PASS  mysql") > strings.Index(s, "FAIL  iotdb") {
		t.Fatalf("exit %d, want %d with PASS mysql before FAIL iotdb:\n%s\n%s", code, exitFailed, s, errb.String())
	}
	if took > time.Minute {
		t.Fatalf("--check took %s with IoTDB down (bound %s)", took, cdc.CheckIoTDBTimeout)
	}
	t.Logf("--check with IoTDB down answered in %s", took.Round(100*time.Millisecond))
}
