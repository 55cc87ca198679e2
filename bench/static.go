package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// staticSection compares Roster serving a stored 256×256 avatar with nginx
// serving the same bytes from disk.
func staticSection(ctx context.Context, cfg *config, rep *report) error {
	rs, c, ids, err := startSignedIn(ctx, cfg, "roster-static", "static", 1)
	if err != nil {
		return err
	}
	defer rs.stop()
	img, err := photoJPEG(256, 256, 7, 90)
	if err != nil {
		return err
	}
	name, err := c.upload(ids[0], "face.jpg", "image/jpeg", img)
	if err != nil {
		return err
	}
	path := "/v2/static/employee/avatars/" + name
	stored, _, err := get(rs.url + path)
	if err != nil {
		return err
	}
	root := filepath.Join(cfg.work, "www")
	file := filepath.Join(root, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, stored, 0o644); err != nil {
		return err
	}
	ng, err := startNginx(ctx, cfg, root)
	if err != nil {
		return err
	}
	defer ng.stop()
	served, hdr, err := get(ng.url + path)
	if err != nil {
		return err
	}
	if !bytes.Equal(served, stored) || hdr.Get("Content-Type") != "image/jpeg" {
		return fmt.Errorf("nginx serves %d bytes of %s, want Roster's %d bytes of image/jpeg", len(served), hdr.Get("Content-Type"), len(stored))
	}

	// The floor of net/http itself: the same bytes from memory, with the
	// same headers, by a handler that does nothing else.
	floor, err := startListening(ctx, "ceiling-static", exec.Command(filepath.Join(cfg.bin, "ceiling"), "-addr", "127.0.0.1:0",
		path+"="+file+"=image/jpeg"), filepath.Join(cfg.work, "ceiling-static.log"))
	if err != nil {
		return err
	}
	defer floor.stop()

	p, err := alternateNamed(ctx, cfg, "GET static avatar", []string{"roster", "nginx", "net/http"}, []load{
		{url: rs.url + path, pid: rs.cmd.Process.Pid, pprof: rs.pprof, profile: filepath.Join(cfg.out, "static.cpu.pprof")},
		{url: ng.url + path, pid: ng.cmd.Process.Pid},
		{url: floor.url + path, pid: floor.cmd.Process.Pid},
	}, cfg.duration)
	if err != nil {
		return err
	}
	rep.raw["static"] = p.results
	what := fmt.Sprintf("GET a stored 256×256 JPEG avatar (%d bytes), %d connections", len(stored), cfg.conns)
	rep.add(row{Section: "static", Measure: what + ": requests/s vs nginx",
		Roster: reqs(median(p.side(0, rps))), Baseline: "nginx " + reqs(median(p.side(1, rps))),
		Value: median(p.ratios(rps)), Rounds: p.ratios(rps), Target: 0.9})
	rep.add(row{Section: "static", Measure: what + ": requests per CPU-second vs nginx (the same target, less sensitive to the machine's other load)",
		Roster: cpuPerReq(median(p.side(0, perCPU))), Baseline: "nginx " + cpuPerReq(median(p.side(1, perCPU))),
		Value: median(p.ratios(perCPU)), Rounds: p.ratios(perCPU), Target: 0.9})
	rep.add(row{Section: "static", Measure: what + ": requests per CPU-second, a bare net/http handler serving the bytes from memory vs nginx (what net/http itself allows)",
		Roster: "net/http " + cpuPerReq(median(p.side(2, perCPU))), Baseline: "nginx " + cpuPerReq(median(p.side(1, perCPU))),
		Value: median(p.ratiosOf(2, 1, perCPU)), Rounds: p.ratiosOf(2, 1, perCPU)})
	rep.add(row{Section: "static", Measure: what + ": requests per CPU-second vs the bare net/http handler",
		Roster: cpuPerReq(median(p.side(0, perCPU))), Baseline: "net/http " + cpuPerReq(median(p.side(2, perCPU))),
		Value: median(p.ratiosOf(0, 2, perCPU)), Rounds: p.ratiosOf(0, 2, perCPU)})
	rep.add(row{Section: "static", Measure: what + ": p99 latency vs nginx (lower is better)",
		Roster: ms(median(p.side(0, p99))), Baseline: "nginx " + ms(median(p.side(1, p99))),
		Value: median(p.ratios(p99)), Rounds: p.ratios(p99), Lower: true})
	return nil
}
