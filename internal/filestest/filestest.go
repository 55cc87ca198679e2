// Package filestest is the conformance suite of the roster.Files seam: every
// implementation runs the same tests, so the API can treat the disk and S3
// stores as one.
package filestest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/roster"
)

// Run runs the conformance suite. open must return a fresh, empty store
// each time it is called (it is called once per subtest, from parallel
// subtests); Run closes the stores it opens.
func Run(t *testing.T, open func(t *testing.T) roster.Files) {
	tests := []struct {
		name string
		test func(t *testing.T, f roster.Files)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"GetMissing", testGetMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"ListStops", testListStops},
		{"ListHidesUnfinished", testListHidesUnfinished},
		{"ValidNames", testValidNames},
		{"InvalidNames", testInvalidNames},
		{"ConcurrentOverwrite", testConcurrentOverwrite},
		{"Canceled", testCanceled},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := open(t)
			t.Cleanup(func() {
				if err := f.Close(); err != nil {
					t.Errorf("Close() = %v, want nil", err)
				}
			})
			tt.test(t, f)
		})
	}
}

// content returns n bytes that differ from those of any other seed, so a
// mix of two objects can never pass for either.
func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(b)
	return b
}

func put(t *testing.T, f roster.Files, name string, data []byte) {
	t.Helper()
	if err := f.Put(t.Context(), name, data); err != nil {
		t.Fatalf("Put(%q, %d bytes) = %v, want nil", name, len(data), err)
	}
}

// get reads the whole object and checks that its Size agrees with what
// was read.
func get(t *testing.T, f roster.Files, name string) []byte {
	t.Helper()
	o, err := f.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get(%q) = %v, want nil", name, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("Get(%q): ReadAll = %v, want nil", name, err)
	}
	if o.Size() != int64(len(b)) {
		t.Errorf("Get(%q).Size() = %d, want %d (the bytes read)", name, o.Size(), len(b))
	}
	return b
}

func list(t *testing.T, f roster.Files) map[string]time.Time {
	t.Helper()
	got := map[string]time.Time{}
	err := f.List(t.Context(), func(name string, modTime time.Time) error {
		if _, dup := got[name]; dup {
			t.Errorf("List: %q seen twice", name)
		}
		got[name] = modTime
		return nil
	})
	if err != nil {
		t.Fatalf("List() = %v, want nil", err)
	}
	return got
}

func names(m map[string]time.Time) []string {
	s := make([]string, 0, len(m))
	for name := range m {
		s = append(s, name)
	}
	slices.Sort(s)
	return s
}

// saneTime reports whether a store's time of storing is close to the
// test's clock. Object stores keep whole seconds, and a server's clock may
// be a little off.
func saneTime(got, before, after time.Time) bool {
	const slack = 5 * time.Second
	return !got.Before(before.Add(-slack)) && !got.After(after.Add(slack))
}

func testRoundTrip(t *testing.T, f roster.Files) {
	tests := []struct {
		name string
		size int
	}{
		{"empty.bin", 0},
		{"one.bin", 1},
		{"small.png", 1000},
		{"large.jpg", 3<<20 + 17},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := content(uint64(i), tt.size)
			before := time.Now()
			put(t, f, tt.name, data)
			after := time.Now()

			o, err := f.Get(t.Context(), tt.name)
			if err != nil {
				t.Fatalf("Get(%q) = %v, want nil", tt.name, err)
			}
			defer func() {
				if err := o.Close(); err != nil {
					t.Errorf("Get(%q).Close() = %v, want nil", tt.name, err)
				}
			}()
			if o.Size() != int64(tt.size) {
				t.Errorf("Get(%q).Size() = %d, want %d", tt.name, o.Size(), tt.size)
			}
			if mt := o.ModTime(); !saneTime(mt, before, after) {
				t.Errorf("Get(%q).ModTime() = %v, want between %v and %v", tt.name, mt, before, after)
			}
			b, err := io.ReadAll(o)
			if err != nil || !bytes.Equal(b, data) {
				t.Fatalf("Get(%q): ReadAll = %d bytes, %v, want the %d bytes put, nil", tt.name, len(b), err, tt.size)
			}

			// http.ServeContent finds the size by seeking to the end, then
			// serves a Range from its start.
			if n, err := o.Seek(0, io.SeekEnd); n != int64(tt.size) || err != nil {
				t.Errorf("Get(%q): Seek(0, SeekEnd) = %d, %v, want %d, nil", tt.name, n, err, tt.size)
			}
			mid := int64(tt.size / 2)
			if n, err := o.Seek(mid, io.SeekStart); n != mid || err != nil {
				t.Fatalf("Get(%q): Seek(%d, SeekStart) = %d, %v, want %d, nil", tt.name, mid, n, err, mid)
			}
			b, err = io.ReadAll(o)
			if err != nil || !bytes.Equal(b, data[mid:]) {
				t.Errorf("Get(%q): ReadAll after Seek(%d) = %d bytes, %v, want the last %d bytes put, nil",
					tt.name, mid, len(b), err, len(data[mid:]))
			}
			if n, err := o.Seek(0, io.SeekStart); n != 0 || err != nil {
				t.Fatalf("Get(%q): Seek(0, SeekStart) = %d, %v, want 0, nil", tt.name, n, err)
			}
			head := make([]byte, min(10, tt.size))
			if _, err := io.ReadFull(o, head); err != nil || !bytes.Equal(head, data[:len(head)]) {
				t.Errorf("Get(%q): ReadFull after Seek(0) = %x, %v, want %x, nil", tt.name, head, err, data[:len(head)])
			}
		})
	}
}

