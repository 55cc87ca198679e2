package fire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/proctest"
)

// The load suite: a sustained realistic mix — 90% reads, 9% assigns and
// updates, 1% uploads — from many clients against a real process without
// a rate limit. No call may fail, memory must not trend upwards, and the
// latencies are reported.
//
// ROSTER_LOAD_DURATION sets how long each stack is loaded (default 15s;
// e.g. ROSTER_LOAD_DURATION=60s for a longer soak), ROSTER_LOAD_CLIENTS
// how many clients call at once (default 32).

func loadDuration(t *testing.T) time.Duration {
	if v := os.Getenv("ROSTER_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("ROSTER_LOAD_DURATION=%q: %v", v, err)
		}
		return d
	}
	return 15 * time.Second
}

func loadClients(t *testing.T) int {
	if v := os.Getenv("ROSTER_LOAD_CLIENTS"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
			t.Fatalf("ROSTER_LOAD_CLIENTS=%q: want a positive number", v)
		}
		return n
	}
	return 32
}

// loadStats is what a load run measured.
type loadStats struct {
	requests  int
	errors    []string // the first few failures, for the report
	failed    int      // how many calls failed
	latencies map[string][]time.Duration
	rss       []int64 // VmRSS samples, KiB, in time order
	elapsed   time.Duration
}

// checkLoad checks a run: no failed call, and memory stable — the RSS of
// the last quarter of the run at most 25% (and 32 MiB) above that of the
// second quarter, once the caches have warmed.
func checkLoad(s loadStats) error {
	var errs []error
	if s.failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d calls failed, first: %s", s.failed, s.requests, strings.Join(s.errors, "; ")))
	}
	if s.requests == 0 {
		errs = append(errs, errors.New("no call was made"))
	}
	if n := len(s.rss); n >= 8 {
		early := median(s.rss[n/4 : n/2])
		late := median(s.rss[3*n/4:])
		if late > early+early/4 && late-early > 32<<10 {
			errs = append(errs, fmt.Errorf("memory grew from %d MiB to %d MiB during the run", early>>10, late>>10))
		}
	} else {
		errs = append(errs, fmt.Errorf("only %d memory samples", n))
	}
	return errors.Join(errs...)
}

func median(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func TestLoad(t *testing.T) {
	for _, s := range stacks {
		// One stack at a time: each gets the whole machine.
		t.Run(s.name, func(t *testing.T) { testLoad(t, s.make(t)) })
	}
}

func testLoad(t *testing.T, st stack) {
	ctx := t.Context()
	p := serve(t, st)
	c := newClient(p.API)
	if err := c.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	// An account of 100 employees, 20 with avatars.
	var ids, plain []int64
	var avatars []string
	images := []string{"baseline.jpg", "alpha.png", "palette.png", "progressive.jpg"}
	for i := range 100 {
		id := int64(c.must(t, "employee/create", map[string]any{"employee": map[string]any{
			"first_name": fmt.Sprintf("Load%d", i), "last_name": "Tester", "personnel_number": fmt.Sprint(i)}}).body["id"].(float64))
		ids = append(ids, id)
		if i%5 == 0 {
			r, err := c.upload(ctx, id, corpus(t, images[i%len(images)]), mimeOf(images[i%len(images)]))
			if err != nil || r.code() != 0 {
				t.Fatalf("upload = %v %v", r, err)
			}
			avatars = append(avatars, r.body["value"].(string))
		} else {
			plain = append(plain, id)
		}
	}
	uploads := make([][]byte, len(images))
	for i, name := range images {
		uploads[i] = corpus(t, name)
	}

	d, clients := loadDuration(t), loadClients(t)
	stats := runLoad(ctx, p, c, ids, plain, avatars, images, uploads, d, clients)
	kinds := slices.Sorted(func(yield func(string) bool) {
		for k := range stats.latencies {
			if !yield(k) {
				return
			}
		}
	})
	var all []time.Duration
	for _, k := range kinds {
		l := stats.latencies[k]
		all = append(all, l...)
		t.Logf("load %s %-16s %7d calls  p50 %8v  p99 %8v", st.name, k, len(l), percentile(l, 0.5).Round(10*time.Microsecond), percentile(l, 0.99).Round(10*time.Microsecond))
	}
	if err := checkLoad(stats); err != nil {
		t.Errorf("load on %s: %v", st.name, err)
	}
	if !p.Alive() {
		t.Fatalf("the server died:\n%s", p.Stderr())
	}
	hwm, _ := p.VM("VmHWM")
	t.Logf("load suite %s: %d clients for %v: %d requests served (%.0f/s), %d errors, p50 %v, p99 %v, RSS %d → %d MiB (peak %d MiB), race detector %v",
		st.name, clients, d, stats.requests, float64(stats.requests)/stats.elapsed.Seconds(), stats.failed,
		percentile(all, 0.5).Round(10*time.Microsecond), percentile(all, 0.99).Round(10*time.Microsecond),
		stats.rss[0]>>10, stats.rss[len(stats.rss)-1]>>10, hwm>>10, proctest.Race)
}

// runLoad runs the mix for d with n clients, sampling the server's RSS.
func runLoad(ctx context.Context, p *proctest.Proc, c *client, ids, plain []int64, avatars, images []string, uploads [][]byte, d time.Duration, n int) loadStats {
	stats := loadStats{latencies: map[string][]time.Duration{}}
	var mu sync.Mutex
	record := func(kind string, took time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		stats.requests++
		stats.latencies[kind] = append(stats.latencies[kind], took)
		if err != nil {
			stats.failed++
			if len(stats.errors) < 5 {
				stats.errors = append(stats.errors, kind+": "+err.Error())
			}
		}
	}
	lctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if rss, err := p.VM("VmRSS"); err == nil {
				mu.Lock()
				stats.rss = append(stats.rss, rss)
				mu.Unlock()
			}
			select {
			case <-lctx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	for w := range n {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			wc := &client{http: hc, api: c.api, hash: c.hash}
			for lctx.Err() == nil {
				kind, err, took := loadCall(lctx, wc, p.Base, rnd, ids, plain, avatars, images, uploads)
				if lctx.Err() != nil {
					return // cut off by the end of the run, not a failure
				}
				record(kind, took, err)
			}
		})
	}
	wg.Wait()
	stats.elapsed = time.Since(start)
	return stats
}

