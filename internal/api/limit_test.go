package api

import (
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimiterClock: a clock read older than the bucket's last update (a
// caller passing a time read before others updated it) neither drains nor
// refills the bucket, and does not move its time back.
func TestLimiterClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(1.0/60, 10)
	now := t0
	l.now = func() time.Time { return now }
	for _, tc := range []struct {
		name string
		at   time.Time
		n    float64
		want bool
	}{
		{"first", t0, 1, true},
		{"clock ten minutes back", t0.Add(-10 * time.Minute), 1, true},
		{"the other eight", t0, 8, true},
		{"empty", t0, 1, false},
		{"clock 30 s back", t0.Add(-30 * time.Second), 1, false},
		{"59 s later", t0.Add(59 * time.Second), 1, false},
		{"a minute later", t0.Add(time.Minute), 1, true},
		{"right after", t0.Add(time.Minute), 1, false},
	} {
		now = tc.at
		if got, _ := l.take("a", tc.n); got != tc.want {
			t.Errorf("%s: take(a, %v) at %s = %v, want %v", tc.name, tc.n, tc.at.Format(time.TimeOnly), got, tc.want)
		}
	}
}

// TestLimiterGive: a refund returns tokens, never beyond the burst, and a
// refused take spends nothing.
func TestLimiterGive(t *testing.T) {
	l := newLimiter(1.0/60, 3)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	took := 0
	for range 5 {
		if ok, _ := l.take("a", 1); ok {
			took++
		}
	}
	l.give("a", 1)
	l.give("a", 5) // more than was taken
	after := 0
	for range 5 {
		if ok, _ := l.take("a", 1); ok {
			after++
		}
	}
	if took != 3 || after != 3 {
		t.Errorf("takes from a bucket of 3: %d, then after refunds %d; want 3 and 3", took, after)
	}
	if ok, wait := l.take("a", 1); ok || wait != time.Minute {
		t.Errorf("take(a) of an empty bucket = %v, %v; want false, 1m0s", ok, wait)
	}
}

// TestLimiterConcurrent: however many take at once, a bucket of ten gives
// exactly ten tokens.
func TestLimiterConcurrent(t *testing.T) {
	l := newLimiter(1.0/60, 10)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if ok, _ := l.take("a", 1); ok {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := granted.Load(); n != 10 {
		t.Errorf("200 takes at once from a bucket of 10 granted %d, want 10", n)
	}
}

// TestClientOf: X-Forwarded-For counts only from a trusted peer, and then
// its right-most entry that is not itself trusted is the client.
func TestClientOf(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies trusted", nil, "10.1.1.1:5000", []string{"203.0.113.9"}, "10.1.1.1"},
		{"untrusted peer", proxies, "198.51.100.7:5000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted peer, no header", proxies, "10.1.1.1:5000", nil, "10.1.1.1"},
		{"one hop", proxies, "10.1.1.1:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"forged left of the real client", proxies, "10.1.1.1:5000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted hops", proxies, "10.1.1.1:5000", []string{"203.0.113.9, 10.2.2.2"}, "203.0.113.9"},
		{"headers joined in order", proxies, "10.1.1.1:5000", []string{"1.2.3.4", "203.0.113.9, 10.2.2.2"}, "203.0.113.9"},
		{"entry with a port", proxies, "10.1.1.1:5000", []string{"203.0.113.9:4711"}, "203.0.113.9"},
		{"IPv6", proxies, "[fd00::1]:5000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"IPv6 with a port", proxies, "[fd00::1]:5000", []string{"[2001:db8::5]:80"}, "2001:db8::5"},
		{"IPv4 in IPv6", proxies, "[::ffff:10.1.1.1]:5000", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"malformed right-most: the peer", proxies, "10.1.1.1:5000", []string{"203.0.113.9, bogus"}, "10.1.1.1"},
		{"malformed behind a hop: the hop", proxies, "10.1.1.1:5000", []string{"bogus, 10.2.2.2"}, "10.2.2.2"},
		{"empty entry", proxies, "10.1.1.1:5000", []string{"203.0.113.9,"}, "10.1.1.1"},
		{"every entry trusted", proxies, "10.1.1.1:5000", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"a peer without a port", proxies, "10.1.1.1", []string{"203.0.113.9"}, "203.0.113.9"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientOf(r, tc.trusted); got != tc.want {
			t.Errorf("%s: clientOf(%s, X-Forwarded-For %q) = %s, want %s", tc.name, tc.peer, tc.xff, got, tc.want)
		}
	}
}
