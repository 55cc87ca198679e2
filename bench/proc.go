package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a process the harness started and must stop.
type server struct {
	name string
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:PORT
	// pprof is the base URL of roster serve --pprof-addr (--profile).
	pprof string
	log   string // its stderr
	done  chan error
}

// startListening starts cmd and waits for it to print "listening on
// http://ADDR" on its standard output (Roster and ceiling both do). Roster
// with --pprof-addr prints "pprof on http://ADDR" before that.
func startListening(ctx context.Context, name string, cmd *exec.Cmd, logPath string) (*server, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &server{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, a, ok := strings.Cut(sc.Text(), "pprof on http://"); ok {
				s.pprof = "http://" + strings.Fields(a)[0] // printed before "listening on"
			}
			if _, a, ok := strings.Cut(sc.Text(), "listening on http://"); ok {
				select {
				case addr <- strings.Fields(a)[0]:
				default:
				}
			}
		}
	}()
	go func() { s.done <- cmd.Wait(); logf.Close() }()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-s.done:
		return nil, fmt.Errorf("%s exited before listening (%v); its log: %s", name, err, tail(logPath))
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s did not start listening within 60s; its log: %s", name, tail(logPath))
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	return s, nil
}

// stop ends the server with SIGTERM (SIGKILL after 20 s) and waits for it.
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd.Process = nil
}

// vmHWM returns the peak resident set size of a running process, in bytes.
func vmHWM(pid int) (int64, error) { return vmStatus(pid, "VmHWM") }

// vmStatus returns a memory figure of /proc/PID/status, in bytes.
func vmStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/PID/status", field)
}

// treeCPU returns the CPU time (user + system) used so far by a process
// and every living descendant of it (nginx's workers), from /proc.
func treeCPU(root int) (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	type proc struct {
		ppid  int
		ticks int64
	}
	procs := map[int]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone already
		}
		// Fields after the command name, which may hold spaces: state ppid
		// pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid, ut + st}
	}
	if _, ok := procs[root]; !ok {
		return 0, fmt.Errorf("process %d is gone", root)
	}
	in := map[int]bool{root: true}
	for changed := true; changed; { // descendants, whatever the order of /proc
		changed = false
		for pid, p := range procs {
			if !in[pid] && in[p.ppid] {
				in[pid], changed = true, true
			}
		}
	}
	var ticks int64
	for pid := range in {
		ticks += procs[pid].ticks
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// startRoster starts the roster binary on a free loopback port with its
// data in dir.
func startRoster(ctx context.Context, cfg *config, name, dir, db string, env ...string) (*server, error) {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-format", "json"}
	if db != "" {
		args = append(args, "--db", db)
	}
	if cfg.profile {
		args = append(args, "--pprof-addr", "127.0.0.1:0")
	}
	cmd := exec.Command(filepath.Join(cfg.bin, "roster"), args...)
	// The load comes from one address and one user, far above any sane
	// per-client rate limit: switch it off. (An environment variable, not a
	// flag, so that a build without the limiter ignores it.)
	cmd.Env = append(os.Environ(), "ROSTER_ADMIN_PASSWORD="+adminPassword, "ROSTER_RATE_LIMIT=0")
	cmd.Env = append(cmd.Env, env...)
	return startListening(ctx, name, cmd, filepath.Join(cfg.work, name+".log"))
}

const adminPassword = "bench-admin-password"

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startNginx serves root on a free loopback port with the configuration
// written by nginxConf.
func startNginx(ctx context.Context, cfg *config, root string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.work, "nginx")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(dir, root, port, runtime.NumCPU())), 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "error.log")
	cmd := exec.Command("nginx", "-p", dir, "-c", conf, "-e", logPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("nginx: %w", err)
	}
	s := &server{name: "nginx", cmd: cmd, log: logPath, done: make(chan error, 1),
		url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	go func() { s.done <- cmd.Wait(); out.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case err := <-s.done:
			b, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
			return nil, fmt.Errorf("nginx exited (%v): %s %s", err, b, tail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("nginx did not listen on port %d", port)
		}
	}
}

// nginxConf is the smallest configuration that serves the avatars the way
// Roster does: same path, same headers (nginx's own ETag, Last-Modified and
// Accept-Ranges), sendfile, one worker a CPU, no access log, and keep-alive
// without a request cap (Go's server has none).
func nginxConf(dir, root string, port, workers int) string {
	return fmt.Sprintf(`worker_processes %d;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    server_tokens off;
    types { image/jpeg jpg; image/png png; image/gif gif; }
    default_type application/octet-stream;
    client_body_temp_path %[2]s/tmp/body;
    proxy_temp_path %[2]s/tmp/proxy;
    fastcgi_temp_path %[2]s/tmp/fastcgi;
    uwsgi_temp_path %[2]s/tmp/uwsgi;
    scgi_temp_path %[2]s/tmp/scgi;
    server {
        listen 127.0.0.1:%[4]d;
        root %[3]s;
        location /v2/static/employee/avatars/ {
            etag on;
            add_header Cache-Control "public, max-age=31536000, immutable" always;
            add_header X-Content-Type-Options nosniff always;
            add_header Content-Security-Policy "default-src 'none'; sandbox" always;
            add_header Cross-Origin-Resource-Policy cross-origin always;
        }
    }
}
`, workers, dir, root, port)
}

// tail returns the last lines of a log, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// waitHTTP waits until url answers 200.
func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 (%v)", url, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
