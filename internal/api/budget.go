package api

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

// budget is the memory the server lets expensive work hold at once, in
// bytes: a password check, an image decode, a rendition, an upload's body.
// Work reserves its estimated bytes before it starts and gives them back
// when it is done. Unlike a count of workers, it is weighted: one 200 MB
// decode holds as much as a hundred small ones.
//
// A reservation that fits is granted at once, even past others that wait
// for more than is free (a large decode waiting does not hold up a small
// one); waiters are granted in arrival order as memory comes back.
type budget struct {
	size int64

	mu      sync.Mutex
	used    int64
	waiters []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once granted
}

func newBudget(size int64) *budget { return &budget{size: size} }

// errOverBudget means a reservation can never be granted: it is larger than
// the whole budget.
type errOverBudget struct{ need, size int64 }

func (e *errOverBudget) Error() string {
	return fmt.Sprintf("needs %s of memory to process; this server gives one piece of work at most %s", mib(e.need), mib(e.size))
}

// mib writes a byte count in MiB for people, rounded up.
func mib(n int64) string { return fmt.Sprintf("%d MiB", (n+1<<20-1)>>20) }

// reserve takes n bytes of the budget, waiting until ctx is done for them.
// It returns the function that gives them back (call it once). An n over
// the whole budget fails at once with *errOverBudget; a ctx that ends first
// gives ctx's error.
func (b *budget) reserve(ctx context.Context, n int64) (func(), error) {
	if n <= 0 {
		return func() {}, nil
	}
	if n > b.size {
		return nil, &errOverBudget{need: n, size: b.size}
	}
	b.mu.Lock()
	if b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return b.releaser(n), nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return b.releaser(n), nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready:
		// Granted while giving up: give it back.
		b.used -= n
		b.grant()
	default:
		b.waiters = slices.DeleteFunc(b.waiters, func(o *budgetWaiter) bool { return o == w })
	}
	return nil, ctx.Err()
}

func (b *budget) releaser(n int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.used -= n
			b.grant()
			b.mu.Unlock()
		})
	}
}

// grant hands free memory to the waiters that fit, oldest first. b.mu is
// held.
func (b *budget) grant() {
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if b.used+w.n <= b.size {
			b.used += w.n
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
}

// inUse reports the bytes reserved now, for the metrics.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// pool is the decode workers, shared fairly between accounts: when a worker
// comes free and several accounts wait, the one running the fewest jobs
// goes next (the earliest waiter among equals), so one account looping
// expensive uploads cannot keep another's small one waiting for more than
// one job.
type pool struct {
	mu      sync.Mutex
	free    int
	running map[int64]int
	queue   []*poolWaiter
}

type poolWaiter struct {
	account int64
	ready   chan struct{}
}

func newPool(workers int) *pool {
	return &pool{free: workers, running: map[int64]int{}}
}

// acquire waits for a worker for account until ctx is done, and returns the
// function that frees it (call it once).
func (p *pool) acquire(ctx context.Context, account int64) (func(), error) {
	p.mu.Lock()
	if p.free > 0 && len(p.queue) == 0 {
		p.free--
		p.running[account]++
		p.mu.Unlock()
		return p.releaser(account), nil
	}
	w := &poolWaiter{account: account, ready: make(chan struct{})}
	p.queue = append(p.queue, w)
	p.dispatch()
	p.mu.Unlock()
	select {
	case <-w.ready:
		return p.releaser(account), nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-w.ready:
		p.done(account)
	default:
		p.queue = slices.DeleteFunc(p.queue, func(o *poolWaiter) bool { return o == w })
	}
	return nil, ctx.Err()
}

func (p *pool) releaser(account int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.done(account)
			p.mu.Unlock()
		})
	}
}

// done frees account's worker and hands it on. p.mu is held.
func (p *pool) done(account int64) {
	p.free++
	if p.running[account]--; p.running[account] <= 0 {
		delete(p.running, account)
	}
	p.dispatch()
}

