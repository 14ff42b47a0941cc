package ops

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
)

// Namespace is the first word of every metric the binaries export: the
// product's name, so that its series sort together and do not collide
// with another exporter's generic names.
const Namespace = "mysql_iotdb_bridge"

// Metrics every serving binary (backfill, cdc, sync) exports. The binaries'
// own metrics are named in their packages (docs/metrics.md lists all).
const (
	MetricBuildInfo     = Namespace + "_build_info"                  // {binary, version, revision, goversion} = 1
	MetricDirty         = Namespace + "_dirty_rows_total"            // {table, reason}: rows recorded in the dirty-rows file
	MetricIoTDBRPC      = Namespace + "_iotdb_rpc_duration_seconds"  // histogram {op, result}: IoTDB call latency
	MetricIoTDBRetries  = Namespace + "_iotdb_retries_total"         // {op, code}
	MetricIoTDBRejected = Namespace + "_iotdb_rejected_points_total" // {code}
)

// Registry is the metrics registry of one binary: its build, the Go
// runtime's and the process's metrics, the IoTDB sink's, and the dirty-row
// counter, which the binary's dirty-row log feeds (Dirty), whichever
// engine recorded the row.
type Registry struct {
	*prometheus.Registry
	Sink  *SinkMetrics
	dirty *prometheus.CounterVec
}

// NewRegistry returns the registry of binary (backfill, cdc, sync).
func NewRegistry(binary string) *Registry {
	reg := prometheus.NewRegistry()
	b := cli.Info()
	revision := b.Commit
	if b.Modified {
		revision += "-modified"
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricBuildInfo,
		Help:        "The binary's build (value 1): its name, release version, source revision and Go version.",
		ConstLabels: prometheus.Labels{"binary": binary, "version": b.Version, "revision": revision, "goversion": b.Go}})
	info.Set(1)
	r := &Registry{Registry: reg}
	r.dirty = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricDirty,
		Help: "Rows recorded in the dirty-rows file and not written (by table and reason; see dirty_rows.policy)."}, []string{"table", "reason"})
	reg.MustRegister(info, r.dirty, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.Sink = NewSinkMetrics(reg)
	return r
}

// Dirty counts one row recorded in the dirty-rows file (a dirty.Log's
// counter).
func (r *Registry) Dirty(table, reason string) {
	r.dirty.WithLabelValues(LabelValue(table), LabelValue(reason)).Inc()
}

// LabelValue makes s safe as a Prometheus label value, which must be valid
// UTF-8 (the client panics otherwise): a table name or a position read from
// a hand-edited file must never take the process down through a metric.
func LabelValue(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}
