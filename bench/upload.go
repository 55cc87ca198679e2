package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of the outputs
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// pipelineTarget: Roster's processing takes at most 1.5× libvips' time, a
// speed (libvips' time ÷ Roster's) of at least 1/1.5.
const pipelineTarget = 1 / 1.5

// uploadSection compares Roster's image pipeline with libvips doing the
// same work, measures uploads through the server, and the server's peak
// memory under a burst of large uploads.
func uploadSection(ctx context.Context, cfg *config, rep *report) error {
	logf("  making a 12-megapixel photo-like JPEG (quality 90) and a 256×256 PNG")
	bigJPEG, err := photoJPEG(4000, 3000, 1, 90)
	if err != nil {
		return err
	}
	smallPNG, err := photoPNG(256, 256, 2)
	if err != nil {
		return err
	}
	type kase struct {
		name, ext, mime, vipsOut string
		data                     []byte
		copies                   int // files a command processes, to spread its start-up cost
		w, h                     int // expected output size
	}
	cases := []kase{
		{"12 MP photo JPEG (4000×3000) → 1024×768 JPEG", ".jpg", "image/jpeg", "%s.jpg[Q=85,strip]", bigJPEG, 2, 1024, 768},
		// Roster encodes PNGs of at most 256×256 pixels at zlib's default
		// level 6 (larger ones at level 1): the same for vips.
		{"256×256 PNG → PNG", ".png", "image/png", "%s.png[compression=6,strip]", smallPNG, 20, 256, 256},
	}
	if cfg.quick {
		cases[0].copies, cases[1].copies = 1, 10
	}
	pipeline := map[string]float64{} // name → Roster's in-process seconds per image, and vips' wall per image
	for ci, k := range cases {
		in := filepath.Join(cfg.work, fmt.Sprintf("in%d", ci))
		outGo, outVips := filepath.Join(cfg.work, fmt.Sprintf("out%d-go", ci)), filepath.Join(cfg.work, fmt.Sprintf("out%d-vips", ci))
		var files []string
		for _, d := range []string{in, outGo, outVips} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		for i := range k.copies {
			f := filepath.Join(in, fmt.Sprintf("p%02d%s", i, k.ext))
			if err := os.WriteFile(f, k.data, 0o644); err != nil {
				return err
			}
			files = append(files, f)
		}
		goCmd := func() *exec.Cmd {
			return exec.CommandContext(ctx, filepath.Join(cfg.bin, "process"), append([]string{"-o", outGo}, files...)...)
		}
		// --size 1024x1024> fits the long side in 1024 and never enlarges,
		// as Roster does; auto-rotation is vipsthumbnail's default; strip
		// drops the metadata.
		vipsCmd := func() *exec.Cmd {
			return exec.CommandContext(ctx, "vipsthumbnail", append([]string{"--size", "1024x1024>",
				"-o", filepath.Join(outVips, k.vipsOut)}, files...)...)
		}
		var goWall, goCPU, goInside, vWall, vCPU []float64
		for rep := range cfg.reps + 1 { // the first repetition warms the page cache and is dropped
			order := []int{0, 1}
			if rep%2 == 1 {
				order = []int{1, 0}
			}
			for _, side := range order {
				var cmd *exec.Cmd
				if side == 0 {
					cmd = goCmd()
				} else {
					cmd = vipsCmd()
				}
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				start := time.Now()
				err := cmd.Run()
				wall := time.Since(start).Seconds() / float64(k.copies)
				if err != nil {
					return fmt.Errorf("%v: %v: %s", cmd.Args[:3], err, errb.String())
				}
				cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() / float64(k.copies)
				if rep == 0 {
					continue
				}
				if side == 0 {
					var v struct {
						Seconds float64 `json:"process_seconds"`
					}
					if err := json.Unmarshal(out.Bytes(), &v); err != nil {
						return fmt.Errorf("process printed %q: %v", out.String(), err)
					}
					goWall, goCPU, goInside = append(goWall, wall), append(goCPU, cpu), append(goInside, v.Seconds/float64(k.copies))
				} else {
					vWall, vCPU = append(vWall, wall), append(vCPU, cpu)
				}
			}
		}
		for _, d := range []string{outGo, outVips} {
			if err := checkOutput(filepath.Join(d, "p00"+k.ext), k.w, k.h); err != nil {
				return err
			}
		}
		speed := ratios(vWall, goWall)
		rep.add(row{Section: "upload", Measure: "pipeline " + k.name + ": wall time per image vs vipsthumbnail (decode, orient, strip, resize, encode)",
			Roster:   fmt.Sprintf("%.1f ms (%.1f ms inside avatar.Process)", median(goWall)*1e3, median(goInside)*1e3),
			Baseline: fmt.Sprintf("vipsthumbnail %.1f ms", median(vWall)*1e3),
			Value:    median(speed), Rounds: speed, Target: pipelineTarget})
		cpuSpeed := ratios(vCPU, goCPU)
		rep.add(row{Section: "upload", Measure: "pipeline " + k.name + ": CPU time per image vs vipsthumbnail (the same target, less sensitive to the machine's other load)",
			Roster: fmt.Sprintf("%.1f ms", median(goCPU)*1e3), Baseline: fmt.Sprintf("vipsthumbnail %.1f ms", median(vCPU)*1e3),
			Value: median(cpuSpeed), Rounds: cpuSpeed, Target: pipelineTarget})
		pipeline[k.name] = median(vWall)
		rep.raw["pipeline "+k.name] = map[string]any{"go_wall": goWall, "go_cpu": goCPU, "go_inside": goInside, "vips_wall": vWall, "vips_cpu": vCPU, "copies": k.copies}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}

	// End to end: one upload at a time through a running server.
	rs, c, ids, err := startSignedIn(ctx, cfg, "roster-upload", "upload", 1)
	if err != nil {
		return err
	}
	defer rs.stop()
	for _, k := range cases {
		var lat []float64
		for i := range cfg.reps + 1 {
			start := time.Now()
			if _, err := c.upload(ids[0], "photo"+k.ext, k.mime, k.data); err != nil {
				return err
			}
			if i > 0 {
				lat = append(lat, time.Since(start).Seconds())
			}
		}
		speed := ratios([]float64{pipeline[k.name]}, lat)
		rep.add(row{Section: "upload", Measure: "upload " + k.name + " through the server, end to end, vs vipsthumbnail's wall time",
			Roster: fmt.Sprintf("%.1f ms", median(lat)*1e3), Baseline: fmt.Sprintf("vipsthumbnail %.1f ms", pipeline[k.name]*1e3),
			Value: median(speed), Rounds: speed})
		rep.raw["upload e2e "+k.name] = lat
	}
	rs.stop()

	// Peak memory of a burst of 16 concurrent 12 MP uploads to a fresh server.
	rm, err := startRoster(ctx, cfg, "roster-rss", filepath.Join(cfg.work, "rss"), "")
	if err != nil {
		return err
	}
	defer rm.stop()
	c = newClient(rm.url)
	if err := c.signIn(); err != nil {
		return err
	}
	const burst = 16
	ids, err = c.createEmployees(burst)
	if err != nil {
		return err
	}
	before, err := vmHWM(rm.cmd.Process.Pid)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	start := time.Now()
	for i := range burst {
		wg.Go(func() {
			if _, err := c.upload(ids[i], "photo.jpg", "image/jpeg", bigJPEG); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	peak, err := vmHWM(rm.cmd.Process.Pid)
	if err != nil {
		return err
	}
	rep.add(row{Section: "upload", Measure: fmt.Sprintf("peak RSS (VmHWM) of the server during %d concurrent 12 MP uploads (%.1f MiB each; burst took %.1f s)", burst, float64(len(bigJPEG))/(1<<20), took.Seconds()),
		Roster: fmt.Sprintf("%.0f MiB (%.0f MiB before)", float64(peak)/(1<<20), float64(before)/(1<<20)), Baseline: "limit",
		Value: float64(peak) / (1 << 20), Unit: "MiB", Target: 512, Lower: true})
	return nil
}

// ratios returns a[i]/b[i], or a[0]/b[i] when a has one element.
func ratios(a, b []float64) []float64 {
	var out []float64
	for i := range b {
		x := a[0]
		if len(a) > 1 {
			x = a[i]
		}
		out = append(out, x/b[i])
	}
	return out
}

func checkOutput(path string, w, h int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Width != w || cfg.Height != h {
		return fmt.Errorf("%s is %d×%d, want %d×%d", path, cfg.Width, cfg.Height, w, h)
	}
	return nil
}
