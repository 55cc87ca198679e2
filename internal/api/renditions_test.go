package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/proctest"
	"roster/internal/sqlstore"
)

// notServed checks that no request for an avatar or any of its renditions,
// in either variant, answers 200 on the server at base.
func notServed(base, name string) error {
	paths := []string{name}
	for _, size := range renditionSizes {
		paths = append(paths, fmt.Sprintf("%s?size=%d", name, size))
	}
	for _, p := range paths {
		for _, accept := range []string{"", browserAccept} {
			req, err := http.NewRequest("GET", base+"/v2/static/employee/avatars/"+p, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Accept", accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return fmt.Errorf("GET %s (Accept %q) = 200 after its original was deleted", p, accept)
			}
		}
	}
	return nil
}

// notStored checks that the store holds nothing of an avatar: neither the
// original nor a rendition.
func notStored(f *fixture, name string) error {
	var left []string
	err := f.files.Files.List(context.Background(), func(n string, _ time.Time) error {
		if strings.HasPrefix(n, name[:32]) {
			left = append(left, n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("stored after its original was deleted: %v", left)
	}
	return nil
}

// lateRenditions delays every rendition put by up to 3 ms before it is
// stored and as much after, so that makers are often still running when a
// delete or replacement answers, and their rendition is in the store
// before they have checked whether it may stay.
func lateRenditions(f *fixture) {
	f.files.hook(func(ctx context.Context, op, name string) error {
		if op == "put" && strings.Contains(name, "-") {
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
		return nil
	})
	after := func(name string) {
		if strings.Contains(name, "-") {
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
	}
	f.files.afterPut.Store(&after)
}

// raceRound uploads an avatar for a new employee through up, asks for
// renditions of it in several sizes at once on the server at readBase,
// and meanwhile deletes the employee (or, with replace, uploads another
// avatar). It returns the old name once the delete or replacement has
// answered, the function that waits for the rendition requests, and how
// many of them answered 200.
func raceRound(t *testing.T, up *fixture, readBase string, replace bool) (string, func(), *atomic.Int64) {
	t.Helper()
	id := int64(up.call(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "R"}})["id"].(float64))
	_, code, old := up.uploadFor(t, id, readTestImage(t, "alpha.png"))
	if code != 0 {
		t.Fatalf("upload = code %d", code)
	}
	var wg sync.WaitGroup
	var served atomic.Int64
	for _, size := range []int{32, 64, 128, 512} {
		for _, accept := range []string{"", browserAccept} { // both variants
			wg.Go(func() {
				req, err := http.NewRequest("GET", fmt.Sprintf("%s/v2/static/employee/avatars/%s?size=%d", readBase, old, size), nil)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Accept", accept)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					served.Add(1)
				}
			})
		}
	}
	time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
	if replace {
		if _, code, _ := up.uploadFor(t, id, readTestImage(t, "palette.png")); code != 0 {
			t.Fatalf("replacing upload = code %d", code)
		}
	} else {
		up.call(t, "employee/delete", map[string]any{"employee_id": id})
	}
	return old, wg.Wait, &served
}

// TestRenditionsNeverOutliveOriginal: whatever the interleaving of
// rendition makers with a delete or a replacement, once that has answered
// no request for the old name or its renditions answers 200, and once the
// makers are done the store holds nothing of it.
func TestRenditionsNeverOutliveOriginal(t *testing.T) {
	f := newFixture(t)
	lateRenditions(f)
	const rounds = 40
	var before int64
	for round := range rounds {
		replace := round%2 == 1
		old, wait, served := raceRound(t, f, f.http.URL, replace)
		if err := notServed(f.http.URL, old); err != nil {
			t.Errorf("round %d (replace %v), while makers run: %v", round, replace, err)
		}
		wait()
		before += served.Load()
		if err := notServed(f.http.URL, old); err != nil {
			t.Errorf("round %d (replace %v), makers done: %v", round, replace, err)
		}
		if err := notStored(f, old); err != nil {
			t.Errorf("round %d (replace %v), makers done: %v", round, replace, err)
		}
	}
	t.Logf("%d of %d rendition requests answered 200 before the delete or replacement", before, rounds*8)
}

// TestRenditionsNeverOutliveOriginalOtherNode: the same race with the
// renditions made by a second node on the same database and store, which
// holds no tombstone of the delete: its makers' re-check of the database
// deletes what they stored late, and once its cache checks the store
// again (here at once; by default within a minute) it serves nothing of
// the old avatar.
func TestRenditionsNeverOutliveOriginalOtherNode(t *testing.T) {
	f := newFixture(t)
	lateRenditions(f)
	db, err := sqlstore.Open(t.Context(), "sqlite:"+f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	other := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), db, f.files, Options{})
	other.cache.recheck = 0
	ts := httptest.NewServer(other)
	t.Cleanup(ts.Close)
	for round := range 20 {
		replace := round%2 == 1
		old, wait, _ := raceRound(t, f, ts.URL, replace)
		wait()
		if err := notStored(f, old); err != nil {
			t.Errorf("round %d (replace %v): %v", round, replace, err)
		}
		if err := notServed(ts.URL, old); err != nil {
			t.Errorf("round %d (replace %v), on the other node: %v", round, replace, err)
		}
	}
}

// TestRenditionCheckersCatch: the checkers above fail on the states they
// exist to refuse — an avatar still served and stored, and a rendition
// written behind the server's back after its original was deleted, once
// the tombstone is gone.
func TestRenditionCheckersCatch(t *testing.T) {
	f := newFixture(t)
	_, _, live := f.upload(t, readTestImage(t, "alpha.png"))
	if err := notServed(f.http.URL, live); err == nil {
		t.Errorf("notServed(a live avatar) = nil, want an error")
	}
	if err := notStored(f, live); err == nil {
		t.Errorf("notStored(a live avatar) = nil, want an error")
	}
	f.srv.cache.goneLife = 0 // tombstones expire at once
	id := int64(f.call(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "S"}})["id"].(float64))
	_, _, stale := f.uploadFor(t, id, readTestImage(t, "palette.png"))
	f.call(t, "employee/delete", map[string]any{"employee_id": id})
	if err := notServed(f.http.URL, stale); err != nil {
		t.Fatalf("notServed(deleted) = %v, want nil", err)
	}
	if err := f.files.Files.Put(t.Context(), renditionName(stale, 64), readTestImage(t, "palette.png")); err != nil {
		t.Fatal(err)
	}
	if err := notServed(f.http.URL, stale); err == nil {
		t.Errorf("notServed(a rendition stored after the delete) = nil, want an error")
	}
	if err := notStored(f, stale); err == nil {
		t.Errorf("notStored(a rendition stored after the delete) = nil, want an error")
	}
	// The same for a WebP variant alone, which only a browser's Accept asks for.
	if err := f.files.Files.Delete(t.Context(), renditionName(stale, 64)); err != nil {
		t.Fatal(err)
	}
	f.srv.cache.remove(renditionName(stale, 64))
	if err := f.files.Files.Put(t.Context(), webpName(stale, 64), readTestImage(t, "lossless.webp")); err != nil {
		t.Fatal(err)
	}
	if err := notServed(f.http.URL, stale); err == nil {
		t.Errorf("notServed(a WebP variant stored after the delete) = nil, want an error")
	}
	if err := notStored(f, stale); err == nil {
		t.Errorf("notStored(a WebP variant stored after the delete) = nil, want an error")
	}
}

