package api

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Every request adds to a few counters, and on a machine with several cores
// a counter every core adds to is a cache line passed between them on every
// request — more than the rest of a cached static answer costs. The request
// counters are therefore striped: each series keeps stripes on cache lines
// of their own, a request adds to its core's stripe, and a scrape sums them.
const stripes = 8

// stripeNumbers hands out stripe numbers through a sync.Pool, whose objects
// stay with the processor (P) that put them back: the requests one core
// runs get the same stripe, so its counters stay in that core's cache.
var stripeNumbers = sync.Pool{New: func() any {
	n := int(nextStripe.Add(1) % stripes)
	return &n
}}

var nextStripe atomic.Uint32

// stripe is the calling core's stripe, most of the time. A request takes
// it once, when it begins.
func stripe() int {
	p := stripeNumbers.Get().(*int)
	n := *p
	stripeNumbers.Put(p)
	return n
}

// latencyBounds are the upper bounds of the latency histogram's buckets:
// 0.5 ms doubling to about 16 s; a last bucket holds what is past them.
const latencyBuckets = 16

var latencyBounds = prometheus.ExponentialBuckets(0.0005, 2, latencyBuckets)

// requestStats counts requests by call, Navixy code and HTTP status, and
// their latency by call, as roster_requests_total and
// roster_request_duration_seconds.
type requestStats struct {
	count, latency *prometheus.Desc
	series         sync.Map // seriesKey → *seriesStats
}

// seriesKey is a request series' labels.
type seriesKey struct {
	call         string
	code, status int
}

type seriesStats struct {
	call, code, status string
	stripes            [stripes]seriesStripe
}

// seriesStripe is one stripe of a series: the count of requests in each
// latency bucket (the last one past every bound) and their total latency,
// with a cache line of padding on each side, so that no two stripes'
// counters share a line wherever the series is allocated.
type seriesStripe struct {
	_       [64]byte
	buckets [latencyBuckets + 1]atomic.Uint64
	nanos   atomic.Uint64
	_       [64]byte
}

func newRequestStats() *requestStats {
	return &requestStats{
		count: prometheus.NewDesc("roster_requests_total",
			"Requests by call, Navixy code (0 = success; none for answers outside the API, such as a 404 for an unknown path) and HTTP status.",
			[]string{"call", "code", "status"}, nil),
		latency: prometheus.NewDesc("roster_request_duration_seconds", "API request latency by call.", []string{"call"}, nil),
	}
}

// observe counts a request on stripe st. call is "other" for a path no
// route knows: its answer is no Navixy answer, so it has no code.
func (r *requestStats) observe(st int, call string, code, status int, d time.Duration) {
	k := seriesKey{call, code, status}
	v, ok := r.series.Load(k)
	if !ok {
		// Calls, codes and statuses are the server's own few values, so the
		// map stays small; a series' labels are made once, not per request.
		c := strconv.Itoa(code)
		if call == "other" {
			c = "none"
		}
		v, _ = r.series.LoadOrStore(k, &seriesStats{call: call, code: c, status: strconv.Itoa(status)})
	}
	s := &v.(*seriesStats).stripes[st]
	b, _ := slices.BinarySearch(latencyBounds, d.Seconds()) // the first bound ≥ d
	s.buckets[b].Add(1)
	s.nanos.Add(uint64(max(d, 0)))
}

func (r *requestStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- r.count
	ch <- r.latency
}

// Collect sums the stripes: a counter per series, a histogram per call.
func (r *requestStats) Collect(ch chan<- prometheus.Metric) {
	type hist struct {
		buckets [latencyBuckets + 1]uint64
		nanos   uint64
	}
	calls := map[string]*hist{}
	r.series.Range(func(_, v any) bool {
		s := v.(*seriesStats)
		h := calls[s.call]
		if h == nil {
			h = &hist{}
			calls[s.call] = h
		}
		var n uint64
		for i := range s.stripes {
			st := &s.stripes[i]
			for b := range st.buckets {
				c := st.buckets[b].Load()
				h.buckets[b] += c
				n += c
			}
			h.nanos += st.nanos.Load()
		}
		ch <- prometheus.MustNewConstMetric(r.count, prometheus.CounterValue, float64(n), s.call, s.code, s.status)
		return true
	})
	for call, h := range calls {
		cumulative := make(map[float64]uint64, len(latencyBounds))
		var n uint64
		for b, bound := range latencyBounds {
			n += h.buckets[b]
			cumulative[bound] = n
		}
		n += h.buckets[len(latencyBounds)]
		ch <- prometheus.MustNewConstHistogram(r.latency, n, time.Duration(h.nanos).Seconds(), cumulative, call)
	}
}
