package backfill

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
)

// Metric names of a backfill run (docs/metrics.md lists every metric of
// every binary). The rate is rate(MetricRows[1m]); the share done is
// MetricRows over MetricEstimatedRows, which tells the truth as the
// displays do (see tracker).
const (
	MetricRows          = ops.Namespace + "_backfill_rows_total"          // {table}: rows read and handled (written, dirty or without values)
	MetricPoints        = ops.Namespace + "_backfill_points_total"        // {table}: points IoTDB acknowledged
	MetricEstimatedRows = ops.Namespace + "_backfill_estimated_rows"      // rows this run reads: the plan's estimate, finished partitions counted exactly
	MetricPartitions    = ops.Namespace + "_backfill_partitions"          // partitions this run reads (this shard's, unfinished at the start)
	MetricPartitionsEnd = ops.Namespace + "_backfill_partitions_finished" // of them finished
	MetricRunning       = ops.Namespace + "_backfill_running"             // 1 while the copy runs
	MetricStartTime     = ops.Namespace + "_backfill_start_time_seconds"  // unix time the copy started
)

// Metrics is a Progress that exports a run's progress as Prometheus
// metrics and answers /readyz and /status for it.
type Metrics struct {
	t tracker

	rows, points        *prometheus.CounterVec
	estimate            prometheus.GaugeFunc
	partitions, partEnd prometheus.GaugeFunc
	running, started    prometheus.Gauge

	mu     sync.Mutex
	phase  string // planning, copying, finished, stopped
	tables map[string]*TableStatus
}

// NewMetrics registers a run's metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{phase: "planning", tables: map[string]*TableStatus{}}
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRows, Help: "Rows read and handled (written, recorded dirty, or without values), by table."}, []string{"table"})
	m.points = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricPoints, Help: "Points IoTDB acknowledged, by table."}, []string{"table"})
	m.estimate = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricEstimatedRows,
		Help: "Rows this run reads: the plan's estimate, replaced by the real count as each partition finishes (never below the rows done)."},
		func() float64 { return float64(m.t.state().total) })
	m.partitions = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricPartitions, Help: "Partitions this run reads (this shard's, not finished when it started)."},
		func() float64 { return float64(max(0, m.t.state().parts)) })
	m.partEnd = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricPartitionsEnd, Help: "Partitions of this run finished."},
		func() float64 { return float64(m.t.state().done) })
	m.running = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricRunning, Help: "1 while the copy runs."})
	m.started = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricStartTime, Help: "Unix time the copy started."})
	reg.MustRegister(m.rows, m.points, m.estimate, m.partitions, m.partEnd, m.running, m.started)
	return m
}

// Start implements Progress.
func (m *Metrics) Start(plan *Plan, remaining int64) {
	m.t.begin(remaining)
	m.running.Set(1)
	m.started.Set(float64(time.Now().UnixNano()) / 1e9)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phase = "copying"
	for _, tp := range plan.Tables {
		m.rows.WithLabelValues(ops.LabelValue(tp.Table))
		m.points.WithLabelValues(ops.LabelValue(tp.Table))
		m.tables[tp.Table] = &TableStatus{EstimatedRows: tp.EstRows}
	}
}

// Add implements Progress.
func (m *Metrics) Add(table string, rows, points int64) {
	m.t.add(rows)
	m.rows.WithLabelValues(ops.LabelValue(table)).Add(float64(rows))
	m.points.WithLabelValues(ops.LabelValue(table)).Add(float64(points))
	m.mu.Lock()
	if ts := m.tables[table]; ts != nil {
		ts.Rows += rows
		ts.Points += points
	}
	m.mu.Unlock()
}

// Partitions implements PartitionProgress.
func (m *Metrics) Partitions(n int) { m.t.partitions(n) }

// PartitionDone implements PartitionProgress.
func (m *Metrics) PartitionDone(_ string, estimated, rows int64) {
	m.t.partitionDone(estimated, rows)
}

// Finish implements Progress.
func (m *Metrics) Finish() {
	m.running.Set(0)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.t.state().complete {
		m.phase = "finished"
	} else {
		m.phase = "stopped"
	}
}

// Readiness is /readyz: 200 while the copy runs or after it finished, 503
// while it plans and after it stopped early (the process is about to exit
// with the reason).
func (m *Metrics) Readiness(time.Time) (bool, string) {
	st := m.Status(time.Now())
	switch st.Phase {
	case "copying":
		return true, fmt.Sprintf("copying: %d rows, %d of %d partitions", st.Rows, st.PartitionsFinished, st.Partitions)
	case "finished":
		return true, fmt.Sprintf("finished: %d rows", st.Rows)
	}
	return false, st.Phase
}

// Status is what /status answers (and backfill --status prints).
type Status struct {
	Phase              string                  `json:"phase"` // planning, copying, finished, stopped
	Rows               int64                   `json:"rows"`
	EstimatedRows      int64                   `json:"estimated_rows"`
	Percent            int                     `json:"percent"` // -1: unknown
	RowsPerSecond      float64                 `json:"rows_per_second"`
	ETASeconds         float64                 `json:"eta_seconds,omitempty"`
	ElapsedSeconds     float64                 `json:"elapsed_seconds"`
	Partitions         int                     `json:"partitions"`
	PartitionsFinished int                     `json:"partitions_finished"`
	Tables             map[string]*TableStatus `json:"tables"`
}

// TableStatus is one table's progress in this run.
type TableStatus struct {
	Rows          int64 `json:"rows"`           // read and handled in this run
	Points        int64 `json:"points"`         // acknowledged in this run
	EstimatedRows int64 `json:"estimated_rows"` // the plan's estimate of the whole table
}

// Status returns the run's progress now.
func (m *Metrics) Status(time.Time) Status {
	s := m.t.state()
	st := Status{Rows: s.rows, EstimatedRows: s.total, Percent: s.percent, RowsPerSecond: s.rate,
		ElapsedSeconds: s.elapsed.Seconds(), Partitions: max(0, s.parts), PartitionsFinished: s.done, Tables: map[string]*TableStatus{}}
	if s.eta > 0 {
		st.ETASeconds = s.eta.Seconds()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st.Phase = m.phase
	for name, ts := range m.tables {
		c := *ts
		st.Tables[name] = &c
	}
	return st
}
