package api

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRequestStats: requests counted from many goroutines at once, over
// every stripe, add up exactly per series, and the latency histogram of a
// call has every request in the right bucket and their total.
func TestRequestStats(t *testing.T) {
	r := newRequestStats()
	reg := prometheus.NewRegistry()
	reg.MustRegister(r)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1000 {
				r.observe(i%stripes, "employee/read", 0, 200, time.Millisecond)            // bucket le=0.001
				r.observe(i%stripes, "employee/read", 201, 400, 20*time.Second)            // past every bound
				r.observe(i%stripes, "other", 0, 404, time.Duration(i%2)*time.Microsecond) // le=0.0005
			}
		})
	}
	wg.Wait()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + " "
			}
			switch f.GetName() {
			case "roster_requests_total":
				counts[labels] = m.GetCounter().GetValue()
			case "roster_request_duration_seconds":
				h := m.GetHistogram()
				counts["histogram "+labels] = float64(h.GetSampleCount())
				if labels == "call=employee/read " {
					if got, want := h.GetSampleSum(), 8000*(0.001+20); got < want-1e-6 || got > want+1e-6 {
						t.Errorf("latency sum %v, want %v", got, want)
					}
					for _, b := range h.GetBucket() {
						want := uint64(0)
						if b.GetUpperBound() >= 0.001 {
							want = 8000 // the 1 ms requests; the 20 s ones are past every bound
						}
						if b.GetCumulativeCount() != want {
							t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
						}
					}
				}
			}
		}
	}
	for labels, want := range map[string]float64{
		"call=employee/read code=0 status=200 ":   8000,
		"call=employee/read code=201 status=400 ": 8000,
		"call=other code=none status=404 ":        8000,
		"histogram call=employee/read ":           16000,
		"histogram call=other ":                   8000,
	} {
		if counts[labels] != want {
			t.Errorf("%s= %v, want %v (all: %v)", labels, counts[labels], want, counts)
		}
	}
}
