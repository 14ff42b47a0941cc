package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

const faultRows = 20000

// faultConfig: 100 pages of 200 rows; iotdbExtra goes under iotdb, where
// under the table.
func faultConfig(h *harness, iotdbExtra, where string) string {
	if where != "" {
		where = "\n      where: \"" + where + "\""
	}
	return h.writeConfig(`
mysql:
  {{mysql}}
  tables:
    - name: f` + where + `
      partition: {count: 4}
iotdb:
  {{iotdb}}` + iotdbExtra + `
  mappings:
    - table: f
      device: "root.f.${dev}"
      time: {column: ts}
      measurements: [{column: v}]
backfill:
  {{state}}
  readers: 2
  writers: 2
  page_rows: 200
  queue: 2
dirty_rows:
  {{dirty}}
`)
}

func (h *harness) faultTable(rows int) points {
	h.exec(
		"CREATE TABLE f (id INT PRIMARY KEY, dev VARCHAR(8) NOT NULL, ts DATETIME(3) NOT NULL, v BIGINT NOT NULL)",
		fmt.Sprintf("INSERT INTO f SELECT seq, CONCAT('d', seq %% 13), '2024-01-01' + INTERVAL seq SECOND, seq * 11 FROM seq_1_to_%d", rows),
	)
	return h.expectFromSQL("SELECT CONCAT('root.f.', dev, '.v'), ts, v FROM f")
}

