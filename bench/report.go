package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// row is one line of the results table.
type row struct {
	Section  string    `json:"section"`
	Measure  string    `json:"measure"`
	Roster   string    `json:"roster"`
	Baseline string    `json:"baseline"`
	Value    float64   `json:"value"`  // the ratio's median (or the measured value when Unit is set)
	Rounds   []float64 `json:"rounds"` // every round's ratio
	Unit     string    `json:"unit"`   // "" for a ratio (×)
	Target   float64   `json:"target"` // 0: no target, informational
	Lower    bool      `json:"lower"`  // lower is better
}

func (r row) value() string {
	if r.Unit != "" {
		return fmt.Sprintf("%.3g %s", r.Value, r.Unit)
	}
	s := fmt.Sprintf("%.2f×", r.Value)
	if len(r.Rounds) > 1 {
		lo, hi := minMax(r.Rounds)
		s += fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
	}
	return s
}

func (r row) target() string {
	if r.Target == 0 {
		return "—"
	}
	op := "≥"
	if r.Lower {
		op = "≤"
	}
	if r.Unit != "" {
		return fmt.Sprintf("%s %.0f %s", op, r.Target, r.Unit)
	}
	return fmt.Sprintf("%s %.2f×", op, r.Target)
}

func (r row) verdict() string {
	if r.Target == 0 {
		return "no target"
	}
	by := (r.Value/r.Target - 1) * 100
	met := r.Value >= r.Target
	if r.Lower {
		met, by = r.Value <= r.Target, -by
	}
	if met {
		return fmt.Sprintf("met (%+.0f%%)", by)
	}
	return fmt.Sprintf("**missed** (%+.0f%%)", by)
}

type report struct {
	cfg     *config
	rows    []row
	notes   []string
	raw     map[string]any
	elapsed time.Duration
}

func newReport(cfg *config) *report { return &report{cfg: cfg, raw: map[string]any{}} }

func (r *report) add(x row) {
	r.rows = append(r.rows, x)
	logf("  => %s / %s: %s (target %s: %s)", x.Section, x.Measure, x.value(), x.target(), x.verdict())
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// write prints the table and saves it, with every raw measurement, under
// cfg.out.
func (r *report) write(stdout io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Roster benchmark run %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %s, %s/%s. Mode: %s; wrk -t%d -c%d, %s a run, %d alternating rounds. Took %s.\n\n",
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, mode(r.cfg),
		r.cfg.threads, r.cfg.conns, r.cfg.duration, r.cfg.rounds, r.elapsed.Round(time.Second))
	b.WriteString("Ratios are Roster ÷ baseline, the median over rounds (min–max in brackets); for times, speed ratios are baseline time ÷ Roster time, so above 1 is always better for Roster unless the target says ≤.\n\n")
	b.WriteString("| section | measure | Roster | baseline | ratio | target | verdict |\n|---|---|---|---|---|---|---|\n")
	for _, x := range r.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", x.Section, x.Measure, x.Roster, x.Baseline, x.value(), x.target(), x.verdict())
	}
	if len(r.notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range r.notes {
			b.WriteString("- " + n + "\n")
		}
	}
	if _, err := io.WriteString(stdout, "\n"+b.String()); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.cfg.out, "results.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(map[string]any{"rows": r.rows, "notes": r.notes, "raw": r.raw}, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nResults saved in %s/results.md and results.json.\n", r.cfg.out)
	return os.WriteFile(filepath.Join(r.cfg.out, "results.json"), js, 0o644)
}

func mode(cfg *config) string {
	if cfg.quick {
		return "quick"
	}
	return "full"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// ms formats microseconds as milliseconds.
func ms(us float64) string { return fmt.Sprintf("%.2f ms", us/1e3) }

// cpuPerReq formats requests per CPU-second as CPU time per request.
func cpuPerReq(perSecond float64) string { return fmt.Sprintf("%.0f µs CPU/req", 1e6/perSecond) }

// reqs formats a request rate.
func reqs(x float64) string { return fmt.Sprintf("%.0f req/s", x) }
