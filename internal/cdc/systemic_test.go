package cdc_test

import (
	"os"
	"strings"
	"testing"
	"time"
)

// A mapped column's type changes (MODIFY) so that the mapping now writes
// another type than the existing series has: every row of the series would
// be refused. cdc stops with an error naming the table, the series, IoTDB's
// status and the remedy, records no dirty rows, and the checkpoint stays
// before the conflicting transaction.
func TestIntegrationSystemicTypeConflict(t *testing.T) {
	for _, tc := range []struct {
		name         string
		createSchema bool
		want         []string
	}{
		// The sink reads the series' types and refuses before sending.
		{"create_schema on", true, []string{"exists with type INT32", "writes INT64"}},
		// The server refuses the column (and writes the others: partial insert).
		{"create_schema off", false, []string{"not consistent", "registered type INT32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.exec(readingsDDL)
			cfg := f.config()
			cfg.IoTDB.CreateSchema = tc.createSchema
			r := f.runWith(cfg)
			r.waitStreaming(t)
			insertReadings(f, 1, 5) // series hum: INT32 (devices s1.d1 and s0.d2 among them)
			f.waitSource(20 * time.Second)
			f.exec("ALTER TABLE readings MODIFY hum BIGINT NULL") // the mapping now writes INT64
			good := binlogEnd(t, f)
			f.exec("INSERT INTO readings (id, site, dev, ts, temp, hum, status) VALUES (6, 's1', 'd1', '2024-01-02', 6.5, 6, 6), (7, 's0', 'd2', '2024-01-02', 7.5, 7, 7)")
			err := r.wait(t, 30*time.Second)
			if err == nil {
				t.Fatal("Run ended without an error")
			}
			for _, want := range append([]string{"readings", "root.factory.s", "hum", "status 507", "measurement type", "drop"}, tc.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			t.Log(err)
			if b, err := os.ReadFile(f.dirtyPath()); err == nil && len(b) > 0 {
				t.Errorf("dirty rows recorded for a systemic refusal:\n%s", b)
			}
			if ck := f.loadCheckpoint().Position; ck.Compare(good) > 0 {
				t.Errorf("checkpoint %s moved past the conflicting transaction (before it: %s)", ck, good)
			}
			if a := r.e.Acked(); a.Compare(good) > 0 {
				t.Errorf("acknowledged %s, past the conflicting transaction (before it: %s)", a, good)
			}
		})
	}
}
