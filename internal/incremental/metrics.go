package incremental

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
)

// Metric names of cmd/sync's long-running mode (docs/metrics.md lists every
// metric of every binary).
const (
	MetricRuns        = ops.Namespace + "_sync_runs_total"                     // {result=ok|failed|interrupted}
	MetricSkipped     = ops.Namespace + "_sync_runs_skipped_total"             // fire times skipped while a run was still running
	MetricRunning     = ops.Namespace + "_sync_running"                        // 1 while a run runs
	MetricDuration    = ops.Namespace + "_sync_last_run_duration_seconds"      // of the last run
	MetricLastSuccess = ops.Namespace + "_sync_last_success_timestamp_seconds" // unix time the last successful run ended
	MetricNextRun     = ops.Namespace + "_sync_next_run_timestamp_seconds"     // unix time of the next scheduled run
	MetricRows        = ops.Namespace + "_sync_rows_total"                     // {table}: rows read (re-reads of the lookback and first copies included), counted as each run ends
	MetricPoints      = ops.Namespace + "_sync_points_total"                   // {table}: points IoTDB acknowledged, counted as each run ends
	MetricDirty       = ops.MetricDirty                                        // {table, reason}
	MetricLag         = ops.Namespace + "_sync_lag_seconds"                    // {table}: now - the newest cursor value of the table's last run (time cursors)
)

// Metrics are the Prometheus metrics, the readiness and the status of a
// schedule.
type Metrics struct {
	Reg  *ops.Registry
	Sink *ops.SinkMetrics // for the sink of every run

	runs                     *prometheus.CounterVec
	skipped                  prometheus.Counter
	running, duration, lastO prometheus.Gauge
	nextRun                  prometheus.Gauge
	rows, points             *prometheus.CounterVec

	mu       sync.Mutex
	newest   map[string]time.Time
	tables   map[string]*TableStatus
	started  time.Time
	next     time.Time
	inRun    bool
	finished int
	lastErr  error
	lastOK   time.Time
	lastRun  *RunStatus

	okRuns, failedRuns int
}

// NewMetrics registers the metrics of sync in reg (a new registry when
// nil), beside what every binary exports.
func NewMetrics(reg *ops.Registry) *Metrics {
	if reg == nil {
		reg = ops.NewRegistry("sync")
	}
	m := &Metrics{Reg: reg, Sink: reg.Sink, newest: map[string]time.Time{}, tables: map[string]*TableStatus{}}
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRuns, Help: "Runs by result."}, []string{"result"})
	m.skipped = prometheus.NewCounter(prometheus.CounterOpts{Name: MetricSkipped, Help: "Fire times skipped because the previous run was still running."})
	m.running = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricRunning, Help: "1 while a run runs."})
	m.duration = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricDuration, Help: "Duration of the last run, in seconds."})
	m.lastO = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricLastSuccess, Help: "Unix time the last successful run ended."})
	m.nextRun = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricNextRun, Help: "Unix time of the next scheduled run."})
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRows, Help: "Rows read (the lookback's re-reads and first copies included), counted as each run ends."}, []string{"table"})
	m.points = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricPoints, Help: "Points IoTDB acknowledged, counted as each run ends."}, []string{"table"})
	for _, r := range []string{"ok", "failed", "interrupted"} {
		m.runs.WithLabelValues(r)
	}
	reg.MustRegister(m.runs, m.skipped, m.running, m.duration, m.lastO, m.nextRun, m.rows, m.points, lagCollector{m})
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
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), ops.LabelValue(table))
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
	d := time.Since(m.started)
	m.duration.Set(d.Seconds())
	m.lastRun = &RunStatus{Started: m.started.UTC(), DurationSeconds: d.Seconds()}
	switch {
	case interrupted && (err == nil || errors.Is(err, ErrInterrupted)):
		m.runs.WithLabelValues("interrupted").Inc()
		m.lastRun.Result = "interrupted"
		return
	case err != nil:
		m.runs.WithLabelValues("failed").Inc()
		m.lastRun.Result, m.lastRun.Error = "failed", err.Error()
		m.failedRuns++
	default:
		m.runs.WithLabelValues("ok").Inc()
		m.lastRun.Result = "ok"
		m.okRuns++
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
		m.rows.WithLabelValues(ops.LabelValue(t.Table)).Add(float64(t.RowsRead + t.CopyRows))
		m.points.WithLabelValues(ops.LabelValue(t.Table)).Add(float64(t.PointsWritten))
		if !t.NewestAt.IsZero() {
			m.newest[t.Table] = t.NewestAt
		}
		st := m.tables[t.Table]
		if st == nil {
			st = &TableStatus{}
			m.tables[t.Table] = st
		}
		st.Rows += t.RowsRead + t.CopyRows
		st.Points += t.PointsWritten
		st.DirtyRows += t.DirtyRows
		if t.Newest != "" {
			st.Newest, st.LagSeconds = t.Newest, t.Lag.Seconds()
		}
	}
}

// scheduled records the time of the next run.
func (m *Metrics) scheduled(next time.Time) {
	if m == nil {
		return
	}
	m.nextRun.Set(float64(next.UnixNano()) / 1e9)
	m.mu.Lock()
	m.next = next
	m.mu.Unlock()
}

// Status is what /status answers (and sync --status prints).
type Status struct {
	Phase     string                  `json:"phase"` // waiting (for the next run), running
	Ready     bool                    `json:"ready"` // /readyz's verdict
	Detail    string                  `json:"detail"`
	NextRun   *time.Time              `json:"next_run,omitempty"`
	LastRun   *RunStatus              `json:"last_run,omitempty"`
	LastOK    *time.Time              `json:"last_success,omitempty"`
	RunsOK    int                     `json:"runs_ok"`
	RunsError int                     `json:"runs_failed"`
	Tables    map[string]*TableStatus `json:"tables"` // since the process started
}

// RunStatus is the last finished run.
type RunStatus struct {
	Started         time.Time `json:"started"`
	DurationSeconds float64   `json:"duration_seconds"`
	Result          string    `json:"result"` // ok, failed, interrupted
	Error           string    `json:"error,omitempty"`
}

// TableStatus is one table's counters since the process started, and its
// newest cursor value.
type TableStatus struct {
	Rows       int64   `json:"rows"`
	Points     int64   `json:"points"`
	DirtyRows  int64   `json:"dirty_rows"`
	Newest     string  `json:"newest_cursor,omitempty"`
	LagSeconds float64 `json:"lag_seconds,omitempty"` // at the end of the run that read Newest
}

// Status returns the schedule's state at now.
func (m *Metrics) Status(now time.Time) Status {
	ok, why := m.Readiness(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{Phase: "waiting", Ready: ok, Detail: why, Tables: make(map[string]*TableStatus, len(m.tables))}
	if m.inRun {
		st.Phase = "running"
	}
	if !m.next.IsZero() && !m.inRun {
		n := m.next.UTC()
		st.NextRun = &n
	}
	if !m.lastOK.IsZero() {
		t := m.lastOK.UTC()
		st.LastOK = &t
	}
	if m.lastRun != nil {
		r := *m.lastRun
		st.LastRun = &r
	}
	st.RunsOK, st.RunsError = m.okRuns, m.failedRuns
	for name, t := range m.tables {
		c := *t
		st.Tables[name] = &c
	}
	return st
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
