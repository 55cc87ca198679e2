package api

import (
	"context"
	"errors"
	"math"
	"net/http/httptest"
	"testing"
	"time"
)

// within runs f and reports whether it returned within d.
func within[T any](d time.Duration, f func() T) (T, bool) {
	c := make(chan T, 1)
	go func() { c <- f() }()
	select {
	case v := <-c:
		return v, true
	case <-time.After(d):
		var zero T
		return zero, false
	}
}

func TestBudget(t *testing.T) {
	ctx := t.Context()
	b := newBudget(100)
	if _, err := b.reserve(ctx, 101); !errors.As(err, new(*errOverBudget)) {
		t.Fatalf("reserve(101) of 100 = %v, want *errOverBudget", err)
	}
	free60, err := b.reserve(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	// 50 does not fit now: it waits, and gives up when its context ends.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.reserve(short, 50); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reserve(50) with 40 free = %v, want the deadline", err)
	}
	// A large waiter does not hold up a small one that fits.
	bigDone := make(chan func(), 1)
	go func() {
		f, err := b.reserve(ctx, 90)
		if err != nil {
			t.Error(err)
		}
		bigDone <- f
	}()
	time.Sleep(10 * time.Millisecond)
	small, ok := within(time.Second, func() func() {
		f, _ := b.reserve(ctx, 30)
		return f
	})
	if !ok || small == nil {
		t.Fatal("reserve(30) with 40 free waited behind a waiter for 90")
	}
	if got := b.inUse(); got != 90 {
		t.Errorf("inUse = %d, want 90", got)
	}
	free60()
	free60() // a second call gives nothing back twice
	select {
	case <-bigDone:
		t.Fatal("reserve(90) granted while 30 of 100 are held")
	case <-time.After(20 * time.Millisecond):
	}
	small()
	select {
	case f := <-bigDone:
		f()
	case <-time.After(time.Second):
		t.Fatal("reserve(90) not granted once the budget was free")
	}
	if got := b.inUse(); got != 0 {
		t.Errorf("inUse after every release = %d, want 0", got)
	}
}

// TestPoolFair: an account running both workers does not get the next
// free one while another account waits.
func TestPoolFair(t *testing.T) {
	ctx := t.Context()
	p := newPool(2)
	a1, _ := p.acquire(ctx, 1)
	a2, _ := p.acquire(ctx, 1)
	order := make(chan int64, 2)
	wait := func(account int64) {
		f, err := p.acquire(ctx, account)
		if err != nil {
			t.Error(err)
			return
		}
		order <- account
		f()
	}
	go wait(1) // account 1 asks first for a third job…
	time.Sleep(10 * time.Millisecond)
	go wait(2) // …then account 2 for its first
	time.Sleep(10 * time.Millisecond)
	a1()
	first := <-order
	a2()
	<-order
	if first != 2 {
		t.Errorf("first freed worker went to account %d, want 2 (running none)", first)
	}
	// Giving up leaves the pool whole.
	b1, _ := p.acquire(ctx, 3)
	b2, _ := p.acquire(ctx, 3)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := p.acquire(short, 4); err == nil {
		t.Fatal("acquire with no free worker succeeded")
	}
	b1()
	b2()
	if _, ok := within(time.Second, func() error { f, err := p.acquire(ctx, 5); f(); return err }); !ok {
		t.Fatal("a worker was lost by a waiter that gave up")
	}
}

func TestQuotaCount(t *testing.T) {
	ctx := t.Context()
	s := newQuota(2, 1)
	a, err := s.acquire(ctx, "10.0.0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := s.acquire(short, "10.0.0.1", 1); err == nil {
		t.Fatal("a second slot for one key was granted")
	}
	b, err := s.acquire(ctx, "10.0.0.2", 1)
	if err != nil {
		t.Fatal(err)
	}
	short2, cancel2 := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel2()
	if _, err := s.acquire(short2, "10.0.0.3", 1); err == nil {
		t.Fatal("a third slot of two was granted")
	}
	got := make(chan error, 1)
	go func() { f, err := s.acquire(ctx, "10.0.0.1", 1); got <- err; f() }()
	a()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("a freed slot was not handed to its waiter")
	}
	b()
}

func TestQuotaBytes(t *testing.T) {
	ctx := t.Context()
	s := newQuota(math.MaxInt64, 10)
	give, err := s.acquire(ctx, "a", 6)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := s.acquire(short, "a", 5); err == nil {
		t.Fatal("acquire(a, 5) with 6 of 10 held granted")
	}
	if _, err := s.acquire(ctx, "b", 10); err != nil {
		t.Fatal("another key's acquire(b, 10) refused")
	}
	got := make(chan error, 1)
	go func() { _, err := s.acquire(ctx, "a", 10); got <- err }()
	give()
	give() // gives back once
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("acquire(a, 10) not granted once a gave back")
	}
	// A key holding nothing may take more than the limit: one body is
	// never refused for its own size here (the budget bounds it).
	if _, err := s.acquire(ctx, "c", 20); err != nil {
		t.Fatal(err)
	}
}

func TestClientKey(t *testing.T) {
	s := &Server{}
	for _, c := range []struct{ remote, want string }{
		{"192.0.2.7:1234", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:80", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:80", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if got := s.clientKey(r); got != c.want {
			t.Errorf("clientKey(%s) = %q, want %q", c.remote, got, c.want)
		}
	}
}
