package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/proctest"
)

// clientFrom is an HTTP client whose connections come from a given
// loopback address, to act as another client machine.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func get(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String(), resp.Header
}

// TestRateLimit: past the per-address rate a call answers 15 with HTTP 429
// and Retry-After; another address is not affected.
func TestRateLimit(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir(), "--rate-limit", "5"}, map[string]string{"ROSTER_ADMIN_PASSWORD": "admin-pass"})
	a, b := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	limited := 0
	for i := 0; i < 40; i++ {
		status, body, h := get(t, a, s.api+"/employee/list?hash=00000000000000000000000000000000")
		if status == http.StatusTooManyRequests {
			limited++
			if !strings.Contains(body, `"code":15`) {
				t.Errorf("429 body %s, want code 15", body)
			}
			if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 {
				t.Errorf("Retry-After = %q, want whole seconds", h.Get("Retry-After"))
			}
		}
	}
	if limited == 0 {
		t.Errorf("40 calls at once at --rate-limit 5 were never limited")
	}
	if status, body, _ := get(t, b, s.api+"/employee/list?hash=00000000000000000000000000000000"); status == http.StatusTooManyRequests {
		t.Errorf("another address was limited too: %s", body)
	}
}

// TestLoginThrottle: repeated wrong passwords from one address are answered
// 15 before the password is even checked, also for the right password; the
// real user on another address still signs in.
func TestLoginThrottle(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir()}, map[string]string{"ROSTER_ADMIN_PASSWORD": "admin-pass"})
	attacker, user := clientFrom("127.0.0.3"), clientFrom("127.0.0.4")
	codes := map[string]int{}
	for i := 0; i < 15; i++ {
		_, body, _ := get(t, attacker, s.api+"/user/auth?login=admin&password=guess"+strconv.Itoa(i))
		switch {
		case strings.Contains(body, `"code":102`):
			codes["102"]++
		case strings.Contains(body, `"code":105`):
			codes["105"]++
		default:
			t.Errorf("guess %d: %s", i, body)
		}
	}
	if codes["102"] != 10 || codes["105"] != 5 {
		t.Errorf("15 guesses from one address: %v, want ten 102 then 105s", codes)
	}
	if status, body, _ := get(t, attacker, s.api+"/user/auth?login=admin&password=admin-pass"); status != http.StatusBadRequest || !strings.Contains(body, `"code":105`) {
		t.Errorf("the right password from the throttled address = %d %s, want 105 (400)", status, body)
	}
	if _, body, _ := get(t, user, s.api+"/user/auth?login=admin&password=admin-pass"); !strings.Contains(body, `"hash"`) {
		t.Errorf("the real user from another address = %s, want a session", body)
	}
}

// TestCORS: allowed origins get the headers on every answer, errors
// included, and preflights are answered; others get none.
func TestCORS(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir(), "--cors-origins", "https://app.example, https://other.example"}, nil)
	req := mustRequest(t, http.MethodOptions, s.api+"/employee/read", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type, authorization")
	r := send(t, req)
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
		r.header.Get("Access-Control-Allow-Headers") != "content-type, authorization" {
		t.Errorf("preflight = %d %v", r.status, r.header)
	}
	req = mustRequest(t, http.MethodGet, s.api+"/employee/read?hash=00000000000000000000000000000000&employee_id=1", nil)
	req.Header.Set("Origin", "https://other.example")
	if r := send(t, req); r.code() != 4 || r.header.Get("Access-Control-Allow-Origin") != "https://other.example" {
		t.Errorf("error answer to an allowed origin: code %d, Allow-Origin %q", r.code(), r.header.Get("Access-Control-Allow-Origin"))
	}
	req = mustRequest(t, http.MethodGet, s.api+"/employee/read?hash=00000000000000000000000000000000&employee_id=1", nil)
	req.Header.Set("Origin", "https://evil.example")
	if r := send(t, req); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin got Allow-Origin %q", r.header.Get("Access-Control-Allow-Origin"))
	}
}

// TestLoginTakenThrottle: logins are global, so subuser/register's 206
// tells a master that a login exists in some account. Ten such answers an
// account, then it is refused with 15 whatever the login (so the 15 tells
// nothing either); registrations that do not collide cost nothing, and
// another account is not affected.
func TestLoginTakenThrottle(t *testing.T) {
	st := newStack(t, backends()[0])
	prober, other, owner := st.newAccount(t), st.newAccount(t), st.newAccount(t)
	var mine int64
	var mineLogin string
	for range 3 {
		mineLogin = uniqueLogin("mine")
		mine = prober.register(t, map[string]any{"login": mineLogin}, subPassword)
	}
	codes := map[int]int{}
	for range 12 {
		r := prober.do(t, formJSON, "subuser/register", map[string]any{"user": map[string]any{"login": owner.login}, "password": subPassword})
		codes[r.code()]++
	}
	if codes[206] != 10 || codes[15] != 2 {
		t.Errorf("12 registrations of a taken login: codes %v, want ten 206 then 15s", codes)
	}
	r := prober.do(t, formJSON, "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("free")}, "password": subPassword})
	check(t, "a free login from the throttled account", r, 15)
	if r.header.Get("Retry-After") == "" {
		t.Errorf("a throttled registration has no Retry-After")
	}
	check(t, "renaming a sub-user from the throttled account", prober.do(t, formJSON, "subuser/update",
		map[string]any{"user": map[string]any{"id": mine, "login": uniqueLogin("renamed")}}), 15)
	// An update that keeps the login cannot tell anything: the throttled
	// master can still deactivate its sub-user.
	check(t, "deactivating a sub-user from the throttled account", prober.do(t, formJSON, "subuser/update",
		map[string]any{"user": map[string]any{"id": mine, "login": mineLogin, "activated": false}}), 0)
	check(t, "a taken login from another account", other.do(t, formJSON, "subuser/register",
		map[string]any{"user": map[string]any{"login": owner.login}, "password": subPassword}), 206)
}

// TestMemoryLimitTooSmall: a --memory-limit that leaves too little for a
// password check beside the cache and the uploads is refused at start, and
// one that leaves enough starts.
func TestMemoryLimitTooSmall(t *testing.T) {
	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--memory-limit", "200000000"}, false},
		{[]string{"--memory-limit", "200000000", "--static-cache-bytes", "-1", "--max-upload-bytes", "4194304"}, true},
	} {
		ctx, cancel := context.WithCancel(t.Context())
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)
		var stdout proctest.Buffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, args, noEnv, &stdout, io.Discard) }()
		var err error
		exited := false
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !strings.Contains(stdout.String(), "listening on"); {
			select {
			case err = <-done:
				exited = true
			case <-time.After(20 * time.Millisecond):
			}
			if exited {
				break
			}
		}
		cancel()
		if c.ok {
			if err != nil || !strings.Contains(stdout.String(), "listening on") {
				t.Errorf("serve %v = %v, want it to start", c.args, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), "--memory-limit") {
			t.Errorf("serve %v = %v, want an error naming --memory-limit", c.args, err)
		}
		if !exited {
			<-done
		}
	}
}
