package backfill

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The run's metrics and /status follow the run: planning (not ready),
// copying with per-table rows and points and the estimate replaced by real
// counts, then finished, or stopped when a partition is left.
func TestMetricsFollowTheRun(t *testing.T) {
	for _, finish := range []bool{true, false} {
		reg := prometheus.NewRegistry()
		m := NewMetrics(reg)
		if ok, why := m.Readiness(time.Now()); ok || why != "planning" {
			t.Fatalf("before the plan: ready %v %q", ok, why)
		}
		m.Start(&Plan{Tables: []*TablePlan{{Table: "a", EstRows: 100}, {Table: "b", EstRows: 50}}}, 150)
		m.Partitions(2)
		m.Add("a", 60, 55)
		m.Add("b", 10, 10)
		m.PartitionDone("a", 100, 60) // a had 60 rows, not 100
		st := m.Status(time.Now())
		if st.Phase != "copying" || st.Rows != 70 || st.EstimatedRows != 110 || st.PartitionsFinished != 1 || st.Partitions != 2 ||
			st.Tables["a"].Points != 55 || st.Tables["b"].Rows != 10 || st.Tables["a"].EstimatedRows != 100 {
			t.Fatalf("while copying: %+v (a %+v, b %+v)", st, st.Tables["a"], st.Tables["b"])
		}
		if ok, why := m.Readiness(time.Now()); !ok || !strings.Contains(why, "1 of 2 partitions") {
			t.Fatalf("while copying: ready %v %q", ok, why)
		}
		if got := testutil.ToFloat64(m.rows.WithLabelValues("a")); got != 60 {
			t.Fatalf("%s{table=a} = %v, want 60", MetricRows, got)
		}
		if got := testutil.ToFloat64(m.estimate); got != 110 {
			t.Fatalf("%s = %v, want 110", MetricEstimatedRows, got)
		}
		if got := testutil.ToFloat64(m.running); got != 1 {
			t.Fatalf("%s = %v while copying", MetricRunning, got)
		}
		want := "stopped"
		if finish {
			m.Add("b", 40, 40)
			m.PartitionDone("b", 50, 50)
			want = "finished"
		}
		m.Finish()
		st = m.Status(time.Now())
		if st.Phase != want || testutil.ToFloat64(m.running) != 0 {
			t.Fatalf("after Finish: phase %q, running %v; want %s, 0", st.Phase, testutil.ToFloat64(m.running), want)
		}
		if ok, _ := m.Readiness(time.Now()); ok != finish {
			t.Fatalf("after Finish (%s): ready %v", want, ok)
		}
		if finish && (st.Percent != 100 || st.EstimatedRows != 110) {
			t.Fatalf("finished: %d%% of %d rows, want 100%% of 110", st.Percent, st.EstimatedRows)
		}
	}
}
