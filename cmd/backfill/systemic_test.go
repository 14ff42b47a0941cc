package main

import (
	"os"
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// A refusal that concerns the series or the database rather than the row
// (docs/delivery.md §7) would refuse every row of the table: backfill stops
// with exit 1 and a message naming the table, the device, IoTDB's status and
// the remedy, records no dirty rows and acknowledges nothing it did not write.
func TestIntegrationSystemicRejection(t *testing.T) {
	const rows = 400

	t.Run("database missing, auto-create and create_schema off", func(t *testing.T) {
		h := newHarness(t, iotdbtest.Options{DisableAutoCreate: true})
		want := h.faultTable(rows)
		cfg := faultConfig(h, "\n  create_schema: false", "")
		r := h.run(flags{config: cfg})
		if r.code != exitFailed {
			t.Fatalf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 30))
		}
		for _, want := range []string{"backfill failed", "table f", "root.f.d", "status 507", "Database not exists", "create_schema: true"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not mention %q:\n%s", want, tail(r.stderr, 30))
			}
		}
		if b, err := os.ReadFile(h.dirtyPath()); err == nil && len(b) > 0 {
			t.Errorf("dirty rows recorded for a systemic refusal:\n%s", b)
		}
		if n := h.iot.TotalPoints(); n != 0 {
			t.Errorf("IoTDB holds %d points", n)
		}
		if st := loadState(t, h.statePath()); stateRowsOf(st) != 0 {
			t.Errorf("the state records %d rows as written, none was", stateRowsOf(st))
		}
		t.Log(failedLine(r.stderr))
		// The remedy works: with create_schema on, a rerun writes everything.
		r = h.run(flags{config: faultConfig(h, "\n  create_schema: true", "")})
		mustSucceed(t, r)
		comparePoints(t, "after the remedy", want, storedPoints(h.iot, "root.f."))
	})

	t.Run("existing series of another type", func(t *testing.T) {
		h := newHarness(t, iotdbtest.Options{})
		h.faultTable(rows)
		cfg := faultConfig(h, "", "")
		mustSucceed(t, h.run(flags{config: cfg})) // v BIGINT: series of type INT64
		h.exec("ALTER TABLE f MODIFY v DOUBLE NOT NULL")
		before := h.iot.TotalPoints()
		r := h.run(flags{config: cfg, restart: true})
		if r.code != exitFailed {
			t.Fatalf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 30))
		}
		for _, want := range []string{"table f", "root.f.d", "status 507", "INT64", "DOUBLE", "measurement type", "drop"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not mention %q:\n%s", want, tail(r.stderr, 30))
			}
		}
		if b, err := os.ReadFile(h.dirtyPath()); err == nil && len(b) > 0 {
			t.Errorf("dirty rows recorded for a systemic refusal:\n%s", b)
		}
		if got := h.iot.TotalPoints(); got != before {
			t.Errorf("IoTDB holds %d points, %d before the run", got, before)
		}
		if st := loadState(t, h.statePath()); stateRowsOf(st) != 0 {
			t.Errorf("the state records %d rows as written, none was", stateRowsOf(st))
		}
		t.Log(failedLine(r.stderr))
	})
}

// failedLine is the "backfill failed: ..." line of stderr.
func failedLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "backfill failed") {
			return l
		}
	}
	return "(no backfill failed line)"
}
