package cdc

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
)

// Row outcomes: the values of the outcome label of mysql_iotdb_bridge_cdc_rows_total and
// the keys of Stats. They are counted once IoTDB acknowledged the write or
// delete (ignored outcomes and dirty rows when decided). update_written
// counts every after-image written; update_moved_* and null_cleared are
// counted in addition for the updates they concern.
const (
	OutInsertWritten     = "insert_written"       // INSERT row written
	OutUpdateWritten     = "update_written"       // UPDATE after-image written (on_update: overwrite)
	OutUpdateIgnored     = "update_ignored"       // UPDATE skipped (on_update: ignore)
	OutUpdateMovedDelete = "update_moved_deleted" // UPDATE moved the key; the old point was deleted (on_delete: delete)
	OutUpdateMovedKept   = "update_moved_kept"    // UPDATE moved the key; the old point stays (on_delete: ignore)
	OutNullCleared       = "null_cleared"         // UPDATE set mapped columns to NULL; their points were deleted
	OutDeleteApplied     = "delete_applied"       // DELETE propagated (on_delete: delete)
	OutDeleteIgnored     = "delete_ignored"       // DELETE skipped (on_delete: ignore)
	OutDirty             = "dirty"                // row recorded in the dirty-rows file
	OutNoValues          = "no_values"            // INSERT or UPDATE whose mapped measurements are all NULL: nothing written
)

var outcomes = []string{OutInsertWritten, OutUpdateWritten, OutUpdateIgnored, OutUpdateMovedDelete,
	OutUpdateMovedKept, OutNullCleared, OutDeleteApplied, OutDeleteIgnored, OutDirty, OutNoValues}

// Metric names, for dashboards and the benchmark (docs/metrics.md lists
// every metric of every binary).
const (
	MetricRows            = ops.Namespace + "_cdc_rows_total"                     // {table, outcome}: see the Out* constants
	MetricDirty           = ops.MetricDirty                                       // {table, reason}
	MetricLag             = ops.Namespace + "_cdc_lag_seconds"                    // now - source time of the oldest change not acknowledged (0 when none)
	MetricCheckpointTime  = ops.Namespace + "_cdc_checkpoint_timestamp_seconds"   // unix time of the last checkpoint save
	MetricCheckpointFile  = ops.Namespace + "_cdc_checkpoint_binlog_file_number"  // the saved position's binlog file, by its number (binlog.000042: 42)
	MetricCheckpointPos   = ops.Namespace + "_cdc_checkpoint_binlog_offset_bytes" // offset of the saved position in its file
	MetricBatches         = ops.Namespace + "_cdc_batches_total"                  // batches acknowledged by IoTDB
	MetricBatchOps        = ops.Namespace + "_cdc_batch_operations"               // histogram: points + deletions per batch
	MetricStreamRestarts  = ops.Namespace + "_cdc_stream_restarts_total"          // stream restarts from the checkpoint after an IoTDB failure
	MetricBinlogReconnect = ops.Namespace + "_cdc_binlog_reconnects_total"        // reconnects of the binlog connection
	MetricIoTDBRPC        = ops.MetricIoTDBRPC                                    // histogram {op, result}: IoTDB call latency
	MetricIoTDBRetries    = ops.MetricIoTDBRetries                                // {op, code}
	MetricIoTDBRejected   = ops.MetricIoTDBRejected                               // {code}
	MetricStreaming       = ops.Namespace + "_cdc_streaming"                      // 1 while the binlog stream runs
	MetricResnapshots     = ops.Namespace + "_cdc_resnapshots_total"              // state discarded and tables snapshotted again (on_purged: resnapshot)
	MetricSnapshotting    = ops.Namespace + "_cdc_snapshot_running"               // 1 while a snapshot runs
	MetricSnapshotRows    = ops.Namespace + "_cdc_snapshot_rows_total"            // {table}: rows the snapshots copied (written or dirty)
	MetricSnapshotEstRows = ops.Namespace + "_cdc_snapshot_estimated_rows"        // {table}: the running snapshot's estimate of the table's rows (0 when none runs)
)