// duringRun runs the command in-process and, once IoTDB has stored at least
// after points, calls inject in the background (the run goes on meanwhile).
// It returns the run's result and the number of points IoTDB had stored
// when inject started, or -1 when the run ended first.
func (h *harness) duringRun(f flags, after int64, inject func(ctx context.Context)) (result, int64) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	at := make(chan int64, 1)
	go func() {
		for h.iot.Stats().PointsWritten < after {
			select {
			case <-ctx.Done():
				at <- -1
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		at <- h.iot.Stats().PointsWritten
		inject(ctx)
	}()
	r := h.run(f)
	cancel()
	return r, <-at
}

// faultWindow is how long a fault waits at most for the evidence that the
// command noticed it.
const faultWindow = time.Minute

func TestIntegrationFaults(t *testing.T) {
	t.Run("iotdb fails writes", func(t *testing.T) {
		h := newHarness(t, iotdbtest.Options{})
		want := h.faultTable(faultRows)
		h.iot.SetLatency(10 * time.Millisecond)
		h.iot.FailWrites(3, 606, "write process rejected (injected)") // the very first writes
		r, at := h.duringRun(flags{config: faultConfig(h, "", "")}, faultRows/4, func(context.Context) {
			h.iot.FailWrites(5, 305, "internal server error (injected)")
		})
		mustSucceed(t, r)
		if at < 0 || at >= faultRows {
			t.Fatalf("the fault did not start mid-run (IoTDB held %d points)", at)
		}
		if got := h.iot.Stats().FailedWrites; got != 8 {
			t.Errorf("%d write RPCs failed, want the 8 injected", got)
		}
		checkLogLines(t, r.stderr)
		if !strings.Contains(r.stderr, "IoTDB call failing, retrying") {
			t.Errorf("no retry logged:\n%s", tail(r.stderr, 20))
		}
		comparePoints(t, "failing writes", want, storedPoints(h.iot, "root.f."))
	})

	t.Run("iotdb hangs", func(t *testing.T) {
		h := newHarness(t, iotdbtest.Options{})
		want := h.faultTable(faultRows)
		h.iot.SetLatency(10 * time.Millisecond)
		r, at := h.duringRun(flags{config: faultConfig(h, "\n  write_timeout: 500ms", "")}, faultRows/4, func(ctx context.Context) {
			before := h.iot.Stats().Connections
			h.iot.SetHang(true)
			defer h.iot.SetHang(false)
			// Hold the hang until the sink gave up on a hung call (deadline
			// write_timeout) and dialled a new connection.
			deadline := time.Now().Add(faultWindow)
			for h.iot.Stats().Connections == before && time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
		})
		mustSucceed(t, r)
		if at < 0 || at >= faultRows {
			t.Fatalf("the fault did not start mid-run (IoTDB held %d points)", at)
		}
		if !strings.Contains(r.stderr, "after 500ms") {
			t.Errorf("no write deadline logged:\n%s", tail(r.stderr, 20))
		}
		comparePoints(t, "hanging server", want, storedPoints(h.iot, "root.f."))
	})

	t.Run("iotdb restarts", func(t *testing.T) {
		h := newHarness(t, iotdbtest.Options{})
		want := h.faultTable(faultRows)
		h.iot.SetLatency(10 * time.Millisecond)
		var before int64
		r, at := h.duringRun(flags{config: faultConfig(h, "", "")}, faultRows/4, func(context.Context) {
			before = h.iot.Stats().Connections
			if err := h.iot.Restart(); err != nil {
				t.Errorf("restart: %v", err)
			}
		})
		mustSucceed(t, r)
		if at < 0 || at >= faultRows {
			t.Fatalf("the fault did not start mid-run (IoTDB held %d points)", at)
		}
		if s := h.iot.Stats(); s.Restarts != 1 || s.Connections <= before {
			t.Errorf("restarts %d, connections %d (before the restart %d): the sink did not reconnect", s.Restarts, s.Connections, before)
		}
		comparePoints(t, "restarting server", want, storedPoints(h.iot, "root.f."))
	})

	t.Run("mysql reader killed", func(t *testing.T) {
		h := newHarness(t, iotdbtest.Options{})
		const rows = 2000
		want := h.faultTable(rows)
		// SLEEP makes every page query last ~0.1s (0.5ms a row), so the
		// kill finds one running; it is always true, so no row is filtered.
		cfg := faultConfig(h, "", "SLEEP(0.0005) = 0")
		killed := 0
		r, at := h.duringRun(flags{config: cfg}, 1, func(ctx context.Context) {
			deadline := time.Now().Add(faultWindow)
			last := int64(-1)
			for killed < 2 && time.Now().Before(deadline) && ctx.Err() == nil {
				// The second kill waits for progress after the first.
				if pw := h.iot.Stats().PointsWritten; pw > last {
					n, err := h.my.KillConnections(ctx, func(user, command, info string) bool {
						return user == h.my.BridgeUser && strings.Contains(info, "ORDER BY")
					})
					if err != nil && ctx.Err() == nil {
						t.Errorf("kill: %v", err)
						return
					}
					if n > 0 {
						killed += n
						last = pw
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		mustSucceed(t, r)
		if at < 0 || killed < 2 {
			t.Fatalf("killed %d page queries (fault started at %d points), want 2 mid-run", killed, at)
		}
		if !strings.Contains(r.stderr, "read failed, retrying") {
			t.Errorf("no read retry logged:\n%s", tail(r.stderr, 20))
		}
		comparePoints(t, "killed reader", want, storedPoints(h.iot, "root.f."))
	})

	t.Run("iotdb permanently down", func(t *testing.T) {
		h := newHarness(t, iotdbtest.Options{})
		want := h.faultTable(faultRows)
		h.iot.SetLatency(10 * time.Millisecond)
		cfg := faultConfig(h, "\n  write_timeout: 1s", "")
		// The retry policy of {{iotdb}} gives up after 60s: cut it to 2s.
		cfg = h.writeConfig(strings.Replace(mustRead(t, cfg), "give_up_after: 60s", "give_up_after: 2s", 1))
		r, at := h.duringRun(flags{config: cfg}, faultRows/4, func(context.Context) {
			h.iot.SetRefuse(true)
			h.iot.DropConnections()
		})
		if at < 0 || at >= faultRows {
			t.Fatalf("the outage did not start mid-run (IoTDB held %d points)", at)
		}
		if r.code != exitFailed {
			t.Fatalf("exit %d during a permanent outage, want 1\n%s", r.code, tail(r.stderr, 20))
		}
		msg := lastLine(r.stderr)
		t.Logf("outage: %s", msg)
		if !strings.HasPrefix(msg, "backfill failed: table f partition p") || !strings.Contains(msg, "giving up after") {
			t.Errorf("failure message %q: want it to name the table, the partition and that IoTDB was given up on", msg)
		}
		sum, _, _ := parseSummary(t, r.stdout)
		if s := sum["f"]; s == nil || s.done == s.partitions {
			t.Errorf("summary after the outage: %+v", s)
		}

		// The outage ends: a rerun completes exactly.
		h.iot.SetRefuse(false)
		h.iot.SetLatency(0)
		r = h.run(flags{config: cfg})
		mustSucceed(t, r)
		comparePoints(t, "after the outage", want, storedPoints(h.iot, "root.f."))
	})
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