// dispatch gives free workers to waiters: each time to the first waiter of
// the account that runs the fewest jobs. p.mu is held.
func (p *pool) dispatch() {
	for p.free > 0 && len(p.queue) > 0 {
		best := 0
		for i, w := range p.queue {
			if p.running[w.account] < p.running[p.queue[best].account] {
				best = i
			}
		}
		w := p.queue[best]
		p.queue = slices.Delete(p.queue, best, best+1)
		p.free--
		p.running[w.account]++
		close(w.ready)
	}
}

// admitWait is how long work waits for memory and a worker before it is
// refused with 15: long enough for a burst of uploads to take turns on the
// workers, short enough that a client is not left hanging.
const admitWait = 10 * time.Second

// admit takes one of account's entries, need bytes of the memory budget
// and a decode worker of account's fair share, waiting up to admitWait in
// all, and returns the function that gives them back. Work that can never fit fails with *errOverBudget
// (the caller says why in its own terms); work that cannot be admitted in
// time is refused with 15; a client that goes away ends the wait.
func (s *Server) admit(ctx context.Context, account, need int64) (func(), error) {
	if need > s.budget.size {
		return nil, &errOverBudget{need: need, size: s.budget.size}
	}
	wctx, cancel := context.WithTimeout(ctx, admitWait)
	defer cancel()
	// An account has at most as many jobs holding memory as there are
	// workers, so one account queueing many cannot take the budget from
	// the others; within that, memory first and then the worker, so a job
	// waiting for memory holds no worker another account could use.
	leave, err := s.entries.acquire(wctx, strconv.FormatInt(account, 10), 1)
	if err != nil {
		return nil, s.admitError(ctx, err)
	}
	freeMem, err := s.budget.reserve(wctx, need)
	if err != nil {
		leave()
		return nil, s.admitError(ctx, err)
	}
	freeWorker, err := s.pool.acquire(wctx, account)
	if err != nil {
		freeMem()
		leave()
		return nil, s.admitError(ctx, err)
	}
	return func() {
		freeWorker()
		if need >= collectAfter {
			// The work's buffers are garbage now: collect them before the
			// next large piece of work allocates its own, so that the
			// process holds one generation of them, not two.
			runtime.GC()
		}
		freeMem()
		leave()
	}, nil
}

// collectAfter is the reservation from which finished work is collected at
// once rather than at the runtime's next cycle.
const collectAfter = 32 << 20

// admitError turns a failed wait into its answer: the client's own
// cancellation stays a cancellation, a wait that ran out is a 15.
func (s *Server) admitError(ctx context.Context, err error) error {
	var over *errOverBudget
	switch {
	case errors.As(err, &over):
		return err
	case ctx.Err() != nil:
		return fail(codeUnexpected, ctx.Err())
	}
	s.metrics.busy.Inc()
	return rateLimited(time.Second)
}

// quota bounds what keys (client addresses, accounts) hold at once: at
// most total in all, and at most perKey for one key — a count of slots
// when each takes 1, bytes when each takes its size. A key that holds
// nothing may take more than perKey, so that one piece of work is never
// refused for its size alone (the budget bounds that).
type quota struct {
	total, perKey int64

	mu      sync.Mutex
	used    int64
	byKey   map[string]int64
	changed chan struct{} // closed and replaced whenever something is given back
}

func newQuota(total, perKey int64) *quota {
	return &quota{total: total, perKey: perKey, byKey: map[string]int64{}, changed: make(chan struct{})}
}

// acquire waits until key may take n more, or ctx is done, and returns the
// function that gives them back (call it once).
func (q *quota) acquire(ctx context.Context, key string, n int64) (func(), error) {
	for {
		q.mu.Lock()
		if held := q.byKey[key]; q.used+n <= q.total && (held+n <= q.perKey || held == 0) {
			q.used += n
			q.byKey[key] = held + n
			q.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { q.give(key, n) }) }, nil
		}
		changed := q.changed
		q.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (q *quota) give(key string, n int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.used -= n
	if q.byKey[key] -= n; q.byKey[key] <= 0 {
		delete(q.byKey, key)
	}
	close(q.changed)
	q.changed = make(chan struct{})
}
