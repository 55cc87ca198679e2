package main

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var pprofLine = regexp.MustCompile(`pprof on (http://\S+)`)

// TestPprofOffByDefault: without --pprof-addr nothing serves pprof, and
// the API's listener never does.
func TestPprofOffByDefault(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir()}, nil)
	if pprofLine.MatchString(s.stdout.String()) {
		t.Errorf("stdout names a pprof address without --pprof-addr:\n%s", s.stdout)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/v2/debug/pprof/"} {
		if status, body, _ := get(t, http.DefaultClient, s.base+path); status != http.StatusNotFound {
			t.Errorf("GET %s on the API's address = %d %.80q, want 404", path, status, body)
		}
	}
}

// TestPprofAddr: --pprof-addr (or ROSTER_PPROF_ADDR) serves the profiles on
// a second loopback address, printed at start-up like the API's, and on
// that address only.
func TestPprofAddr(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		path string
	}{
		{"flag", []string{"--pprof-addr", "127.0.0.1:0"}, nil, "/debug/pprof/profile?seconds=1"},
		{"environment", nil, map[string]string{"ROSTER_PPROF_ADDR": "127.0.0.1:0"}, "/debug/pprof/heap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, append([]string{"--data", t.TempDir()}, tc.args...), tc.env)
			m := pprofLine.FindStringSubmatch(s.stdout.String())
			if m == nil {
				t.Fatalf("stdout names no pprof address:\n%s", s.stdout)
			}
			if m[1] == s.base || !strings.HasPrefix(m[1], "http://127.0.0.1:") {
				t.Fatalf("pprof address %s, want a loopback address apart from the API's %s", m[1], s.base)
			}
			// A profile is gzipped protocol buffers.
			if status, body, _ := get(t, http.DefaultClient, m[1]+tc.path); status != http.StatusOK || !strings.HasPrefix(body, "\x1f\x8b") {
				t.Errorf("GET %s on the pprof address = %d %.80q, want 200 and a gzipped profile", tc.path, status, body)
			}
			if status, body, _ := get(t, http.DefaultClient, s.base+"/debug/pprof/"); status != http.StatusNotFound {
				t.Errorf("GET /debug/pprof/ on the API's address = %d %.80q, want 404", status, body)
			}
		})
	}
}

// TestPprofAddrNotLoopback: any other address is refused before the server
// listens.
func TestPprofAddrNotLoopback(t *testing.T) {
	for _, addr := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "192.0.2.1:6060", "localhost:6060", "example.com:6060", "127.0.0.1"} {
		for _, viaEnv := range []bool{false, true} {
			args := []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}
			getenv := noEnv
			if viaEnv {
				getenv = func(k string) string {
					if k == "ROSTER_PPROF_ADDR" {
						return addr
					}
					return ""
				}
			} else {
				args = append(args, "--pprof-addr", addr)
			}
			var stdout bytes.Buffer
			err := run(t.Context(), args, getenv, &stdout, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "--pprof-addr") {
				t.Errorf("serve with pprof address %q (environment: %v) = %v, want an error naming --pprof-addr", addr, viaEnv, err)
			}
			if strings.Contains(stdout.String(), "listening on") {
				t.Errorf("serve with pprof address %q listened:\n%s", addr, stdout.String())
			}
		}
	}
}