// metrics holds the Prometheus collectors and the plain counters behind
// Engine.Stats.
type metrics struct {
	reg *ops.Registry

	rows         *prometheus.CounterVec
	lag          prometheus.GaugeFunc
	ckTime       prometheus.Gauge
	ckFile       prometheus.Gauge
	ckPos        prometheus.Gauge
	batches      prometheus.Counter
	batchOps     prometheus.Histogram
	restarts     prometheus.Counter
	resnapshots  prometheus.Counter
	snapshotting prometheus.Gauge
	snapRows     *prometheus.CounterVec
	snapEst      *prometheus.GaugeVec
	sink         *ops.SinkMetrics // the IoTDB sink's calls, retries and rejections
	streaming    prometheus.Gauge

	mu     sync.Mutex
	counts map[string]map[string]int64 // table -> outcome -> rows

	written  atomic.Int64 // points + deletions acknowledged, for rows/s
	decoded  atomic.Int64 // row changes of mapped tables decoded from the binlog
	lagKnown atomic.Bool
	atEnd    atomic.Bool // the stream reached the end of the binlog and no mapped change came since
	lagSrc   lagTracker
	maxLag   time.Duration // cdc.ready_max_lag: readiness fails above it (0: no bound)
	phase    atomic.Value  // string: what the engine is doing (connecting, snapshot, streaming)
	running  atomic.Bool
	snapMu   sync.Mutex                 // guards snap and lastErr
	snap     map[string]*SnapshotStatus // the running snapshot's progress (nil when none)
	lastErr  *ErrorStatus
	ckMu     sync.Mutex
	ckAt     time.Time
	ckPosVal binlog.Position
}

// newMetrics registers cdc's metrics in reg (a new one when nil), beside
// what every binary exports. stream returns the running binlog streamer
// (nil before the first), whose reconnects are read at scrape time.
func newMetrics(reg *ops.Registry, stream func() *binlog.Streamer) *metrics {
	if reg == nil {
		reg = ops.NewRegistry("cdc")
	}
	m := &metrics{reg: reg, counts: map[string]map[string]int64{}, sink: reg.Sink}
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRows, Help: "Row changes of the mapped tables by outcome, counted once IoTDB acknowledged them (or when decided: ignored, dirty)."}, []string{"table", "outcome"})
	m.lag = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricLag, Help: "Seconds between now and the source time of the oldest change IoTDB has not acknowledged (0 when nothing is pending)."},
		func() float64 { return m.lagSrc.lag(time.Now()).Seconds() })
	m.ckTime = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricCheckpointTime, Help: "Unix time of the last checkpoint save."})
	m.ckFile = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricCheckpointFile, Help: "Binlog file of the saved checkpoint, by the number in its name (binlog.000042: 42); -1 when the name has none."})
	m.ckPos = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricCheckpointPos, Help: "Offset of the saved checkpoint in its binlog file, in bytes."})
	m.batches = prometheus.NewCounter(prometheus.CounterOpts{Name: MetricBatches, Help: "Batches acknowledged by IoTDB."})
	m.batchOps = prometheus.NewHistogram(prometheus.HistogramOpts{Name: MetricBatchOps, Help: "Points and deletions per acknowledged batch.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 9)})
	m.restarts = prometheus.NewCounter(prometheus.CounterOpts{Name: MetricStreamRestarts, Help: "Stream restarts from the checkpoint after an IoTDB failure."})
	m.resnapshots = prometheus.NewCounter(prometheus.CounterOpts{Name: MetricResnapshots, Help: "Times cdc discarded its state and snapshotted again because the checkpoint's binlog was purged (cdc.on_purged: resnapshot)."})
	m.snapshotting = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricSnapshotting, Help: "1 while a snapshot copies tables (the stream waits)."})
	m.snapRows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricSnapshotRows, Help: "Rows copied by snapshots (written or recorded dirty), by table."}, []string{"table"})
	m.snapEst = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricSnapshotEstRows, Help: "Estimated rows of each table the running snapshot copies (from the plan; 0 once it finished)."}, []string{"table"})
	m.streaming = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricStreaming, Help: "1 while the binlog stream runs."})
	reg.MustRegister(m.rows, m.lag, m.ckTime, m.ckFile, m.ckPos, m.batches, m.batchOps,
		m.restarts, m.resnapshots, m.snapshotting, m.snapRows, m.snapEst, m.streaming)
	if stream != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: MetricBinlogReconnect, Help: "Reconnects of the binlog connection."},
			func() float64 {
				if s := stream(); s != nil {
					return float64(s.Reconnects())
				}
				return 0
			}))
	}
	return m
}