// TestRenditionOfUnreferencedOriginal: a stored original no employee
// references (a crash's leftover, or deleted by another node whose delete
// of the files failed) is never rendered.
func TestRenditionOfUnreferencedOriginal(t *testing.T) {
	f := newFixture(t)
	orphan := strings.Repeat("0f", 16) + ".png"
	if err := f.files.Files.Put(t.Context(), orphan, readTestImage(t, "alpha.png")); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := f.fetch(t, orphan+"?size=64", nil); status != 404 {
		t.Errorf("GET ?size=64 of an unreferenced original = %d, want 404", status)
	}
	if got := f.stored(t); len(got) != 1 {
		t.Errorf("stored = %v, want only the orphan", got)
	}
}

// TestRenditionAccount: a rendition is admitted to the decode workers
// under the account that owns its original, not as an anonymous request.
func TestRenditionAccount(t *testing.T) {
	f := newFixtureWith(t, Options{DecodeWorkers: 1})
	_, _, name := f.upload(t, readTestImage(t, "alpha.png"))
	owner, err := f.srv.db.AvatarOwner(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the only worker; the rendition then waits in the pool's queue,
	// where its account can be seen.
	release, err := f.srv.pool.acquire(t.Context(), -1)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() {
		status, _, _ := f.fetch(t, name+"?size=64", nil)
		done <- status
	}()
	var queued []int64
	for deadline := time.Now().Add(5 * time.Second); len(queued) == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f.srv.pool.mu.Lock()
		for _, w := range f.srv.pool.queue {
			queued = append(queued, w.account)
		}
		f.srv.pool.mu.Unlock()
	}
	release()
	if status := <-done; status != 200 {
		t.Errorf("GET ?size=64 = %d, want 200", status)
	}
	if len(queued) != 1 || queued[0] != owner {
		t.Errorf("rendition queued for the decode workers as accounts %v, want [%d]", queued, owner)
	}
}