func testOverwrite(t *testing.T, f roster.Files) {
	old, replacement := content(1, 5000), content(2, 3000)
	put(t, f, "a.png", old)
	put(t, f, "a.png", replacement)
	if got := get(t, f, "a.png"); !bytes.Equal(got, replacement) {
		t.Errorf("Get(%q) after two Puts = %d bytes, want the %d bytes of the second", "a.png", len(got), len(replacement))
	}
	if got, want := names(list(t, f)), []string{"a.png"}; !slices.Equal(got, want) {
		t.Errorf("List() = %q, want %q", got, want)
	}
}

func testGetMissing(t *testing.T, f roster.Files) {
	o, err := f.Get(t.Context(), "missing.png")
	if !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			o.Close()
		}
		t.Errorf("Get(%q) = %v, want an error matching fs.ErrNotExist", "missing.png", err)
	}
}

func testDelete(t *testing.T, f roster.Files) {
	ctx := t.Context()
	if err := f.Delete(ctx, "missing.png"); err != nil {
		t.Errorf("Delete(%q) of a missing name = %v, want nil", "missing.png", err)
	}
	put(t, f, "a.png", content(1, 100))
	put(t, f, "b.png", content(2, 100))
	if err := f.Delete(ctx, "a.png"); err != nil {
		t.Fatalf("Delete(%q) = %v, want nil", "a.png", err)
	}
	if _, err := f.Get(ctx, "a.png"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get(%q) after Delete = %v, want an error matching fs.ErrNotExist", "a.png", err)
	}
	if err := f.Delete(ctx, "a.png"); err != nil {
		t.Errorf("Delete(%q) a second time = %v, want nil", "a.png", err)
	}
	if got, want := names(list(t, f)), []string{"b.png"}; !slices.Equal(got, want) {
		t.Errorf("List() after Delete = %q, want %q", got, want)
	}
}

func testList(t *testing.T, f roster.Files) {
	if got := list(t, f); len(got) != 0 {
		t.Errorf("List() of a new store = %q, want none", names(got))
	}
	want := []string{"0", "a.png", "b.jpg", "c-d_e.gif", strings.Repeat("f", 128)}
	before := time.Now()
	for i, name := range want {
		put(t, f, name, content(uint64(i), 10*i))
	}
	after := time.Now()
	got := list(t, f)
	if !slices.Equal(names(got), want) {
		t.Errorf("List() = %q, want %q", names(got), want)
	}
	for name, mt := range got {
		if !saneTime(mt, before, after) {
			t.Errorf("List() gave %q the time %v, want between %v and %v", name, mt, before, after)
		}
	}
}

func testListStops(t *testing.T, f roster.Files) {
	for _, name := range []string{"a", "b", "c"} {
		put(t, f, name, content(0, 1))
	}
	stop := errors.New("stop")
	calls := 0
	err := f.List(t.Context(), func(string, time.Time) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List(fn failing at once) = %v after %d calls, want %v after 1", err, calls, stop)
	}
}

// testListHidesUnfinished lists while Puts are in flight: whatever List
// shows must be whole, and refused Puts leave nothing behind.
func testListHidesUnfinished(t *testing.T, f roster.Files) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.Put(canceled, "canceled.png", content(0, 1000)); err == nil {
		t.Errorf("Put(%q, canceled context) = nil, want an error", "canceled.png")
	}
	if err := f.Put(t.Context(), "../escape.png", content(0, 1000)); err == nil {
		t.Errorf("Put(%q) = nil, want an error", "../escape.png")
	}

	const n = 8
	data := content(1, 256<<10)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := f.Put(t.Context(), fmt.Sprintf("p%d.bin", i), data); err != nil {
				t.Errorf("Put(%q) = %v, want nil", fmt.Sprintf("p%d.bin", i), err)
			}
		})
	}
	defer wg.Wait() // also when a check below ends the test early
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		for name := range list(t, f) {
			if got := get(t, f, name); !bytes.Equal(got, data) {
				t.Fatalf("List() showed %q while Puts ran, holding %d bytes, want all %d", name, len(got), len(data))
			}
		}
	}
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("p%d.bin", i)
	}
	if got := names(list(t, f)); !slices.Equal(got, want) {
		t.Errorf("List() after the Puts = %q, want %q", got, want)
	}
}

