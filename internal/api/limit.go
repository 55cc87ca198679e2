package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"roster/internal/roster"
)

// limiter is a set of token buckets, one per key (an IP, a user, a login):
// each holds up to burst tokens and refills at rate tokens a second. The
// state is per node: with N nodes behind a balancer a client gets up to N
// times the rate, which keeps a database write off every request.
type limiter struct {
	rate, burst float64
	// now is the clock, read under mu so that a bucket's time only moves
	// forward however the callers are scheduled.
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, now: time.Now, buckets: map[string]*bucket{}}
}

// take spends n tokens of key's bucket if it holds them. When it does not,
// it spends nothing and reports how long until it will.
func (l *limiter) take(key string, n float64) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b := l.fill(key, now)
	if b.tokens >= n {
		b.tokens -= n
		return true, 0
	}
	return false, time.Duration((n - b.tokens) / l.rate * float64(time.Second))
}

// give returns n tokens taken from key's bucket, up to its burst: work that
// took them first and then did not count against the limit.
func (l *limiter) give(key string, n float64) {
	if l == nil || l.rate <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fill(key, l.now())
	b.tokens = min(l.burst, b.tokens+n)
}

// fill refills key's bucket up to now. A now before the bucket's last
// update (a clock stepped back) adds nothing and leaves its time alone.
func (l *limiter) fill(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
		return b
	}
	if now.After(b.last) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
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

// clientAddr is the address of the client that made the request: the peer,
// or behind a trusted proxy the address the proxy saw (see forwardedFor).
// Rate limits, the sign-in throttle and the request log all key on it.
func (s *Server) clientAddr(r *http.Request) string {
	if info := infoOf(r); info.client != "" {
		return info.client
	}
	return clientOf(r, s.opts.TrustedProxies)
}

// clientKey is what per-client limits key on: the client's address, and
// for IPv6 its /64, since one host is commonly given a whole /64 and could
// otherwise take a new address for every try.
func (s *Server) clientKey(r *http.Request) string {
	a := s.clientAddr(r)
	ip, err := netip.ParseAddr(a)
	switch {
	case err != nil:
		return a
	case ip.Is4In6():
		return ip.Unmap().String()
	case ip.Is6():
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return a
}

// peerAddr is the host part of the connection's remote address.
func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientOf finds the client address of r, trusting X-Forwarded-For only
// from a peer inside trusted.
func clientOf(r *http.Request, trusted []netip.Prefix) string {
	peer := peerAddr(r)
	if len(trusted) == 0 {
		return peer
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(addr, trusted) {
		return peer
	}
	return forwardedFor(addr, r.Header.Values("X-Forwarded-For"), trusted).String()
}

// forwardedFor walks the X-Forwarded-For entries (every header, in order,
// joined) from the right, starting at the trusted peer: each trusted hop
// vouches for the entry left of it, so the client is the right-most entry
// that is not itself a trusted proxy. A malformed entry ends the walk at
// the last address vouched for, which is never one the client chose
// freely, so a forged or broken header cannot escape the throttle. When
// every entry is trusted, the left-most is the client.
func forwardedFor(peer netip.Addr, headers []string, trusted []netip.Prefix) netip.Addr {
	entries := strings.Split(strings.Join(headers, ","), ",")
	client := peer
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseForwarded(strings.TrimSpace(entries[i]))
		if !ok {
			break
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client
}

// parseForwarded reads one X-Forwarded-For entry: an address, or an
// address and port as some proxies write it (1.2.3.4:5678, [::1]:5678).
func parseForwarded(e string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(e); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(e); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// limits are the server's rate limiters, and the bound on password hashing.
type limits struct {
	perIP, perUser *limiter
	// Sign-in attempts, per client address and per login: an attempt
	// spends a token of each before its password is checked and gets both
	// back if the password was right, so with none left user/auth answers
	// 15 without hashing, and a burst of parallel guesses gets exactly as
	// many checks as the buckets hold.
	authIP, authLogin *limiter
	// loginTaken is charged, per account, each time subuser/register or
	// subuser/update is refused because a login is in use (206), anywhere:
	// logins are global, so each 206 tells a master that a login exists in
	// some account, and this makes such probing crawl.
	loginTaken *limiter
	// hashers are the password hashes that may run at once. Each argon2id
	// hash holds roster.PasswordHashBytes; without a bound, a burst of
	// sign-ins holds that many times the burst.
	hashers chan struct{}
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
		// Ten taken logins, then one a minute: a master mistyping a login
		// now and then never notices; a master listing who uses Roster
		// learns sixty logins an hour.
		loginTaken: newLimiter(1.0/60, 10),
		hashers:    make(chan struct{}, runtime.NumCPU()),
	}
}

func loginKey(login string) string { return strings.ToLower(login) }

// passwordCost is the memory one password hash reserves from the budget:
// argon2id's own plus a little for the rest of the call.
const passwordCost = roster.PasswordHashBytes + 1<<20

// hashing waits, up to admitWait, for the memory of one password hash and
// one of the hashers, and returns the function that gives both back. It is
// refused with 15 when the wait runs out. Every caller then computes
// exactly one hash, counted in roster_password_checks_total.
func (s *Server) hashing(ctx context.Context) (func(), error) {
	wctx, cancel := context.WithTimeout(ctx, admitWait)
	defer cancel()
	// A slot first, then the memory: checks waiting for a slot must not
	// hold memory that image work could use meanwhile.
	select {
	case s.limits.hashers <- struct{}{}:
	case <-wctx.Done():
		return nil, s.admitError(ctx, wctx.Err())
	}
	freeMem, err := s.budget.reserve(wctx, passwordCost)
	if err != nil {
		<-s.limits.hashers
		return nil, s.admitError(ctx, err)
	}
	s.metrics.passwordChecks.Inc()
	return func() { <-s.limits.hashers; freeMem() }, nil
}

// checkPassword is roster.CheckPassword within the bound on hashing. An
// empty hash (no such user) costs the same as a real one.
func (s *Server) checkPassword(ctx context.Context, hash, password string) (bool, error) {
	done, err := s.hashing(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	return roster.CheckPassword(hash, password), nil
}

// hashPassword is roster.HashPassword within the bound on hashing.
func (s *Server) hashPassword(ctx context.Context, password string) (string, error) {
	done, err := s.hashing(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	hash, err := roster.HashPassword(password)
	if err != nil {
		return "", fail(codeUnexpected, err)
	}
	return hash, nil
}
