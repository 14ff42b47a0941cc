package cdc

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
)

// What the integration tests (package cdc_test, which build engines with
// package wire as the binary does) may see of an engine.

// Streaming reports whether the binlog stream runs and the lag is known.
func (e *Engine) Streaming() bool { return e.metrics.running.Load() && e.metrics.lagKnown.Load() }

// SetSavedHook installs a function that sees every saved position.
func (e *Engine) SetSavedHook(fn func(binlog.Position)) { e.savedHook = fn }

// SetCaughtUpWait sets the streamer's caught-up wait (before Run).
func (e *Engine) SetCaughtUpWait(d time.Duration) { e.opts.CaughtUpWait = d }

// Registry is the engine's metrics registry.
func (e *Engine) Registry() *prometheus.Registry { return e.metrics.reg.Registry }

// Outcomes lists the row outcomes.
var Outcomes = outcomes
