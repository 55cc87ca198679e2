package fire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// passwordChecks reads roster_password_checks_total from the server's
// /metrics: the password hashes it has computed.
func passwordChecks(ctx context.Context, c *client, base string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "roster_password_checks_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no roster_password_checks_total in %s/metrics", base)
}

// signInFrom tries user/auth, as a client behind a proxy when forwarded is
// not "" (its X-Forwarded-For).
func signInFrom(ctx context.Context, c *client, login, password, forwarded string) (reply, error) {
	b, _ := json.Marshal(map[string]any{"login": login, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api+"/user/auth", bytes.NewReader(b))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if forwarded != "" {
		req.Header.Set("X-Forwarded-For", forwarded)
	}
	return c.do(req)
}

// signInCodes counts the Navixy codes of user/auth answers, and checks that
// every 105 (the sign-in throttle) is an HTTP 400 and every 15 (the rate
// limit) an HTTP 429, each with a Retry-After.
func signInCodes(replies []reply) (map[int]int, error) {
	codes := map[int]int{}
	for _, r := range replies {
		codes[r.code()]++
		switch r.code() {
		case 15:
			if _, err := limitedCount([]reply{r}); err != nil {
				return codes, err
			}
		case 105:
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); r.status != http.StatusBadRequest || err != nil || s < 1 {
				return codes, fmt.Errorf("105 answered %d with Retry-After %q, want 400 and a number of seconds", r.status, r.header.Get("Retry-After"))
			}
		}
	}
	return codes, nil
}

// parallel runs n calls of f at once and collects the answers.
func parallel(n int, f func(i int) (reply, error)) ([]reply, error) {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		replies []reply
		failed  error
	)
	for i := range n {
		wg.Go(func() {
			r, err := f(i)
			mu.Lock()
			defer mu.Unlock()
			replies = append(replies, r)
			if err != nil {
				failed = err
			}
		})
	}
	wg.Wait()
	return replies, failed
}

// TestSignInBurst: 60 wrong passwords at once for one login from one
// address get at most ten password checks, the throttle's burst, however
// they are scheduled; the right password from that address is then refused
// too, without a check, and the real user on another address signs in.
func TestSignInBurst(t *testing.T) {
	ctx := t.Context()
	p := serve(t, sqliteStack(t))
	attacker, user := clientAt(p.API, "127.0.0.20"), clientAt(p.API, "127.0.0.21")
	before, err := passwordChecks(ctx, user, p.Base)
	if err != nil {
		t.Fatal(err)
	}
	replies, err := parallel(60, func(i int) (reply, error) {
		return signInFrom(ctx, attacker, "admin", "guess-"+strconv.Itoa(i), "")
	})
	if err != nil {
		t.Fatal(err)
	}
	codes, err := signInCodes(replies)
	if err != nil {
		t.Fatal(err)
	}
	after, err := passwordChecks(ctx, user, p.Base)
	if err != nil {
		t.Fatal(err)
	}
	checked := after - before
	if checked > 10 || codes[102] != checked || codes[102]+codes[105] != 60 {
		t.Errorf("60 parallel wrong sign-ins: %d password checks, codes %v; want at most 10 checks, a 102 for each and 105 for the rest", checked, codes)
	}
	r, err := signInFrom(ctx, attacker, "admin", adminPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.code() != 105 || r.status != http.StatusBadRequest {
		t.Errorf("the right password from the throttled address = %s, want 105 (400)", r)
	}
	if n, err := passwordChecks(ctx, user, p.Base); err != nil || n != after {
		t.Errorf("the throttled right password: checks %d → %d (%v), want none", after, n, err)
	}
	if err := user.signIn(ctx); err != nil {
		t.Errorf("the real user from another address: %v", err)
	}
	t.Logf("60 parallel wrong sign-ins: %d password checks, codes %v", checked, codes)
}

// TestSignInBehindProxy: behind --trusted-proxies the client address is the
// one the proxy forwards, so a stranger's wrong passwords throttle only the
// stranger; without the flag X-Forwarded-For is not believed, so a forged
// one does not escape the throttle.
func TestSignInBehindProxy(t *testing.T) {
	ctx := t.Context()
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		p := serve(t, sqliteStack(t), "--trusted-proxies", "127.0.0.1")
		proxy := clientAt(p.API, "127.0.0.1")
		var replies []reply
		for i := range 12 {
			r, err := signInFrom(ctx, proxy, "nobody", "guess-"+strconv.Itoa(i), "198.51.100.1")
			if err != nil {
				t.Fatal(err)
			}
			replies = append(replies, r)
		}
		codes, err := signInCodes(replies)
		if err != nil || codes[102] != 10 || codes[105] != 2 {
			t.Errorf("12 wrong passwords of one forwarded client: codes %v (%v), want ten 102 then 105s", codes, err)
		}
		r, err := signInFrom(ctx, proxy, "admin", adminPassword, "198.51.100.2")
		if err != nil || r.code() != 0 {
			t.Errorf("another forwarded client signing in = %v %v, want a session", r, err)
		}
		// The proxy appends the address it saw: a client's own entry to the
		// left is not believed.
		r, err = signInFrom(ctx, proxy, "admin", adminPassword, "203.0.113.50, 198.51.100.1")
		if err != nil || r.code() != 105 {
			t.Errorf("the throttled client with a forged entry before its own = %v %v, want 105", r, err)
		}
		// Request lines are written in batches: give them a moment.
		want := "remote=198.51.100.1 peer=127.0.0.1"
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Stderr(), want) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if log := p.Stderr(); !strings.Contains(log, want) {
			t.Errorf("the request log does not give the forwarded client and the proxy (%s):\n%s", want, log)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		p := serve(t, sqliteStack(t))
		attacker := clientAt(p.API, "127.0.0.22")
		var replies []reply
		for i := range 12 {
			r, err := signInFrom(ctx, attacker, "nobody", "guess", fmt.Sprintf("198.51.100.%d", i+1))
			if err != nil {
				t.Fatal(err)
			}
			replies = append(replies, r)
		}
		codes, err := signInCodes(replies)
		if err != nil || codes[102] != 10 || codes[105] != 2 {
			t.Errorf("12 wrong passwords with a new forged X-Forwarded-For each: codes %v (%v), want ten 102 then 105s", codes, err)
		}
		for deadline := time.Now().Add(5 * time.Second); strings.Count(p.Stderr(), "remote=127.0.0.22") < 12 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if log := p.Stderr(); strings.Count(log, "remote=127.0.0.22") < 12 || strings.Contains(log, "198.51.100.") {
			t.Errorf("the request log should give the peer as the client of all 12, never the forged X-Forwarded-For:\n%s", log)
		}
	})
}