// TestCancelledLoggedAsCancelled: a client that goes away while its first
// rendition is made, or while its upload is stored, is logged at info as
// cancelled, with status 499 in the request log and the metrics, and no
// error is logged.
func TestCancelledLoggedAsCancelled(t *testing.T) {
	f := newFixture(t)
	var logs proctest.Buffer
	f.srv.log = slog.New(slog.NewTextHandler(&logs, nil))
	_, _, name := f.upload(t, readTestImage(t, "alpha.png"))

	entered := make(chan struct{}, 1)
	unblock := make(chan struct{})
	f.files.hook(func(ctx context.Context, op, n string) error {
		// The rendition maker's read of the original, and the upload's put.
		if op == "get" && n == name || op == "put" && !strings.Contains(n, "-") {
			entered <- struct{}{}
			select {
			case <-unblock:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	cancelled := func(id string, send func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- send(ctx) }()
		<-entered
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("%s: client error %v, want context.Canceled", id, err)
		}
		// The server logs the request once its handler returns.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if strings.Contains(logs.String(), "msg=request request_id="+id) {
				return
			}
		}
		t.Fatalf("%s: no request line logged:\n%s", id, logs.String())
	}
	request := func(ctx context.Context, id, method, url, ctype string, body io.Reader) error {
		req, _ := http.NewRequestWithContext(ctx, method, url, body)
		req.Header.Set("X-Request-Id", id)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	cancelled("gone-static", func(ctx context.Context) error {
		return request(ctx, "gone-static", http.MethodGet, f.http.URL+"/v2/static/employee/avatars/"+name+"?size=64", "", nil)
	})
	cancelled("gone-call", func(ctx context.Context) error {
		var buf strings.Builder
		boundary := "b0undary"
		fmt.Fprintf(&buf, "--%s\r\nContent-Disposition: form-data; name=\"hash\"\r\n\r\n%s\r\n", boundary, f.hash)
		fmt.Fprintf(&buf, "--%s\r\nContent-Disposition: form-data; name=\"employee_id\"\r\n\r\n%d\r\n", boundary, f.employee)
		fmt.Fprintf(&buf, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n%s\r\n--%s--\r\n",
			boundary, readTestImage(t, "palette.png"), boundary)
		return request(ctx, "gone-call", http.MethodPost, f.http.URL+"/v2/employee/avatar/upload",
			"multipart/form-data; boundary="+boundary, strings.NewReader(buf.String()))
	})
	close(unblock)
	// Let the detached maker finish before the store goes away.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if len(f.stored(t)) == 2 {
			break
		}
	}

	out := logs.String()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") {
			t.Errorf("logged: %s", line)
		}
	}
	for _, want := range []string{
		`level=INFO msg="request cancelled: the client went away" request_id=gone-static`,
		`level=INFO msg=request request_id=gone-static method=GET call=static/employee/avatars status=499 code=499`,
		`level=INFO msg="call cancelled: the client went away" request_id=gone-call`,
		`level=INFO msg=request request_id=gone-call method=POST call=employee/avatar/upload status=499 code=499`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	resp, err := http.Get(f.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`roster_requests_total{call="employee/avatar/upload",code="499",status="499"} 1`,
		`roster_requests_total{call="static/employee/avatars",code="499",status="499"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, line := range strings.Split(string(metrics), "\n") {
		if strings.HasPrefix(line, "roster_requests_total") && (strings.Contains(line, `code="6"`) || strings.Contains(line, `code="254"`) || strings.Contains(line, `code="1"`)) {
			t.Errorf("metrics count a failure: %s", line)
		}
	}
}
