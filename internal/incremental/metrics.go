package incremental

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
)

// Metric names of cmd/sync's long-running mode.
const (
	MetricRuns        = "bridge_sync_runs_total"                     // {result=ok|failed|interrupted}
	MetricSkipped     = "bridge_sync_runs_skipped_total"             // fire times skipped while a run was still running
	MetricRunning     = "bridge_sync_running"                        // 1 while a run runs
	MetricDuration    = "bridge_sync_last_run_duration_seconds"      // of the last run
	MetricLastSuccess = "bridge_sync_last_success_timestamp_seconds" // unix time the last successful run ended
	MetricRows        = "bridge_sync_rows_total"                     // {table}: rows read (re-reads of the lookback included)
	MetricPoints      = "bridge_sync_points_total"                   // {table}: points IoTDB acknowledged
	MetricDirty       = "bridge_sync_dirty_rows_total"               // {table}
	MetricLag         = "bridge_sync_lag_seconds"                    // {table}: now - the newest cursor value of the table's last run (time cursors)
)

// Metrics are the Prometheus metrics and the readiness of a schedule.
type Metrics struct {
	Reg  *prometheus.Registry
	Sink *ops.SinkMetrics // for the sink of every run

	runs                     *prometheus.CounterVec
	skipped                  prometheus.Counter
	running, duration, lastO prometheus.Gauge
	rows, points, dirty      *prometheus.CounterVec

	mu       sync.Mutex
	newest   map[string]time.Time
	started  time.Time
	inRun    bool
	finished int
	lastErr  error
	lastOK   time.Time
}

// NewMetrics registers the metrics (and the sink's, the process's and
// Go's) in a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{Reg: reg, newest: map[string]time.Time{}}
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRuns, Help: "Runs by result."}, []string{"result"})
	m.skipped = prometheus.NewCounter(prometheus.CounterOpts{Name: MetricSkipped, Help: "Fire times skipped because the previous run was still running."})
	m.running = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricRunning, Help: "1 while a run runs."})
	m.duration = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricDuration, Help: "Duration of the last run."})
	m.lastO = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricLastSuccess, Help: "Unix time the last successful run ended."})
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRows, Help: "Rows read (the lookback's re-reads included)."}, []string{"table"})
	m.points = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricPoints, Help: "Points IoTDB acknowledged."}, []string{"table"})
	m.dirty = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricDirty, Help: "Rows recorded in the dirty-rows file."}, []string{"table"})
	for _, r := range []string{"ok", "failed", "interrupted"} {
		m.runs.WithLabelValues(r)
	}
	reg.MustRegister(m.runs, m.skipped, m.running, m.duration, m.lastO, m.rows, m.points, m.dirty, lagCollector{m})
	m.Sink = ops.NewSinkMetrics(reg)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var lagDesc = prometheus.NewDesc(MetricLag, "Seconds between now and the newest cursor value of the table's last run (time cursors; it grows while no run brings newer rows).", []string{"table"}, nil)

type lagCollector struct{ m *Metrics }

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for table, t := range c.m.newest {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), table)
	}
}

func (m *Metrics) runStarted(time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.started, m.inRun = time.Now(), true
	m.mu.Unlock()
	m.running.Set(1)
}

func (m *Metrics) runEnded(err error, interrupted bool) {
	if m == nil {
		return
	}
	m.running.Set(0)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inRun = false
	m.duration.Set(time.Since(m.started).Seconds())
	switch {
	case interrupted && (err == nil || errors.Is(err, ErrInterrupted)):
		m.runs.WithLabelValues("interrupted").Inc()
		return
	case err != nil:
		m.runs.WithLabelValues("failed").Inc()
	default:
		m.runs.WithLabelValues("ok").Inc()
		m.lastOK = time.Now()
		m.lastO.Set(float64(m.lastOK.UnixNano()) / 1e9)
	}
	m.finished++
	m.lastErr = err
}

// Tables records what a run did per table.
func (m *Metrics) Tables(ts []TableSummary) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range ts {
		m.rows.WithLabelValues(t.Table).Add(float64(t.RowsRead + t.CopyRows))
		m.points.WithLabelValues(t.Table).Add(float64(t.PointsWritten))
		m.dirty.WithLabelValues(t.Table).Add(float64(t.DirtyRows))
		if !t.NewestAt.IsZero() {
			m.newest[t.Table] = t.NewestAt
		}
	}
}

// Readiness is /readyz: ready once a run succeeded and as long as the
// last finished run did; 503 before (the first run may be a long first
// copy) and after a failed run, with its error.
func (m *Metrics) Readiness(now time.Time) (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.finished == 0 && m.inRun:
		return false, fmt.Sprintf("the first run is in progress (for %s)", now.Sub(m.started).Round(time.Second))
	case m.finished == 0:
		return false, "waiting for the first run"
	case m.lastErr != nil:
		return false, "the last run failed: " + m.lastErr.Error()
	}
	return true, fmt.Sprintf("ready: the last run succeeded %s ago", now.Sub(m.lastOK).Round(time.Second))
}

// LogRun writes the one line of a finished run: its rows, points, dirty
// rows, the lag of the newest cursor behind now (the largest over the
// tables) and its duration.
func LogRun(log zerolog.Logger, mode string, fire time.Time, d time.Duration, ts []TableSummary, err error) {
	var rows, copied, points, dirtyRows int64
	var lag time.Duration
	lagKnown := false
	resumed := false
	for _, t := range ts {
		rows += t.RowsRead
		copied += t.CopyRows
		points += t.PointsWritten
		dirtyRows += t.DirtyRows
		resumed = resumed || t.Resumed
		if !t.NewestAt.IsZero() && (!lagKnown || t.Lag > lag) {
			lag, lagKnown = t.Lag, true
		}
	}
	ev := log.Info()
	msg := "sync run finished"
	switch {
	case errors.Is(err, ErrInterrupted):
		ev, msg = log.Warn(), "sync run interrupted"
	case err != nil:
		ev, msg = log.Error().Err(err), "sync run failed"
	}
	ev = ev.Str("mode", mode).Time("fire", fire).Int("tables", len(ts)).Int64("rows", rows).Int64("points", points).Int64("dirty_rows", dirtyRows)
	if copied > 0 {
		ev = ev.Int64("first_copy_rows", copied)
	}
	if resumed {
		ev = ev.Bool("resumed", true)
	}
	if lagKnown {
		ev = ev.Float64("lag_s", lag.Seconds())
	}
	ev.Float64("duration_s", d.Seconds()).Msg(msg)
}
