package wire

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
)

// HandOver gives cdc's start: backfill the position a finished backfill
// recorded, and refuses a missing, position-less or unfinished one with
// what to run.
func TestHandOver(t *testing.T) {
	pos := binlog.Position{File: "binlog.000002", Pos: 1234, GTID: "0-1-42"}
	plan := func(parts int) *backfill.TablePlan {
		tp := &backfill.TablePlan{}
		for i := range parts {
			tp.Partitions = append(tp.Partitions, backfill.Partition{ID: i})
		}
		return tp
	}
	finished := func(parts int) *backfill.TableProgress {
		tp := &backfill.TableProgress{Plan: plan(parts), Progress: make([]backfill.PartProgress, parts)}
		for i := range tp.Progress {
			tp.Progress[i].Done = true
		}
		return tp
	}
	cases := []struct {
		name    string
		state   *backfill.State // nil: no file
		wantErr string
	}{
		{"no backfill", nil, "run backfill first"},
		{"no position", &backfill.State{Tables: map[string]*backfill.TableProgress{"a": finished(2)}}, "has no source position"},
		{"unfinished", &backfill.State{Source: &pos, Tables: map[string]*backfill.TableProgress{
			"a": finished(2), "b": {Plan: plan(3), Progress: []backfill.PartProgress{{Done: true}, {}, {Done: true}}}}}, "has not finished (table b partition p1)"},
		{"finished", &backfill.State{Source: &pos, SourceFlavor: "mariadb", Tables: map[string]*backfill.TableProgress{
			"b": finished(1), "a": finished(2)}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "backfill.state.json")
			if c.state != nil {
				c.state.Version = backfill.StateVersion
				if err := backfill.SaveState(path, c.state); err != nil {
					t.Fatal(err)
				}
			}
			w := New(&config.Config{Backfill: config.Backfill{State: path}, DirtyRows: config.DirtyRows{File: filepath.Join(t.TempDir(), "d")}}, zerolog.Nop(), 1)
			got, flavor, tables, err := w.HandOver(context.Background())
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err %v, want one naming %s and %q", err, path, c.wantErr)
				}
				return
			}
			if err != nil || got != pos || flavor != "mariadb" || strings.Join(tables, ",") != "a,b" {
				t.Fatalf("HandOver = %s %q %v %v, want %s mariadb [a b]", got, flavor, tables, err, pos)
			}
		})
	}
}
