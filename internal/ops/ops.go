// Package ops is what the serving binaries (cdc, sync on a schedule, and
// backfill while it copies) show operators: the HTTP endpoint with
// /metrics (a Prometheus registry), /healthz (the process runs), /readyz
// (the binary's own verdict) and /status, and the metrics every binary
// exports under the same names (Registry: the build, the IoTDB sink's
// calls, dirty rows).
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Readiness is a binary's verdict for /readyz at now: ok, and why (the
// body of the answer: 200 when ok, else 503).
type Readiness func(now time.Time) (ok bool, why string)

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	mux  *http.ServeMux
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when Serve returned
}

// Start listens on addr (host:port; the configured default is loopback)
// and serves until Close. /healthz answers 200 while the process runs,
// /readyz what ready says.
func Start(addr string, reg *prometheus.Registry, ready Readiness, log zerolog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err // the caller names the configuration key
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := ready(time.Now())
		if !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, why)
	})
	s := &Server{mux: mux, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics server stopped")
		}
	}()
	log.Info().Str("listen", ln.Addr().String()).Msg("serving /metrics, /healthz, /readyz")
	return s, nil
}

// Status serves /status: what fn returns at the time of the request, as
// indented JSON (the binary's phase, position, lag, per-table counters and
// last error, for people and scripts).
func (s *Server) Status(fn func(now time.Time) any) {
	s.mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		b, err := json.MarshalIndent(fn(time.Now()), "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(b, '\n'))
	})
}

// Addr is the address the server listens on (the port chosen for ":0").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server: requests in progress get 2 s to finish.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// SinkMetrics records the IoTDB sink's calls (it implements
// iotdbsink.Metrics).
type SinkMetrics struct {
	rpc      *prometheus.HistogramVec
	retries  *prometheus.CounterVec
	rejected *prometheus.CounterVec
}

// NewSinkMetrics registers the sink's metrics in reg.
func NewSinkMetrics(reg prometheus.Registerer) *SinkMetrics {
	s := &SinkMetrics{
		rpc: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricIoTDBRPC, Help: "IoTDB call latency.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)}, []string{"op", "result"}),
		retries:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricIoTDBRetries, Help: "IoTDB call retries."}, []string{"op", "code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricIoTDBRejected, Help: "Points IoTDB refused for good."}, []string{"code"}),
	}
	reg.MustRegister(s.rpc, s.retries, s.rejected)
	return s
}

// RPC records one call.
func (s *SinkMetrics) RPC(op string, d time.Duration, err error) {
	res := "ok"
	if err != nil {
		res = "error"
	}
	s.rpc.WithLabelValues(op, res).Observe(d.Seconds())
}

// Retried records a retry of op after a status code.
func (s *SinkMetrics) Retried(op string, code int32) {
	s.retries.WithLabelValues(op, strconv.Itoa(int(code))).Inc()
}

// Rejected records points refused for good.
func (s *SinkMetrics) Rejected(points int, code int32) {
	s.rejected.WithLabelValues(strconv.Itoa(int(code))).Add(float64(points))
}
