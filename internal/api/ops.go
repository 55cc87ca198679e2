package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, in its own registry.
type metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	series        sync.Map // seriesKey → series
	uploadBytes   prometheus.Counter
	uploadSeconds prometheus.Histogram
	// busy counts work refused with 15 because memory or a worker was not
	// free in time; passwordChecks counts password hashes computed.
	busy           prometheus.Counter
	passwordChecks prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_requests_total",
			Help: "Requests by call, Navixy code (0 = success; none for answers outside the API, such as a 404 for an unknown path) and HTTP status.",
		}, []string{"call", "code", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roster_request_duration_seconds",
			Help:    "API request latency by call.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"call"}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roster_upload_bytes_total",
			Help: "Bytes of uploaded avatar files received.",
		}),
		uploadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "roster_upload_processing_seconds",
			Help:    "Time to check, decode, clean and encode an uploaded image.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roster_admission_refused_total",
			Help: "Expensive work refused with code 15 because memory or a decode worker was not free in time.",
		}),
		passwordChecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roster_password_checks_total",
			Help: "Passwords hashed: sign-in checks and new passwords.",
		}),
	}
	budgetUsed := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "roster_memory_budget_used_bytes",
		Help: "Bytes of the memory budget reserved by work in progress.",
	}, func() float64 { return float64(s.budget.inUse() + s.bodies.inUse()) })
	budgetSize := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "roster_memory_budget_bytes",
		Help: "The memory budget for expensive work, from --memory-limit.",
	}, func() float64 { return float64(s.budget.size + s.bodies.size) })
	sessions := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "roster_active_sessions",
		Help: "Sessions that have not expired.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.db.ActiveSessions(ctx, s.opts.Now())
		if err != nil {
			return -1
		}
		return float64(n)
	})
	m.registry.MustRegister(m.requests, m.latency, m.uploadBytes, m.uploadSeconds, m.busy, m.passwordChecks,
		budgetUsed, budgetSize, sessions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts a request. call is "other" for a path no route knows: its
// answer is no Navixy answer, so it has no code.
func (m *metrics) observe(call string, code, status int, d time.Duration) {
	k := seriesKey{call, code, status}
	o, ok := m.series.Load(k)
	if !ok {
		// Calls, codes and statuses are the server's own few values, so this
		// map stays small; a series is looked up by its labels once, not per
		// request.
		c := strconv.Itoa(code)
		if call == "other" {
			c = "none"
		}
		o, _ = m.series.LoadOrStore(k, series{m.requests.WithLabelValues(call, c, strconv.Itoa(status)), m.latency.WithLabelValues(call)})
	}
	o.(series).count.Inc()
	o.(series).latency.Observe(d.Seconds())
}

// seriesKey and series are a request series' labels and its metrics.
type seriesKey struct {
	call         string
	code, status int
}

type series struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// opsRoutes are the operational endpoints, outside the base path.
func (s *Server) opsRoutes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		infoOf(r).call = "healthz"
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		infoOf(r).call = "readyz"
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		var failed []string
		if err := s.db.Ping(ctx); err != nil {
			s.log.Warn("readyz: database", "error", err)
			failed = append(failed, "database")
		}
		if err := s.files.Ping(ctx); err != nil {
			s.log.Warn("readyz: file store", "error", err)
			failed = append(failed, "file store")
		}
		if len(failed) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, f := range failed {
				w.Write([]byte(f + ": unavailable\n"))
			}
			return
		}
		w.Write([]byte("ok\n"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
}
