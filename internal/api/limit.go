package api

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// limiter is a set of token buckets, one per key (an IP, a user, a login):
// each holds up to burst tokens and refills at rate tokens a second. The
// state is per node: with N nodes behind a balancer a client gets up to N
// times the rate, which keeps a database write off every request.
type limiter struct {
	rate, burst float64
	mu          sync.Mutex
	buckets     map[string]*bucket
	swept       time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, buckets: map[string]*bucket{}}
}

// take spends n tokens of key's bucket if it holds them. When it does not,
// it reports how long until it will.
func (l *limiter) take(key string, n float64, now time.Time) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.fill(key, now)
	if b.tokens >= n {
		b.tokens -= n
		return true, 0
	}
	return false, time.Duration((n - b.tokens) / l.rate * float64(time.Second))
}

// has reports whether key's bucket holds n tokens, without spending them.
func (l *limiter) has(key string, n float64, now time.Time) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fill(key, now)
	if b.tokens >= n {
		return true, 0
	}
	return false, time.Duration((n - b.tokens) / l.rate * float64(time.Second))
}

func (l *limiter) fill(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
		return b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	return b
}

// sweep forgets buckets that have refilled completely, at most once a
// minute, so the map holds only keys seen recently.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, k)
		}
	}
}

// clientIP is the address the request came from.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limits are the server's rate limiters.
type limits struct {
	perIP, perUser *limiter
	// Failed sign-ins, per client address and per login: each failure
	// spends a token, and with none left user/auth answers 15 before looking
	// at the password.
	authIP, authLogin *limiter
}

func newLimits(o Options) *limits {
	burst := 2 * o.RateLimit
	return &limits{
		perIP:   newLimiter(o.RateLimit, burst),
		perUser: newLimiter(o.RateLimit, burst),
		// Ten failures from one address, then one a minute: online guessing
		// from an address crawls, and the address is free again ten minutes
		// after it stops.
		authIP: newLimiter(1.0/60, 10),
		// A login attacked from many addresses at once: a hundred failures,
		// refilling over fifteen minutes. One attacking address is stopped
		// by its own bucket long before this, so it cannot lock the real
		// user (on another address) out.
		authLogin: newLimiter(100.0/(15*60), 100),
	}
}

func loginKey(login string) string { return strings.ToLower(login) }