// count adds n rows of an outcome.
func (m *metrics) count(table, outcome string, n int) {
	if n == 0 {
		return
	}
	m.rows.WithLabelValues(table, outcome).Add(float64(n))
	m.mu.Lock()
	t := m.counts[table]
	if t == nil {
		t = map[string]int64{}
		m.counts[table] = t
	}
	t[outcome] += int64(n)
	m.mu.Unlock()
}

func (m *metrics) stats() map[string]map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]map[string]int64, len(m.counts))
	for t, c := range m.counts {
		cc := make(map[string]int64, len(c))
		for k, v := range c {
			cc[k] = v
		}
		out[t] = cc
	}
	return out
}

// lagIsKnown marks the lag as meaningful: a batch was acknowledged or the
// stream caught up.
func (m *metrics) lagIsKnown() { m.lagKnown.Store(true) }

// readiness is /readyz's verdict: streaming, the lag known, IoTDB
// acknowledging, and the lag within cdc.ready_max_lag.
func (m *metrics) readiness(now time.Time) (bool, string) {
	lag := m.lagSrc.lag(now)
	switch {
	case !m.running.Load():
		phase, _ := m.phase.Load().(string)
		if phase == "" {
			phase = "starting"
		}
		return false, "not streaming: " + phase
	case !m.lagKnown.Load():
		return false, "streaming, lag not known yet"
	case m.lagSrc.failingFor(now) > 0:
		return false, fmt.Sprintf("IoTDB writes failing for %s; lag %dms", m.lagSrc.failingFor(now).Round(time.Millisecond), lag.Milliseconds())
	case m.maxLag > 0 && lag > m.maxLag:
		return false, fmt.Sprintf("lag %dms above cdc.ready_max_lag %s", lag.Milliseconds(), m.maxLag)
	}
	return true, fmt.Sprintf("ready, lag %dms", lag.Milliseconds())
}

func (m *metrics) checkpointSaved(pos binlog.Position, at time.Time) {
	m.ckMu.Lock()
	defer m.ckMu.Unlock()
	m.ckFile.Set(fileNumber(pos.File))
	m.ckPos.Set(float64(pos.Pos))
	m.ckTime.Set(float64(at.UnixNano()) / 1e9)
	m.ckAt, m.ckPosVal = at, pos
}

// snapshotProgress feeds the snapshot metrics (and /status) from the
// copy's progress.
type snapshotProgress struct{ m *metrics }

func (p snapshotProgress) Start(plan *backfill.Plan, _ int64) {
	p.m.snapMu.Lock()
	defer p.m.snapMu.Unlock()
	p.m.snap = map[string]*SnapshotStatus{}
	for _, t := range plan.Tables {
		p.m.snapEst.WithLabelValues(ops.LabelValue(t.Table)).Set(float64(t.EstRows))
		p.m.snapRows.WithLabelValues(ops.LabelValue(t.Table)).Add(0)
		p.m.snap[t.Table] = &SnapshotStatus{EstimatedRows: t.EstRows}
	}
}

func (p snapshotProgress) Add(table string, rows, _ int64) {
	p.m.snapRows.WithLabelValues(ops.LabelValue(table)).Add(float64(rows))
	p.m.snapMu.Lock()
	if s := p.m.snap[table]; s != nil {
		s.CopiedRows += rows
	}
	p.m.snapMu.Unlock()
}

func (p snapshotProgress) Finish() {
	p.m.snapEst.Reset()
	p.m.snapMu.Lock()
	p.m.snap = nil
	p.m.snapMu.Unlock()
}

