package fire

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// clientAt is a client whose connections come from a given loopback
// address, to act as another machine.
func clientAt(api, ip string) *client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := newClient(api)
	c.http.Transport = &http.Transport{DialContext: d.DialContext}
	return c
}

// limitedCount counts the answers that were rate limits (15, HTTP 429,
// with a whole-second Retry-After) and reports anything else that failed.
func limitedCount(replies []reply) (int, error) {
	n := 0
	for _, r := range replies {
		switch {
		case r.code() == 0:
		case r.code() == 15 && r.status == http.StatusTooManyRequests:
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
				return n, fmt.Errorf("429 with Retry-After %q", r.header.Get("Retry-After"))
			}
			n++
		default:
			return n, fmt.Errorf("unexpected answer %s", r)
		}
	}
	return n, nil
}

// TestPerUserRateLimit: one user calling from two addresses, each under
// its address's limit, is limited as a user; another user on a third
// address is not.
func TestPerUserRateLimit(t *testing.T) {
	ctx := t.Context()
	st := sqliteStack(t)
	p := serve(t, st, "--rate-limit", "5") // bursts of 10
	admin := clientAt(p.API, "127.0.0.1")
	if err := admin.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	admin.must(t, "subuser/register", map[string]any{"user": map[string]any{"login": "other@example.com", "activated": true}, "password": "Other-pass1"})
	other := clientAt(p.API, "127.0.0.7")
	r, err := other.call(ctx, "user/auth", map[string]any{"login": "other@example.com", "password": "Other-pass1"})
	if err != nil || r.code() != 0 {
		t.Fatalf("sub-user sign-in = %v %v", r, err)
	}
	other.hash = r.body["hash"].(string)

	// Ten calls at once from each of two addresses: each address within
	// its burst of ten, the user twice over its own. At once, so that the
	// buckets do not refill meanwhile however slow the machine.
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		replies []reply
		failed  error
	)
	for _, ip := range []string{"127.0.0.5", "127.0.0.6"} {
		c := clientAt(p.API, ip)
		c.hash = admin.hash
		for range 10 {
			wg.Go(func() {
				r, err := c.call(ctx, "employee/list", map[string]any{})
				mu.Lock()
				defer mu.Unlock()
				replies = append(replies, r)
				if err != nil {
					failed = err
				}
			})
		}
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	limited, err := limitedCount(replies)
	if err != nil {
		t.Fatal(err)
	}
	if limited == 0 {
		t.Errorf("20 calls of one user from two addresses at --rate-limit 5 were never limited")
	}
	var others []reply
	for range 5 {
		r, err := other.call(ctx, "employee/list", map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, r)
	}
	if n, err := limitedCount(others); err != nil || n > 0 {
		t.Errorf("another user on another address: %d limited, %v; want none", n, err)
	}
	// After the Retry-After wait the user is served again.
	time.Sleep(1100 * time.Millisecond)
	c := clientAt(p.API, "127.0.0.8")
	c.hash = admin.hash
	if r, err := c.call(context.Background(), "employee/list", map[string]any{}); err != nil || r.code() != 0 {
		t.Errorf("after waiting a second: %v %v", r, err)
	}
	t.Logf("rate limits: %d of 20 calls of one user from two addresses limited, 0 of 5 of another user", limited)
}

// TestLimitCheckerCatches: limitedCount reports a 429 without Retry-After
// and an answer that is neither success nor a rate limit.
func TestLimitCheckerCatches(t *testing.T) {
	ok := reply{status: 200, body: map[string]any{"success": true}}
	limited := reply{status: 429, header: http.Header{"Retry-After": {"1"}}, body: map[string]any{"status": map[string]any{"code": 15.0}}}
	if n, err := limitedCount([]reply{ok, limited, limited}); n != 2 || err != nil {
		t.Fatalf("limitedCount = %d, %v; want 2, nil", n, err)
	}
	noRetry := limited
	noRetry.header = http.Header{}
	if _, err := limitedCount([]reply{noRetry}); err == nil {
		t.Errorf("limitedCount of a 429 without Retry-After = nil, want an error")
	}
	broken := reply{status: 500, body: map[string]any{"status": map[string]any{"code": 6.0}}}
	if _, err := limitedCount([]reply{ok, broken}); err == nil {
		t.Errorf("limitedCount of a 500 = nil, want an error")
	}
}