// loadCall makes one call of the mix and reports its kind, failure and
// latency.
func loadCall(ctx context.Context, c *client, base string, rnd *rand.Rand, ids, plain []int64, avatars, images []string, uploads [][]byte) (string, error, time.Duration) {
	id := ids[rnd.IntN(len(ids))]
	roll := rnd.IntN(1000)
	start := time.Now()
	var kind string
	var r reply
	var err error
	switch {
	case roll < 300:
		kind = "employee/read"
		r, err = c.call(ctx, kind, map[string]any{"employee_id": id})
	case roll < 500:
		kind = "employee/list"
		r, err = c.call(ctx, kind, map[string]any{"limit": 20, "offset": rnd.IntN(80), "sort": []string{"last_name=asc"}})
	case roll < 550:
		kind = "employee/list?q"
		r, err = c.call(ctx, "employee/list", map[string]any{"filter": fmt.Sprintf("load%d", rnd.IntN(100))})
	case roll < 900:
		kind = "static"
		u := staticURL(base, avatars[rnd.IntN(len(avatars))])
		if rnd.IntN(2) == 0 {
			kind, u = "static?size", u+"?size=64"
		}
		err = getOK(ctx, c.http, u)
		return kind, err, time.Since(start)
	case roll < 950:
		kind = "employee/avatar/assign"
		r, err = c.call(ctx, kind, map[string]any{"employee_id": id, "icon_id": rnd.IntN(100) + 1})
	case roll < 990:
		kind = "employee/update"
		r, err = c.call(ctx, kind, map[string]any{"employee": map[string]any{"id": id, "first_name": fmt.Sprintf("Load%d", id), "last_name": fmt.Sprintf("Tester%d", rnd.IntN(10))}})
	default:
		// Uploads go to employees without a preloaded avatar, so the
		// static reads never chase a replaced name.
		kind = "employee/avatar/upload"
		id = plain[rnd.IntN(len(plain))]
		i := rnd.IntN(len(images))
		r, err = c.upload(ctx, id, uploads[i], mimeOf(images[i]))
	}
	took := time.Since(start)
	if err == nil && (r.code() != 0 || r.status != http.StatusOK) {
		err = fmt.Errorf("%s", r)
	}
	return kind, err, took
}

func getOK(ctx context.Context, hc *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || n == 0 {
		return fmt.Errorf("GET %s = %d with %d bytes", u, resp.StatusCode, n)
	}
	return nil
}

// TestLoadCheckerCatches shows checkLoad failing on a run with one error,
// and on memory that keeps growing.
func TestLoadCheckerCatches(t *testing.T) {
	flat := make([]int64, 40)
	growing := make([]int64, 40)
	for i := range flat {
		flat[i] = 100<<10 + int64(i%3)<<10
		growing[i] = 100<<10 + int64(i)*8<<10
	}
	good := loadStats{requests: 1000, latencies: map[string][]time.Duration{}, rss: flat}
	if err := checkLoad(good); err != nil {
		t.Fatalf("checkLoad of a clean run = %v", err)
	}
	oneError := good
	oneError.failed, oneError.errors = 1, []string{"employee/read: 500 code 6"}
	if err := checkLoad(oneError); err == nil || !strings.Contains(err.Error(), "1 of 1000") {
		t.Errorf("checkLoad with an error = %v, want it reported", err)
	}
	leak := good
	leak.rss = growing
	if err := checkLoad(leak); err == nil || !strings.Contains(err.Error(), "memory grew") {
		t.Errorf("checkLoad with growing memory = %v, want it reported", err)
	}
}
