package e2e

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// Outages of any length: MariaDB down for longer than iotdb.retry.give_up_after
// (the old bound of the binlog reconnects, after which cdc exited 1), then
// IoTDB down as long, under a workload. cdc keeps retrying, says once that
// each dependency went away and once that it is back, never waits longer
// than iotdb.retry.max, and ends with IoTDB equal to the source.
func TestIntegrationCDCOutagesOfAnyLength(t *testing.T) {
	e := newEnv(t)
	s := seed(t)
	srv := e.bigTable(s, 2000)
	// retry: initial 50ms, max 500ms, give_up_after 2s (cfgOpts.GiveUp).
	cfgPath, cfg := e.bigConfig(srv, cfgOpts{Start: "initial", GiveUp: "2s", Metrics: "127.0.0.1:0"})
	p := e.startCDC(cfgPath)
	e.waitStreaming(p, time.Minute)
	w := chaosWorkload(e.db, "big", rand.New(rand.NewPCG(s, 2)))
	w.sizes, w.sizeW = []int{1, 10, 100}, []int{40, 40, 20}
	w.start()
	defer w.stop()
	time.Sleep(time.Second)

	const down = 6 * time.Second // three times give_up_after
	e.m.Kill()
	time.Sleep(down)
	if p.exited() {
		t.Fatalf("cdc exited (code %d) while MariaDB was down; log:\n%s", p.code, p.tail(20))
	}
	if err := e.m.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, time.Minute, "MySQL back in the log", func() bool {
		return len(p.logEntries("MySQL reachable again: binlog stream resumed")) > 0
	})
	time.Sleep(time.Second)

	srv.SetRefuse(true)
	srv.DropConnections()
	time.Sleep(down / 2)
	// Health tells the truth: with rows pending and IoTDB down, /readyz is
	// 503 and the lag counts from the oldest unacknowledged change.
	code, body := readyz(t, p)
	lag1 := scrapeMetrics(t, p)["mysql_iotdb_bridge_cdc_lag_seconds"]
	time.Sleep(down / 2)
	lag2 := scrapeMetrics(t, p)["mysql_iotdb_bridge_cdc_lag_seconds"]
	if code != 503 || !strings.Contains(body, "IoTDB writes failing") || lag1 < 1 || lag2 <= lag1 {
		t.Errorf("IoTDB down with rows pending: /readyz %d %q, lag %vs then %vs: want 503, a lag above 1s that grows", code, body, lag1, lag2)
	}
	if p.exited() {
		t.Fatalf("cdc exited (code %d) while IoTDB was down; log:\n%s", p.code, p.tail(20))
	}
	srv.SetRefuse(false)
	testenv.WaitFor(t, time.Minute, "IoTDB back in the log", func() bool {
		return len(p.logEntries("IoTDB reachable again")) > 0
	})
	time.Sleep(time.Second)
	w.stop()
	t.Logf("workload: %s", w)
	testenv.WaitFor(t, time.Minute, "/readyz 200 again", func() bool { c, _ := readyz(t, p); return c == 200 })

	e.waitCaughtUp(p, srv, 3*time.Minute)
	if code := p.terminate(time.Minute); code != 0 {
		t.Fatalf("cdc exited %d; log:\n%s", code, p.tail(30))
	}
	if n := len(p.logEntries("MySQL binlog stream lost")); n != 1 {
		t.Errorf("%d warnings that MySQL went away, want 1", n)
	}
	if n := len(p.logEntries("IoTDB call failing, retrying")); n < 1 {
		t.Errorf("no warning that IoTDB went away")
	}
	// No wait longer than iotdb.retry.max (500ms), jitter included.
	for _, msg := range []string{"MySQL binlog stream", "IoTDB call failing", "IoTDB write failed after retries"} {
		for _, l := range p.logEntries(msg) {
			for _, k := range []string{"wait_s", "backoff_s"} {
				if v, ok := l[k].(float64); ok && v > 0.5 {
					t.Errorf("%q waited %.3fs, longer than iotdb.retry.max 500ms", msg, v)
				}
			}
		}
	}
	assertSameState(t, "after MySQL and IoTDB outages", expectedState(t, e.db, cfg, "big"), actualState(srv))
}

// readyz GETs p's /readyz.
func readyz(t *testing.T, p *proc) (int, string) {
	t.Helper()
	code, b := getEndpoint(t, p, "/readyz")
	return code, strings.TrimSpace(string(b))
}

// getEndpoint GETs path on the metrics address p logged.
func getEndpoint(t *testing.T, p *proc, path string) (int, []byte) {
	t.Helper()
	var addr string
	for _, m := range p.logEntries("serving /metrics") {
		addr, _ = m["listen"].(string)
	}
	if addr == "" {
		t.Fatalf("%s logged no metrics address", p.name)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}
