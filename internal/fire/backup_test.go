package fire

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/sqlstore"
)

// TestBackupWhileWriting: roster backup of a SQLite + disk installation,
// taken while the crash suite's writers run and the sweep removes replaced
// files, restores (served as a data directory) to an installation that
// passes the crash suite's checks: a sound database, every avatar it
// references stored and served whole, nothing else left once swept. A
// backup taken after the writers stop holds exactly what the server lists.
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := sqliteStack(t)
	images := make([][]byte, len(crashImages))
	types := make([]string, len(crashImages))
	for i, name := range crashImages {
		images[i], types[i] = corpus(t, name), mimeOf(name)
	}
	// A short grace and a frequent sweep: replaced avatars leave the store
	// while the backup copies it. The grace must still outlast an upload's
	// time from storing its file to committing its name on a loaded machine
	// (3 s did not always), or the live server itself loses a new avatar.
	p := serve(t, st, "--sweep-grace", "8s", "--sweep-interval", "100ms")
	c := newClient(p.API)
	if err := c.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	m := &model{emps: map[int64]*tracked{}, tags: map[int64]*tracked{}}
	var acked, lost atomic.Int64
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, crashWorkers)
	for i := range crashWorkers {
		w := &worker{n: i, m: m, images: images, types: types, rnd: rand.New(rand.NewPCG(seed, uint64(i+2))), acked: &acked, lost: &lost}
		// Tag avatars are in the mix, as in the crash suite.
		name := fmt.Sprint("w", w.n)
		w.tag = int64(c.must(t, "tag/create", map[string]any{"tag": map[string]any{"name": name, "color": "808080"}}).body["id"].(float64))
		m.tags[w.tag] = &tracked{acked: emp{id: w.tag, first: name}}
		wg.Go(func() {
			if err := w.run(wctx, c, p.Base); err != nil && !errors.Is(err, errNoAnswer) {
				errs <- err
			}
		})
	}
	time.Sleep(9 * time.Second) // past the grace: the sweep is at work
	before := acked.Load()
	live := filepath.Join(t.TempDir(), "live")
	if out, err := exec.Command(binary, "backup", "--data", st.data, "--to", live).CombinedOutput(); err != nil {
		t.Fatalf("roster backup while writing: %v\n%s\nserver log:\n%s", err, out, p.Stderr())
	} else {
		t.Logf("roster backup:\n%s", out)
	}
	during := acked.Load() - before
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	if during == 0 {
		t.Errorf("no write was acknowledged while the backup ran: it blocked the server")
	}
	t.Logf("%d writes acknowledged while the backup ran, %d in all", during, acked.Load())
	checkBackup(t, ctx, live, c.hash, nil)

	// Quiescent: the backup is what the server lists.
	want, err := listEmployees(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	still := filepath.Join(t.TempDir(), "still")
	if out, err := exec.Command(binary, "backup", "--data", st.data, "--to", still).CombinedOutput(); err != nil {
		t.Fatalf("roster backup: %v\n%s", err, out)
	}
	checkBackup(t, ctx, still, c.hash, want)
}

// checkBackup serves the backup directory dir and runs the crash suite's
// checks on it; with want, its employees must be exactly those.
func checkBackup(t *testing.T, ctx context.Context, dir, hash string, want map[int64]observed) {
	t.Helper()
	st := stack{name: "backup", data: dir, sqlite: filepath.Join(dir, "roster.db"), files: filepath.Join(dir, "files"), args: []string{"--data", dir}}
	st.dbURL, st.filesURL = "sqlite:"+st.sqlite, "file:"+st.files
	db, err := sqlstore.Open(ctx, st.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Errorf("SQLite integrity check of the backup: %v", err)
	}
	db.Close()
	p := serve(t, st, "--sweep-grace", "1ns")
	defer p.Stop()
	c := newClient(p.API)
	c.hash = hash // the session is in the backup too
	got, err := listEmployees(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if want != nil && !maps.EqualFunc(got, want, func(a, b observed) bool {
		return a.first == b.first && a.last == b.last && eqPtr(a.icon, b.icon) && eqPtr(a.avatar, b.avatar)
	}) {
		t.Errorf("the backup lists %d employees unlike the server's %d", len(got), len(want))
	}
	tags, err := listTags(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	refs := referenced(got, tags)
	var stored, temps []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		if stored, temps, err = storeContents(ctx, st); err != nil {
			t.Fatal(err)
		}
		err = checkStore(refs, stored)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("the backup's store after its sweep:\n%v", err)
	}
	if err := checkServed(ctx, p.Base, refs, stored, temps); err != nil {
		t.Errorf("the backup serves:\n%v", err)
	}
	t.Logf("backup %s: %d employees, %d avatars referenced and served", filepath.Base(dir), len(got), len(refs))
}
