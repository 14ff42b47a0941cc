package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/process"
	"github.com/mysql-iotdb-bridge/bridge/internal/statelock"
)

// CDCArgs are cmd/cdc's flags.
type CDCArgs struct {
	Config    string // configuration file
	Check     bool   // preflight only: print the PASS/FAIL table
	Reset     bool   // remove every piece of cdc state (checkpoint, snapshot state) and exit
	LogLevel  string // debug | info | warn | error | "" (the config's)
	LogFormat string // auto | json | console | "" (the config's)
	Listen    string // --metrics-listen: replaces metrics.listen ("" = the config's, "off" = none)
}

// NewCDC builds the cdc engine of cfg on its wiring; opts carries the
// engine's tuning (tests shorten waits), its Config, Wiring and Dirty are
// set here. Run (or Check) closes the wiring.
func NewCDC(cfg *config.Config, log zerolog.Logger, opts cdc.Options) (*cdc.Engine, error) {
	w := New(cfg, log, max(cfg.Backfill.Readers, 4)+4)
	opts.Config, opts.Wiring, opts.Dirty, opts.Log = cfg, w, w.Dirty(), log
	e, err := cdc.New(opts)
	if err != nil {
		w.Close()
		return nil, err
	}
	return e, nil
}

// RunCDC is cmd/cdc: load and check the configuration (exit 2 before any
// connection), then run the preflight table (Check) or stream until ctx
// ends. It returns the exit code.
func RunCDC(ctx context.Context, a CDCArgs, stdout, stderr io.Writer) int {
	cfg, code := loadConfigFlags(a.Config, a.LogLevel, a.LogFormat, stderr, "cdc: ")
	if cfg == nil {
		return code
	}
	if err := CDCEndpoint.apply(cfg, a.Listen); err != nil {
		fmt.Fprintln(stderr, "cdc:", err)
		return ExitUsage
	}
	cp := cfg.CDC.Checkpoint.Path
	if a.Reset {
		// Not while another process runs on this state. Without its
		// directory there is no state, and no holder, to refuse for.
		lk, err := statelock.Acquire(cp, "checkpoint")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(stderr, errorLine(err))
			return ExitFailed
		}
		defer lk.Release()
		removed, err := cdc.Reset(cfg)
		for _, p := range removed {
			fmt.Fprintln(stdout, "removed", p)
		}
		if err != nil {
			fmt.Fprintln(stderr, errorLine(err))
			return ExitFailed
		}
		if len(removed) == 0 {
			fmt.Fprintln(stdout, "no cdc state at", cfg.CDC.Checkpoint.Path)
		}
		fmt.Fprintf(stdout, "cdc state reset: the next start begins from cdc.start (%s)\n", cfg.CDC.Start)
		return ExitOK
	}
	if !a.Check { // --check writes no state
		// The checkpoint's lock covers its snapshot state too.
		release, code := claimState(cfg, stderr, "cdc: ", "checkpoint",
			stateFile{"cdc.checkpoint.path", cp}, stateFile{"dirty_rows.file", cfg.DirtyRows.File})
		if release == nil {
			return code
		}
		defer release()
	}
	log := process.NewLogger(cfg.Log, a.LogFormat, stderr)
	eng, err := NewCDC(cfg, log, cdc.Options{})
	if err != nil {
		fmt.Fprintln(stderr, errorLine(err))
		return ExitUsage
	}
	if a.Check {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		_, ok := eng.Check(cctx, func(c cdc.Check) { cdc.PrintCheck(stdout, c) })
		if !ok {
			return ExitFailed
		}
		return ExitOK
	}
	log.Info().Str("version", cli.Info().Version).Str("config", cfg.Path).Int("tables", len(cfg.IoTDB.Mappings)).Str("start", cfg.CDC.Start.String()).
		Str("checkpoint", cfg.CDC.Checkpoint.Path).Msg("cdc starting")
	if err := eng.Run(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return ExitOK // stopped during startup
		}
		msg := errorLine(err)
		if errors.Is(err, binlog.ErrDuplicateServerID) {
			msg += fmt.Sprintf(" (mysql.server_id is %d, %s)", cfg.MySQL.ServerID, cfg.PosOf("mysql.server_id"))
		}
		fmt.Fprintln(stderr, msg)
		return ExitFailed
	}
	return ExitOK
}

// errorLine is the one line printed for a fatal error, prefixed "cdc: " once
// (engine errors may already carry it).
func errorLine(err error) string {
	msg := err.Error()
	if !strings.HasPrefix(msg, "cdc: ") {
		msg = "cdc: " + msg
	}
	return msg
}
