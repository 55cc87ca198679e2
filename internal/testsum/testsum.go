// Package testsum summarises `go test -json` for CI: a line per package
// with its passed, failed and skipped tests, the output of every failed
// test, and a final count, so that a skipped suite or a package that never
// finished is seen.
package testsum

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Counts are tests by outcome; subtests count as tests.
type Counts struct {
	Passed, Failed, Skipped int
	// Broken are packages that failed outside any test (a build error, a
	// panic in TestMain, a timeout) or never reported an end.
	Broken []string
}

// OK reports whether nothing failed.
func (c Counts) OK() bool { return c.Failed == 0 && len(c.Broken) == 0 }

type event struct {
	Action     string
	ImportPath string // of build events
	Package    string
	Test       string
	Output     string
	Elapsed    float64
}

type pkgState struct {
	counts  Counts
	output  map[string][]string // test → its output lines, kept until it ends
	running map[string]bool
	ended   bool
}

// Summarise reads `go test -json` (and any plain lines mixed in, such as
// build errors on stderr, which it passes through) from r and writes the
// summary to w.
func Summarise(r io.Reader, w io.Writer) (Counts, error) {
	pkgs := map[string]*pkgState{}
	var order []string
	state := func(name string) *pkgState {
		p, ok := pkgs[name]
		if !ok {
			p = &pkgState{output: map[string][]string{}, running: map[string]bool{}}
			pkgs[name] = p
			order = append(order, name)
		}
		return p
	}
	var total Counts
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		var e event
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil || e.Action == "" {
			fmt.Fprintln(w, line)
			continue
		}
		if e.Action == "build-output" {
			fmt.Fprint(w, e.Output) // a build error: shown as go test shows it
			continue
		}
		if e.Package == "" {
			continue
		}
		p := state(e.Package)
		switch {
		case e.Action == "run" && e.Test != "":
			p.running[e.Test] = true
		case e.Action == "output":
			p.output[e.Test] = append(p.output[e.Test], e.Output)
		case e.Test != "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			switch e.Action {
			case "pass":
				p.counts.Passed++
			case "fail":
				p.counts.Failed++
				fmt.Fprintf(w, "--- FAIL %s %s (%.2fs)\n%s", e.Package, e.Test, e.Elapsed, strings.Join(p.output[e.Test], ""))
			case "skip":
				p.counts.Skipped++
			}
			delete(p.output, e.Test)
			delete(p.running, e.Test)
		case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			p.ended = true
			word := map[string]string{"pass": "ok  ", "fail": "FAIL", "skip": "none"}[e.Action]
			if e.Action == "fail" && p.counts.Failed == 0 {
				// Failed outside any test: show what the package printed.
				p.counts.Broken = append(p.counts.Broken, e.Package)
				fmt.Fprintf(w, "--- FAIL %s (outside any test)\n%s", e.Package, strings.Join(p.output[""], ""))
				// A panic or a timeout ends the process inside a test,
				// which then never ends: its output says what happened.
				for _, t := range slices.Sorted(maps.Keys(p.running)) {
					fmt.Fprintf(w, "--- still running: %s %s\n%s", e.Package, t, strings.Join(p.output[t], ""))
				}
			}
			fmt.Fprintf(w, "%s %-40s %4d passed %4d failed %4d skipped  %s\n", word, e.Package,
				p.counts.Passed, p.counts.Failed, p.counts.Skipped, time.Duration(e.Elapsed*float64(time.Second)).Round(10*time.Millisecond))
			total.Passed += p.counts.Passed
			total.Failed += p.counts.Failed
			total.Skipped += p.counts.Skipped
			total.Broken = append(total.Broken, p.counts.Broken...)
		}
	}
	if err := sc.Err(); err != nil {
		return total, err
	}
	for _, name := range order {
		if p := pkgs[name]; !p.ended {
			total.Passed += p.counts.Passed
			total.Failed += p.counts.Failed
			total.Skipped += p.counts.Skipped
			total.Broken = append(total.Broken, name)
			running := slices.Sorted(maps.Keys(p.running))
			fmt.Fprintf(w, "FAIL %-40s never finished (tests still running: %s)\n", name, strings.Join(running, ", "))
		}
	}
	verdict := "PASS"
	if !total.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s: %d passed, %d failed, %d skipped", verdict, total.Passed, total.Failed, total.Skipped)
	if len(total.Broken) > 0 {
		fmt.Fprintf(w, "; broken packages: %s", strings.Join(total.Broken, ", "))
	}
	fmt.Fprintln(w)
	return total, nil
}
