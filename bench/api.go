package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
)

// apiSection compares three calls with a bare net/http server answering
// the same bytes without doing anything (bench/ceiling).
func apiSection(ctx context.Context, cfg *config, rep *report) error {
	rs, c, ids, err := startSignedIn(ctx, cfg, "roster-api", "api", 100)
	if err != nil {
		return err
	}
	defer rs.stop()
	id := ids[len(ids)/2]
	assignBody, _ := json.Marshal(map[string]any{"hash": c.hash, "employee_id": id, "icon_id": 3654})

	type callCase struct {
		name, short, path, query string
		post                     []byte
		target                   float64
	}
	cases := []callCase{
		{"employee/read", "read", "/v2/employee/read", url.Values{"hash": {c.hash}, "employee_id": {fmt.Sprint(id)}}.Encode(), nil, 0.6},
		{"employee/list (100 employees)", "list", "/v2/employee/list", url.Values{"hash": {c.hash}}.Encode(), nil, 0.6},
		{"employee/avatar/assign (POST JSON)", "assign", "/v2/employee/avatar/assign", "", assignBody, 0.4},
	}
	// Capture Roster's answers; the ceiling answers exactly these bytes.
	routes := []string{"-addr", "127.0.0.1:0"}
	for i, k := range cases {
		var b []byte
		if k.post != nil {
			b, err = c.post(k.path[len("/v2/"):], k.post)
		} else {
			q, _ := url.ParseQuery(k.query)
			q.Del("hash")
			b, err = c.call(k.path[len("/v2/"):], q)
		}
		if err != nil {
			return err
		}
		f := filepath.Join(cfg.work, fmt.Sprintf("answer%d.json", i))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return err
		}
		routes = append(routes, k.path+"="+f)
	}
	ceil, err := startListening(ctx, "ceiling", exec.Command(filepath.Join(cfg.bin, "ceiling"), routes...),
		filepath.Join(cfg.work, "ceiling.log"))
	if err != nil {
		return err
	}
	defer ceil.stop()

	for i, k := range cases {
		a := load{url: rs.url + k.path + "?" + k.query}
		b := load{url: ceil.url + k.path + "?" + k.query}
		if k.post != nil {
			a = load{url: rs.url + k.path, method: "POST", body: string(k.post)}
			b = load{url: ceil.url + k.path, method: "POST", body: string(k.post)}
		}
		a.pid, b.pid = rs.cmd.Process.Pid, ceil.cmd.Process.Pid
		a.pprof, a.profile = rs.pprof, filepath.Join(cfg.out, "api-"+k.short+".cpu.pprof")
		want, _ := os.ReadFile(filepath.Join(cfg.work, fmt.Sprintf("answer%d.json", i)))
		got, _, err := get(b.url)
		if k.post == nil && (err != nil || !bytes.Equal(got, want)) {
			return fmt.Errorf("ceiling answers %q to %s (%v)", got, k.path, err)
		}
		p, err := alternate(ctx, cfg, k.name, a, b, cfg.duration)
		if err != nil {
			return err
		}
		rep.raw["api "+k.name] = p.results
		rep.add(row{Section: "api", Measure: fmt.Sprintf("%s (%d-byte answer), SQLite: requests/s vs ceiling", k.name, len(want)),
			Roster:   reqs(median(p.side(0, rps))) + ", p99 " + ms(median(p.side(0, p99))),
			Baseline: "ceiling " + reqs(median(p.side(1, rps))) + ", p99 " + ms(median(p.side(1, p99))),
			Value:    median(p.ratios(rps)), Rounds: p.ratios(rps), Target: k.target})
		rep.add(row{Section: "api", Measure: k.name + ": requests per CPU-second vs ceiling (the same target, less sensitive to the machine's other load)",
			Roster: cpuPerReq(median(p.side(0, perCPU))), Baseline: "ceiling " + cpuPerReq(median(p.side(1, perCPU))),
			Value: median(p.ratios(perCPU)), Rounds: p.ratios(perCPU), Target: k.target})
	}
	return nil
}