// TestSignInFlood: 3 addresses × 100 wrong sign-ins at once, each for
// another login, keep the server's memory modest (each password hash holds
// 19 MiB, and only a few run at once) and /healthz answering within a
// second throughout.
func TestSignInFlood(t *testing.T) {
	ctx := t.Context()
	p := servePlain(t, sqliteStack(t))
	hwm0, err := p.VM("VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	probe := newClient(p.API)
	stopHealth := healthWatch(p.Base)
	start := time.Now()
	var replies []reply
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for _, ip := range []string{"127.0.0.30", "127.0.0.31", "127.0.0.32"} {
		c := clientAt(p.API, ip)
		wg.Go(func() {
			rs, err := parallel(100, func(i int) (reply, error) {
				return signInFrom(ctx, c, fmt.Sprintf("nobody-%s-%d", ip, i), "guess", "")
			})
			mu.Lock()
			defer mu.Unlock()
			replies = append(replies, rs...)
			if err != nil {
				failed = err
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	slowest, healthErr := stopHealth()
	if failed != nil {
		t.Fatal(failed)
	}
	codes, err := signInCodes(replies)
	if err != nil {
		t.Fatal(err)
	}
	hwm, err := p.VM("VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	checks, err := passwordChecks(ctx, probe, p.Base)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3×100 parallel wrong sign-ins in %v: codes %v, %d password checks; peak memory %d → %d MiB; slowest /healthz %v",
		took.Round(time.Millisecond), codes, checks, hwm0>>10, hwm>>10, slowest.Round(time.Millisecond))
	if healthErr != nil {
		t.Errorf("during the flood: %v", healthErr)
	}
	if codes[102] != 30 || codes[105]+codes[15] != 270 || checks != 30 {
		t.Errorf("3×100 wrong sign-ins: codes %v, %d checks; want ten 102 an address, 105 (or the rate limit's 15) for the rest, a check for each 102", codes, checks)
	}
	if err := checkPeak("sign-in flood", hwm); err != nil {
		t.Error(err)
	}
}
