package cdc_test

import (
	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"testing"
	"time"
)

// TestIntegrationPolicies runs the same changes under each on_update x
// on_delete combination and checks the stored points and the counters.
//
// Rows 1-5 are inserted, then in ONE transaction:
//
//	id 1: temp changed                 (same key)
//	id 2: hum set to NULL              (same key; a NULL write would not clear it)
//	id 3: ts moved by one hour         (key moved)
//	id 4: deleted
//	id 5: deleted, then inserted again with the same key and new values
//	      (binlog order: the row must end present)
//
// Each combination runs in the tree model and in the table model, where
// deletes are whole rows (a NULL-ed column deletes the row and writes the
// after-image again).
func TestIntegrationPolicies(t *testing.T) {
	type tcase struct {
		model              string
		onUpdate, onDelete string
	}
	var cases []tcase
	for _, model := range []string{"tree", "table"} {
		for _, p := range [][2]string{{"overwrite", "delete"}, {"overwrite", "ignore"}, {"ignore", "delete"}, {"ignore", "ignore"}} {
			cases = append(cases, tcase{model, p[0], p[1]})
		}
	}
	for _, tc := range cases {
		t.Run(tc.model+"_"+tc.onUpdate+"_"+tc.onDelete, func(t *testing.T) {
			f := newFixture(t)
			f.onUpdate, f.onDelete = tc.onUpdate, tc.onDelete
			f.tableModel = tc.model == "table"
			f.exec(readingsDDL)
			r := f.run()
			r.waitStreaming(t)
			insertReadings(f, 1, 5)
			f.waitSource(20 * time.Second)
			before := map[string]state{}
			for _, id := range []string{"1", "2", "3", "4", "5"} {
				before[id] = f.expectedWhere("readings", "id = "+id)
			}

			tx, err := f.db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{
				"UPDATE readings SET temp = 100.25 WHERE id = 1",
				"UPDATE readings SET hum = NULL WHERE id = 2",
				"UPDATE readings SET ts = ts + INTERVAL 1 HOUR WHERE id = 3",
				"DELETE FROM readings WHERE id = 4",
				"DELETE FROM readings WHERE id = 5",
				"INSERT INTO readings (id, site, dev, ts, temp, hum, status) SELECT 5, 's1', 'd0', '2024-01-01 00:00:05', 55.5, 55, 5",
			} {
				if _, err := tx.Exec(s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			after := map[string]state{}
			for _, id := range []string{"1", "2", "3", "5"} {
				after[id] = f.expectedWhere("readings", "id = "+id)
			}

			var want state
			switch tc.onUpdate + "_" + tc.onDelete {
			case "overwrite_delete":
				want = merge(after["1"], after["2"], after["3"], after["5"])
			case "overwrite_ignore":
				// The moved row's old point and the deleted row stay.
				want = merge(before["3"], before["4"], after["1"], after["2"], after["3"], after["5"])
			case "ignore_delete":
				want = merge(before["1"], before["2"], before["3"], after["5"])
			case "ignore_ignore":
				want = merge(before["1"], before["2"], before["3"], before["4"], after["5"])
			}
			f.waitState(func() state { return want }, 20*time.Second)
			time.Sleep(200 * time.Millisecond)

			wantStats := map[string]int64{cdc.OutInsertWritten: 6}
			if tc.onUpdate == "overwrite" {
				wantStats[cdc.OutUpdateWritten] = 3
				wantStats[cdc.OutNullCleared] = 1
				if tc.onDelete == "delete" {
					wantStats[cdc.OutUpdateMovedDelete] = 1
				} else {
					wantStats[cdc.OutUpdateMovedKept] = 1
				}
			} else {
				wantStats[cdc.OutUpdateIgnored] = 3
			}
			if tc.onDelete == "delete" {
				wantStats[cdc.OutDeleteApplied] = 2
			} else {
				wantStats[cdc.OutDeleteIgnored] = 2
			}
			got := r.e.Stats()["readings"]
			for _, o := range cdc.Outcomes {
				if got[o] != wantStats[o] {
					t.Errorf("%s = %d, want %d (all: %v)", o, got[o], wantStats[o], got)
				}
			}
		})
	}
}
