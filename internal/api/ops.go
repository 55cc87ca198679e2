package api

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, in its own registry.
type metrics struct {
	registry      *prometheus.Registry
	requests      *requestStats
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
		requests: newRequestStats(),
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
	m.registry.MustRegister(m.requests, m.uploadBytes, m.uploadSeconds, m.busy, m.passwordChecks,
		budgetUsed, budgetSize, sessions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
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