// Status is what /status answers (and cdc --status prints).
type Status struct {
	Phase           string                      `json:"phase"` // connecting, snapshot, streaming, caught_up, failing
	Detail          string                      `json:"detail"`
	Ready           bool                        `json:"ready"` // /readyz's verdict
	LagSeconds      float64                     `json:"lag_seconds"`
	Checkpoint      *CheckpointStatus           `json:"checkpoint,omitempty"`
	Snapshot        map[string]*SnapshotStatus  `json:"snapshot,omitempty"` // per table, while a snapshot runs
	Tables          map[string]map[string]int64 `json:"tables"`             // table -> outcome -> rows since start
	LastError       *ErrorStatus                `json:"last_error,omitempty"`
	IoTDBFailingFor float64                     `json:"iotdb_failing_for_seconds,omitempty"`
}

// CheckpointStatus is the saved position.
type CheckpointStatus struct {
	Position string    `json:"position"`
	SavedAt  time.Time `json:"saved_at"`
}

// SnapshotStatus is one table's snapshot progress.
type SnapshotStatus struct {
	CopiedRows    int64 `json:"copied_rows"`
	EstimatedRows int64 `json:"estimated_rows"`
}

// ErrorStatus is the last error cdc rode out (it restarted the stream).
type ErrorStatus struct {
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// failed records err as the last error.
func (m *metrics) failed(err error) {
	m.snapMu.Lock()
	m.lastErr = &ErrorStatus{Message: err.Error(), At: time.Now().UTC()}
	m.snapMu.Unlock()
}

func (m *metrics) status(now time.Time) Status {
	ok, why := m.readiness(now)
	st := Status{Ready: ok, Detail: why, LagSeconds: m.lagSrc.lag(now).Seconds(), Tables: m.stats()}
	phase, _ := m.phase.Load().(string)
	switch failing := m.lagSrc.failingFor(now); {
	case m.running.Load() && failing > 0:
		st.Phase, st.IoTDBFailingFor = "failing", failing.Seconds()
	case m.running.Load() && m.atEnd.Load() && st.LagSeconds == 0:
		// At the end of the binlog with every change IoTDB has seen
		// acknowledged: what the source committed is in IoTDB.
		st.Phase = "caught_up"
	case m.running.Load():
		st.Phase = "streaming" // reading a backlog, or changes not acknowledged yet
	case strings.HasPrefix(phase, "snapshot"):
		st.Phase = "snapshot"
	default:
		st.Phase = "connecting"
	}
	if pos, at := m.lastCheckpoint(); !pos.IsZero() {
		st.Checkpoint = &CheckpointStatus{Position: pos.String(), SavedAt: at.UTC()}
	}
	m.snapMu.Lock()
	if m.snap != nil {
		st.Snapshot = make(map[string]*SnapshotStatus, len(m.snap))
		for t, s := range m.snap {
			c := *s
			st.Snapshot[t] = &c
		}
	}
	st.LastError = m.lastErr
	m.snapMu.Unlock()
	return st
}

// fileNumber is the number a binlog file name ends in (binlog.000042: 42),
// or -1: the checkpoint's file as a number, so that the position is a pair
// of gauges rather than a label that makes a new series per checkpoint.
func fileNumber(name string) float64 {
	i := strings.LastIndexByte(name, '.')
	n, err := strconv.ParseUint(name[i+1:], 10, 53)
	if i < 0 || err != nil {
		return -1
	}
	return float64(n)
}

func (m *metrics) lastCheckpoint() (binlog.Position, time.Time) {
	m.ckMu.Lock()
	defer m.ckMu.Unlock()
	return m.ckPosVal, m.ckAt
}

// httpServer is cdc's HTTP endpoint (internal/ops): /metrics, /healthz and
// /readyz (200 once the binlog stream runs and the lag is known).
type httpServer struct{ s *ops.Server }

func startHTTP(addr string, m *metrics, log zerolog.Logger) (*httpServer, error) {
	s, err := ops.Start(addr, m.reg.Registry, m.readiness, log)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w (another process may serve there: --metrics-listen gives cdc another address, --metrics-listen off none)", addr, err)
	}
	s.Status(func(now time.Time) any { return m.status(now) })
	return &httpServer{s}, nil
}

func (s *httpServer) addr() string { return s.s.Addr() }

func (s *httpServer) close() { s.s.Close() }
