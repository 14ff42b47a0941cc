package cdc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// cancelDuringPreflight is the binary's wiring, but it cancels the run once
// the preflight compiled the first mapping: a SIGTERM in the middle of the
// checks.
type cancelDuringPreflight struct {
	*wire.Wiring
	cancel context.CancelFunc
	once   sync.Once
}

func (w *cancelDuringPreflight) Compile(ctx context.Context, m *config.Mapping) (*mapping.Mapper, error) {
	mp, err := w.Wiring.Compile(ctx, m)
	w.once.Do(w.cancel)
	return mp, err
}

// A stop during the preflight is a stop (the binary exits 0), not
// "preflight failed" with the checks the cancellation cut short.
func TestIntegrationStopDuringPreflight(t *testing.T) {
	f := newFixture(t)
	f.exec(readingsDDL, "CREATE TABLE pumps (id INT PRIMARY KEY, name VARCHAR(10) NOT NULL, at BIGINT NOT NULL, rpm INT)")
	f.extraTables = "    - name: pumps"
	f.extraMappings = `    - table: pumps
      device: "root.plant.${name}"
      time: {column: at, unit: ms}
      measurements: [{column: rpm}]`
	cfg := f.config()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelDuringPreflight{Wiring: wire.New(cfg, zerolog.Nop(), 8), cancel: cancel}
	e, err := cdc.New(cdc.Options{Config: cfg, Wiring: w, Dirty: w.Dirty(), Registry: ops.NewRegistry("cdc")})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Run(ctx)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "preflight failed") {
		t.Fatalf("Run stopped during the preflight: %v; want context.Canceled, not a failed check", err)
	}
}