func testValidNames(t *testing.T, f roster.Files) {
	tests := []struct{ name, in string }{
		{"OneChar", "a"},
		{"Digits", "0123456789"},
		{"Punctuation", "a-b_c.d"},
		{"DotsInside", "a..b"},
		{"TrailingDot", "a."},
		{"Longest", strings.Repeat("x", 128)},
		{"HexWithExtension", "0123456789abcdef0123456789abcdef.jpg"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := content(uint64(i), 10)
			put(t, f, tt.in, data)
			if got := get(t, f, tt.in); !bytes.Equal(got, data) {
				t.Errorf("Get(%q) = %x, want %x", tt.in, got, data)
			}
			if err := f.Delete(t.Context(), tt.in); err != nil {
				t.Errorf("Delete(%q) = %v, want nil", tt.in, err)
			}
		})
	}
}

func testInvalidNames(t *testing.T, f roster.Files) {
	// An object that a traversal would reach if a name were used as a path.
	put(t, f, "x", content(0, 10))
	tests := []struct{ name, in string }{
		{"Empty", ""},
		{"Dot", "."},
		{"DotDot", ".."},
		{"Parent", "../x"},
		{"Slash", "a/b"},
		{"LeadingSlash", "/x"},
		{"Backslash", `a\b`},
		{"Hidden", ".hidden"},
		{"NUL", "x\x00"},
		{"Uppercase", "A.png"},
		{"Space", "a b"},
		{"NonASCII", "é.png"},
		{"TooLong", strings.Repeat("x", 129)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if err := f.Put(ctx, tt.in, []byte("data")); !errors.Is(err, roster.ErrInvalidName) {
				t.Errorf("Put(%q) = %v, want an error matching roster.ErrInvalidName", tt.in, err)
			}
			o, err := f.Get(ctx, tt.in)
			if err == nil {
				o.Close()
			}
			if !errors.Is(err, roster.ErrInvalidName) {
				t.Errorf("Get(%q) = %v, want an error matching roster.ErrInvalidName", tt.in, err)
			}
			if err := f.Delete(ctx, tt.in); !errors.Is(err, roster.ErrInvalidName) {
				t.Errorf("Delete(%q) = %v, want an error matching roster.ErrInvalidName", tt.in, err)
			}
		})
	}
	if got, want := names(list(t, f)), []string{"x"}; !slices.Equal(got, want) {
		t.Errorf("List() after refused names = %q, want %q", got, want)
	}
}

// testConcurrentOverwrite replaces one object over and over while others
// read it: each read must give one whole version, never a mix or a part.
func testConcurrentOverwrite(t *testing.T, f roster.Files) {
	const (
		writers  = 3
		readers  = 3
		rounds   = 15
		baseSize = 64 << 10
	)
	// Versions differ in length too, so a torn read cannot match by luck.
	versions := make([][]byte, writers*rounds+1)
	for i := range versions {
		versions[i] = content(uint64(i), baseSize+i*101)
	}
	put(t, f, "hot.png", versions[0])

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				v := versions[1+w*rounds+r]
				if err := f.Put(t.Context(), "hot.png", v); err != nil {
					t.Errorf("Put(%q) = %v, want nil", "hot.png", err)
					return
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range rounds {
				o, err := f.Get(t.Context(), "hot.png")
				if err != nil {
					t.Errorf("Get(%q) = %v, want nil", "hot.png", err)
					return
				}
				// Read as http.ServeContent does: find the size, then
				// come back to the start.
				_, err = o.Seek(0, io.SeekEnd)
				if err == nil {
					_, err = o.Seek(0, io.SeekStart)
				}
				var b []byte
				if err == nil {
					b, err = io.ReadAll(o)
				}
				o.Close()
				if err != nil {
					t.Errorf("Get(%q): reading = %v, want nil", "hot.png", err)
					return
				}
				if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(b, v) }) {
					t.Errorf("Get(%q) during Puts read %d bytes that are no version put", "hot.png", len(b))
					return
				}
				if o.Size() != int64(len(b)) {
					t.Errorf("Get(%q).Size() = %d, but %d bytes were read", "hot.png", o.Size(), len(b))
				}
			}
		})
	}
	wg.Wait()
}

// testCanceled checks that a canceled context stops every operation that
// takes one, and that a canceled Put stores nothing.
func testCanceled(t *testing.T, f roster.Files) {
	put(t, f, "a.png", content(0, 10))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		op   func() error
	}{
		{"Put", func() error { return f.Put(ctx, "b.png", content(1, 10)) }},
		{"Get", func() error {
			o, err := f.Get(ctx, "a.png")
			if err == nil {
				_, err = io.ReadAll(o)
				o.Close()
			}
			return err
		}},
		{"Delete", func() error { return f.Delete(ctx, "a.png") }},
		{"List", func() error { return f.List(ctx, func(string, time.Time) error { return nil }) }},
		{"Ping", func() error { return f.Ping(ctx) }},
	}
	for _, tt := range tests {
		if err := tt.op(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s(canceled context) = %v, want an error matching context.Canceled", tt.name, err)
		}
	}
	if got, want := names(list(t, f)), []string{"a.png"}; !slices.Equal(got, want) {
		t.Errorf("List() after canceled calls = %q, want %q", got, want)
	}
}

func testPing(t *testing.T, f roster.Files) {
	if err := f.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}
