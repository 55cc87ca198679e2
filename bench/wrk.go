package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// wrkScript makes wrk send the method, body and content type given in its
// environment and print its summary as one JSON line, so that nothing is
// parsed from wrk's human-readable output. Latencies are in microseconds.
const wrkScript = `
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = os.getenv("BENCH_CTYPE") or "application/json"
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
`

// load is one wrk workload.
type load struct {
	url     string
	method  string // default GET
	body    string
	header  []string // request headers, "Name: value"
	threads int
	conns   int
	// pprof, when set, is the pprof base URL of the server under load: a
	// CPU profile of its first measured run is saved as profile.
	pprof, profile string
	// pid, when set, is the server's process: the CPU time it (and its
	// children) spent during the run is recorded.
	pid int
}

// wrkResult is wrk's summary of one run.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // non-2xx/3xx answers
	Timeout    int64   `json:"timeout"`
	P50        float64 `json:"p50"`
	P90        float64 `json:"p90"`
	P99        float64 `json:"p99"`
	P999       float64 `json:"p999"`
	Max        float64 `json:"max"`
	Mean       float64 `json:"mean"`
	CPU        float64 `json:"cpu_s"` // the server's CPU seconds during the run
}

// perCPU is requests served per CPU-second of the server: its efficiency,
// which depends far less than requests/s on what else the machine runs.
func perCPU(r wrkResult) float64 { return float64(r.Requests) / r.CPU }

func (r wrkResult) rps() float64 { return float64(r.Requests) / (float64(r.DurationUS) / 1e6) }

func (r wrkResult) errors() int64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

// runWrk runs wrk once.
func runWrk(ctx context.Context, cfg *config, l load, d time.Duration) (wrkResult, error) {
	script := filepath.Join(cfg.work, "bench.lua")
	if _, err := os.Stat(script); err != nil {
		if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
			return wrkResult{}, err
		}
	}
	threads, conns := or(l.threads, cfg.threads), or(l.conns, cfg.conns)
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(secs) + "s", "--timeout", "10s", "--latency", "-s", script}
	for _, h := range l.header {
		args = append(args, "-H", h)
	}
	cmd := exec.CommandContext(ctx, "wrk", append(args, l.url)...)
	cmd.Env = append(os.Environ(), "BENCH_METHOD="+or(l.method, "GET"), "BENCH_BODY="+l.body)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	var cpu0 time.Duration
	if l.pid != 0 {
		var err error
		if cpu0, err = treeCPU(l.pid); err != nil {
			return wrkResult{}, err
		}
	}
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %v: %s", l.url, err, errb.String())
	}
	var cpu time.Duration
	if l.pid != 0 {
		cpu1, err := treeCPU(l.pid)
		if err != nil {
			return wrkResult{}, err
		}
		cpu = cpu1 - cpu0
	}
	_, js, ok := strings.Cut(out.String(), "BENCHJSON ")
	if !ok {
		return wrkResult{}, fmt.Errorf("wrk %s: no summary in %q", l.url, out.String())
	}
	var r wrkResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &r); err != nil {
		return r, fmt.Errorf("wrk summary: %w", err)
	}
	r.CPU = cpu.Seconds()
	if r.Requests == 0 || r.errors() > r.Requests/1000 {
		return r, fmt.Errorf("wrk %s: %d requests, %d errors (connect %d, read %d, write %d, status %d, timeout %d)",
			l.url, r.Requests, r.errors(), r.Connect, r.Read, r.Write, r.Status, r.Timeout)
	}
	return r, nil
}

// runs is a side-by-side comparison: the same workload on Roster and on
// one or more baselines, run in alternation; results[i] are side i's runs.
type runs struct {
	results [][]wrkResult
}

// alternate warms every side up, then runs rounds of A then B, reversing
// the order every other round (ABBA), so that drift on a shared machine
// falls on every side alike.
func alternate(ctx context.Context, cfg *config, what string, a, b load, d time.Duration) (runs, error) {
	return alternateNamed(ctx, cfg, what, []string{"roster", "baseline"}, []load{a, b}, d)
}

func alternateNamed(ctx context.Context, cfg *config, what string, names []string, loads []load, d time.Duration) (runs, error) {
	p := runs{results: make([][]wrkResult, len(loads))}
	for _, l := range loads {
		if _, err := runWrk(ctx, cfg, l, cfg.warmup); err != nil {
			return p, err
		}
	}
	for round := range cfg.rounds {
		order := make([]int, len(loads))
		for i := range order {
			order[i] = i
			if round%2 == 1 {
				order[i] = len(loads) - 1 - i
			}
		}
		for _, i := range order {
			l := loads[i]
			var saved chan error
			if round == 0 && l.pprof != "" {
				saved = make(chan error, 1)
				go func() { saved <- saveProfile(ctx, l.pprof, max(1, d/time.Second-1), l.profile) }()
			}
			r, err := runWrk(ctx, cfg, l, d)
			if saved != nil {
				if err := <-saved; err != nil {
					logf("  profile %s: %v", l.profile, err)
				}
			}
			if err != nil {
				return p, err
			}
			p.results[i] = append(p.results[i], r)
		}
		line := fmt.Sprintf("  %-34s round %d:", what, round+1)
		for i, res := range p.results {
			r := res[round]
			line += fmt.Sprintf(" %s %6.0f req/s p99 %7.2f ms %5.0f µs CPU/req |", names[i], r.rps(), r.P99/1e3, 1e6/perCPU(r))
		}
		logf("%s ratio %.2f", line, p.results[0][round].rps()/p.results[1][round].rps())
	}
	return p, nil
}

// saveProfile fetches a CPU profile of secs seconds from a pprof server.
func saveProfile(ctx context.Context, base string, secs time.Duration, file string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	logf("  saved CPU profile %s", file)
	return f.Close()
}

// ratios are the per-round ratios f(side 0)/f(side 1).
func (p runs) ratios(f func(wrkResult) float64) []float64 { return p.ratiosOf(0, 1, f) }

// ratiosOf are the per-round ratios f(side i)/f(side j).
func (p runs) ratiosOf(i, j int, f func(wrkResult) float64) []float64 {
	var out []float64
	for r := range p.results[i] {
		out = append(out, f(p.results[i][r])/f(p.results[j][r]))
	}
	return out
}

func (p runs) side(i int, f func(wrkResult) float64) []float64 {
	var out []float64
	for _, r := range p.results[i] {
		out = append(out, f(r))
	}
	return out
}

func rps(r wrkResult) float64 { return r.rps() }
func p99(r wrkResult) float64 { return r.P99 }
func p50(r wrkResult) float64 { return r.P50 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	lo, hi = xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}
