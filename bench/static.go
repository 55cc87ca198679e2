package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// staticSection compares Roster serving a stored avatar (a real photo,
// 600×400) with nginx serving the same bytes from disk, then the cached
// original and rendition variants with the bare net/http floor.
func staticSection(ctx context.Context, cfg *config, rep *report) error {
	rs, c, ids, err := startSignedIn(ctx, cfg, "roster-static", "static", 1)
	if err != nil {
		return err
	}
	defer rs.stop()
	img, err := os.ReadFile(filepath.Join("internal", "avatar", "testdata", "photo-coffee.jpg"))
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
	what := fmt.Sprintf("GET a stored 600×400 JPEG photo (%d bytes), %d connections", len(stored), cfg.conns)
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
	return staticVariants(ctx, cfg, rep, rs, path)
}

// browserAccept is what Chromium sends for an <img>.
const browserAccept = "Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"

// staticVariants compares Roster serving a cached avatar — the original,
// and the ?size=128 rendition in its JPEG and WebP variants — with a bare
// net/http handler writing the same bytes with the same headers from
// memory, in CPU per request.
func staticVariants(ctx context.Context, cfg *config, rep *report, rs *server, path string) error {
	variants := []struct {
		name, query string
		header      []string
	}{
		{"the original", "", nil},
		{"the ?size=128 rendition, JPEG", "?size=128", nil},
		{"the ?size=128 rendition, WebP (a browser's Accept)", "?size=128", []string{browserAccept}},
	}
	var routes []string
	for i, v := range variants {
		body, hdr, err := getWith(rs.url+path+v.query, v.header...)
		if err != nil {
			return err
		}
		if i == 2 && hdr.Get("Content-Type") != "image/webp" {
			return fmt.Errorf("Roster answers %s to a browser for ?size=128, want image/webp", hdr.Get("Content-Type"))
		}
		base := filepath.Join(cfg.work, fmt.Sprintf("variant%d", i))
		var lines []string
		for k, vs := range hdr {
			if k != "Date" && k != "Content-Type" && k != "Content-Length" {
				for _, v := range vs {
					lines = append(lines, k+": "+v+"\n")
				}
			}
		}
		if err := os.WriteFile(base+".body", body, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(base+".header", []byte(strings.Join(lines, "")), 0o644); err != nil {
			return err
		}
		routes = append(routes, fmt.Sprintf("/variant%d=%s.body=%s=%s.header", i, base, hdr.Get("Content-Type"), base))
	}
	args := []string{"-addr", "127.0.0.1:0"}
	if cfg.profile {
		args = append(args, "-pprof-addr", "127.0.0.1:0")
	}
	floor, err := startListening(ctx, "ceiling-variants", exec.Command(filepath.Join(cfg.bin, "ceiling"), append(args, routes...)...),
		filepath.Join(cfg.work, "ceiling-variants.log"))
	if err != nil {
		return err
	}
	defer floor.stop()
	for i, v := range variants {
		// Both get the same request, headers included: net/http reads a
		// browser's Accept line as much for the floor as for Roster.
		p, err := alternate(ctx, cfg, "GET cached "+v.name,
			load{url: rs.url + path + v.query, header: v.header, pid: rs.cmd.Process.Pid,
				pprof: rs.pprof, profile: filepath.Join(cfg.out, fmt.Sprintf("static-variant%d.cpu.pprof", i))},
			load{url: fmt.Sprintf("%s/variant%d", floor.url, i), header: v.header, pid: floor.cmd.Process.Pid,
				pprof: floor.pprof, profile: filepath.Join(cfg.out, fmt.Sprintf("static-variant%d-floor.cpu.pprof", i))}, cfg.duration)
		if err != nil {
			return err
		}
		rep.raw[fmt.Sprintf("static-variant-%d", i)] = p.results
		rep.add(row{Section: "static", Measure: fmt.Sprintf("GET %s of a stored photo from the cache, %d connections: requests per CPU-second vs a bare net/http handler writing the same bytes and headers", v.name, cfg.conns),
			Roster: cpuPerReq(median(p.side(0, perCPU))), Baseline: "net/http " + cpuPerReq(median(p.side(1, perCPU))),
			Value: median(p.ratios(perCPU)), Rounds: p.ratios(perCPU), Target: 0.85})
	}
	return nil
}
