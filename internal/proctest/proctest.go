// Package proctest runs the roster binary as a child process for tests that
// need a real process: one they can kill with SIGKILL, stop with SIGTERM,
// restart on the same data and measure from /proc. Only tests import it.
package proctest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build builds roster/cmd/roster into dir, with the race detector when
// this test binary has it, so the child's races are found too (and the
// build reuses the cache of the test build). When the go tool is missing
// the error wraps exec.ErrNotFound.
func Build(dir string) (string, error) { return build(dir, Race) }

// BuildPlain builds roster/cmd/roster into dir without the race detector,
// whatever this test binary has: for tests that measure the child's memory
// or latency, which the detector multiplies several times over.
func BuildPlain(dir string) (string, error) { return build(dir, false) }

func build(dir string, race bool) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building roster needs the go tool on PATH: %w", err)
	}
	bin := filepath.Join(dir, "roster")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "roster/cmd/roster")
	if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// BuildForTest builds the binary into a temporary directory of t for a test
// that runs it: it skips the test with -short or without the go tool.
func BuildForTest(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the server binary; skipped with -short")
	}
	bin, err := Build(t.TempDir())
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Proc is a running roster process.
type Proc struct {
	Base string // where it listens: http://127.0.0.1:port
	API  string // Base + /v2, the default --base-path

	cmd            *exec.Cmd
	stdout, stderr Buffer
	done           chan struct{} // closed once the process has exited
	err            error         // its exit status, once done is closed
}

var listenLine = regexp.MustCompile(`listening on (http://\S+)`)

// Start runs bin with args and the environment env (the whole of it, as
// exec.Cmd.Env takes it) and waits up to within until it says where it
// listens. The process is killed at cleanup if still running.
func Start(t testing.TB, bin string, args, env []string, within time.Duration) *Proc {
	t.Helper()
	p := &Proc{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.Kill)
	deadline := time.After(within)
	for {
		if m := listenLine.FindStringSubmatch(p.stdout.String()); m != nil {
			p.Base, p.API = m[1], m[1]+"/v2"
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("roster %v exited at start: %v\nstdout:\n%s\nstderr:\n%s", args, p.err, p.Stdout(), p.Stderr())
		case <-deadline:
			p.Kill()
			t.Fatalf("roster did not start in %v\nstdout:\n%s\nstderr:\n%s", within, p.Stdout(), p.Stderr())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Kill ends the process with SIGKILL — no shutdown, no flush — and waits
// for it. It does nothing if the process has exited already.
func (p *Proc) Kill() {
	if !p.Alive() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// StopTimeout is how long Stop waits after SIGTERM before it kills.
const StopTimeout = 40 * time.Second

// Stop ends the process gracefully (SIGTERM) and returns its exit status.
// If it is still running StopTimeout later it is killed, and the error
// wraps os.ErrDeadlineExceeded.
func (p *Proc) Stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(StopTimeout):
		p.Kill()
		return fmt.Errorf("roster did not stop within %v of SIGTERM: %w", StopTimeout, os.ErrDeadlineExceeded)
	}
}

// Alive reports whether the process is still running.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stdout is what the process has written to its standard output so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr is what the process has written to its standard error (its log)
// so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// VM reads a memory figure (VmRSS, VmHWM) of the running process, in KiB.
func (p *Proc) VM(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
}

// Buffer collects a server's output while the test reads it: safe for
// concurrent writes and reads.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
