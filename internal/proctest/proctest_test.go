package proctest_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"roster/internal/proctest"
)

func TestStartStopKill(t *testing.T) {
	bin := proctest.BuildForTest(t)
	data := t.TempDir()
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", data}
	env := append(os.Environ(), "ROSTER_ADMIN_PASSWORD=proctest-password")

	p := proctest.Start(t, bin, args, env, 30*time.Second)
	if !strings.HasPrefix(p.Base, "http://127.0.0.1:") || p.API != p.Base+"/v2" {
		t.Errorf("Start() = Base %q, API %q; want http://127.0.0.1:port and it + /v2", p.Base, p.API)
	}
	resp, err := http.Get(p.Base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz = %d, want 200", resp.StatusCode)
	}
	if kib, err := p.VM("VmRSS"); err != nil || kib <= 0 {
		t.Errorf("VM(VmRSS) = %d, %v; want a positive size", kib, err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop() = %v, want nil\n%s", err, p.Stderr())
	}
	if p.Alive() {
		t.Error("Alive() after Stop() = true")
	}
	if !strings.Contains(p.Stderr(), "shutting down") {
		t.Errorf("Stderr() = %q, want the server's log", p.Stderr())
	}

	// The same data again, ended without a shutdown.
	p = proctest.Start(t, bin, args, env, 30*time.Second)
	p.Kill()
	if p.Alive() {
		t.Error("Alive() after Kill() = true")
	}
	if strings.Contains(p.Stderr(), "shutting down") {
		t.Errorf("Stderr() after Kill() = %q, want no shutdown", p.Stderr())
	}
	p.Kill() // a second Kill does nothing
}
