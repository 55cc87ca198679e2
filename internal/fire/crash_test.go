package fire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roster/internal/disk"
	"roster/internal/proctest"
	"roster/internal/roster"
	"roster/internal/s3"
	"roster/internal/sqlstore"
)

// The crash suite: concurrent clients write while the server is SIGKILLed
// at random moments, and after every restart nothing acknowledged is lost
// and nothing half-written is served.

const (
	crashKills   = 5
	crashWorkers = 4
)

// crashImages are the real images the clients upload.
var crashImages = []string{"baseline.jpg", "progressive.jpg", "gray.jpg", "exif-orient6.jpg", "alpha.png", "palette.png", "anim.gif"}

// emp is what a client knows of one of its employees.
type emp struct {
	id      int64
	first   string
	last    string
	icon    *int64
	avatar  *string // the stored name; "?" = some new name (an unacknowledged upload)
	deleted bool
}

func (e emp) String() string {
	s := fmt.Sprintf("#%d %s %s icon=%s avatar=%s", e.id, e.first, e.last, ptr(e.icon), ptr(e.avatar))
	if e.deleted {
		s += " deleted"
	}
	return s
}

func ptr[T any](p *T) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// tracked is an employee's last acknowledged state and, when a write to it
// got no answer, the state that write would make: after a crash either may
// be found.
type tracked struct {
	acked   emp
	pending *emp
}

// model is what the clients were told: every acknowledged write.
type model struct {
	mu   sync.Mutex
	emps map[int64]*tracked
	// tags are the tags with avatars, one a worker: first is the name,
	// the avatar their upload's.
	tags map[int64]*tracked
}

// observed is an employee as the server lists it.
type observed struct {
	first, last string
	icon        *int64
	avatar      *string
}

// matches reports whether the server's state is e.
func (o observed) matches(e emp, previousAvatar *string) bool {
	if o.first != e.first || o.last != e.last || !eqPtr(o.icon, e.icon) {
		return false
	}
	if e.avatar != nil && *e.avatar == "?" {
		return o.avatar != nil && (previousAvatar == nil || *o.avatar != *previousAvatar)
	}
	return eqPtr(o.avatar, e.avatar)
}

func eqPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// checkAcked checks that every acknowledged write is present: each tracked
// employee is found in its acknowledged state, or in the state of a write
// that was in flight when the server died. It returns one error naming
// every employee that is not.
func checkAcked(m *model, got map[int64]observed) error { return checkTracked("employee", m.emps, got) }

// checkTracked is checkAcked for any owner of avatars, named noun.
func checkTracked(noun string, ts map[int64]*tracked, got map[int64]observed) error {
	var errs []error
	for id, tr := range ts {
		o, found := got[id]
		okAcked := found == !tr.acked.deleted && (!found || o.matches(tr.acked, nil))
		okPending := false
		if p := tr.pending; p != nil {
			okPending = found == !p.deleted && (!found || o.matches(*p, tr.acked.avatar))
		}
		if !okAcked && !okPending {
			msg := fmt.Sprintf("%s %d: server has %s, acknowledged %s", noun, id, describe(o, found), tr.acked)
			if tr.pending != nil {
				msg += fmt.Sprintf(" (or in flight %s)", tr.pending)
			}
			errs = append(errs, errors.New(msg))
		}
	}
	return errors.Join(errs...)
}

func describe(o observed, found bool) string {
	if !found {
		return "nothing"
	}
	return fmt.Sprintf("%s %s icon=%s avatar=%s", o.first, o.last, ptr(o.icon), ptr(o.avatar))
}

// resync makes the model what the server has, after checkAcked passed.
func (m *model) resync(got map[int64]observed) { resync(m.emps, got) }

// resync makes the tracked what the server has, after checkTracked passed.
func resync(ts map[int64]*tracked, got map[int64]observed) {
	for id, tr := range ts {
		o, found := got[id]
		if !found {
			delete(ts, id)
			continue
		}
		tr.acked = emp{id: id, first: o.first, last: o.last, icon: o.icon, avatar: o.avatar}
		tr.pending = nil
	}
}

// listEmployees reads every employee of the account.
func listEmployees(ctx context.Context, c *client) (map[int64]observed, error) {
	r, err := c.call(ctx, "employee/list", map[string]any{})
	if err != nil {
		return nil, err
	}
	if r.code() != 0 {
		return nil, fmt.Errorf("employee/list = %s", r)
	}
	list, _ := r.body["list"].([]any)
	got := map[int64]observed{}
	for _, item := range list {
		e, _ := item.(map[string]any)
		id, _ := e["id"].(float64)
		o := observed{}
		o.first, _ = e["first_name"].(string)
		o.last, _ = e["last_name"].(string)
		if v, ok := e["icon_id"].(float64); ok {
			n := int64(v)
			o.icon = &n
		}
		if v, ok := e["avatar_file_name"].(string); ok {
			o.avatar = &v
		}
		got[int64(id)] = o
	}
	return got, nil
}

// listTags reads every tag of the account, its name as first.
func listTags(ctx context.Context, c *client) (map[int64]observed, error) {
	r, err := c.call(ctx, "tag/list", map[string]any{})
	if err != nil {
		return nil, err
	}
	if r.code() != 0 {
		return nil, fmt.Errorf("tag/list = %s", r)
	}
	list, _ := r.body["list"].([]any)
	got := map[int64]observed{}
	for _, item := range list {
		tag, _ := item.(map[string]any)
		id, _ := tag["id"].(float64)
		o := observed{}
		o.first, _ = tag["name"].(string)
		if v, ok := tag["icon_id"].(float64); ok {
			n := int64(v)
			o.icon = &n
		}
		if v, ok := tag["avatar_file_name"].(string); ok {
			o.avatar = &v
		}
		got[int64(id)] = o
	}
	return got, nil
}

// referenced is the set of avatar names the employees (and tags) hold.
func referenced(owners ...map[int64]observed) []string {
	var names []string
	for _, got := range owners {
		for _, o := range got {
			if o.avatar != nil {
				names = append(names, *o.avatar)
			}
		}
	}
	sort.Strings(names)
	return names
}

// checkServed checks that every referenced avatar, and every stored object
// that has an avatar's name, is served as an image that decodes; and that
// no temporary file name is reachable.
func checkServed(ctx context.Context, base string, refs, stored, temps []string) error {
	hc := &http.Client{Timeout: 30 * time.Second}
	var errs []error
	for _, name := range refs {
		if err := fetchImage(ctx, hc, staticURL(base, name)); err != nil {
			errs = append(errs, fmt.Errorf("referenced avatar %s: %w", name, err))
		}
	}
	for _, name := range stored {
		if m := renditionName.FindStringSubmatch(name); m != nil {
			// A stored rendition is served for ?size=N of its avatar.
			size := strings.TrimPrefix(name[len(m[1]):len(name)-len(m[2])], "-")
			if err := fetchImage(ctx, hc, staticURL(base, m[1]+m[2])+"?size="+size); err != nil {
				errs = append(errs, fmt.Errorf("stored rendition %s: %w", name, err))
			}
			continue
		}
		if !avatarName.MatchString(name) || slices.Contains(refs, name) {
			continue
		}
		// An unreferenced original is served until the sweep takes it:
		// whatever is served must be whole.
		if err := fetchImage(ctx, hc, staticURL(base, name)); err != nil {
			errs = append(errs, fmt.Errorf("stored avatar %s: %w", name, err))
		}
	}
	for _, name := range temps {
		resp, err := hc.Get(staticURL(base, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			errs = append(errs, fmt.Errorf("temporary file %s is served: %d", name, resp.StatusCode))
		}
	}
	return errors.Join(errs...)
}

var (
	avatarName    = regexp.MustCompile(`^[0-9a-f]{32}\.(jpg|png|gif)$`)
	renditionName = regexp.MustCompile(`^([0-9a-f]{32})-[0-9]+(\.(?:jpg|png|gif))$`)
)

// checkStore checks that the store holds exactly the referenced avatars and
// renditions of them: nothing unreferenced survives the sweep, and nothing
// referenced is missing.
func checkStore(refs, stored []string) error {
	var errs []error
	want := map[string]bool{}
	for _, r := range refs {
		want[r] = true
	}
	have := map[string]bool{}
	for _, name := range stored {
		have[name] = true
		switch {
		case want[name]:
		case renditionName.MatchString(name):
			m := renditionName.FindStringSubmatch(name)
			if !want[m[1]+m[2]] {
				errs = append(errs, fmt.Errorf("rendition %s of an unreferenced avatar is stored", name))
			}
		default:
			errs = append(errs, fmt.Errorf("unreferenced %s is stored", name))
		}
	}
	for _, r := range refs {
		if !have[r] {
			errs = append(errs, fmt.Errorf("referenced avatar %s is not in the store", r))
		}
	}
	return errors.Join(errs...)
}

// storeContents lists the objects of the stack's file store, and on disk
// also the temporary files writers left.
func storeContents(ctx context.Context, st stack) (objects, temps []string, err error) {
	var files roster.Files
	if st.files != "" {
		entries, err := os.ReadDir(st.files)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				temps = append(temps, e.Name())
			}
		}
		d, err := disk.Open(st.files)
		if err != nil {
			return nil, nil, err
		}
		files = d
	} else {
		s, err := s3.Open(ctx, st.filesURL, s3.Options{Credentials: s3.CredentialsFrom(os.Getenv)})
		if err != nil {
			return nil, nil, err
		}
		files = s
	}
	defer files.Close()
	err = files.List(ctx, func(name string, _ time.Time) error {
		objects = append(objects, name)
		return nil
	})
	sort.Strings(objects)
	return objects, temps, err
}

// worker is one client of the crash suite: it owns its employees, so the
// model of each is exact.
type worker struct {
	n      int
	m      *model
	images [][]byte
	types  []string
	rnd    *rand.Rand
	seq    int
	tag    int64 // the worker's tag, whose avatar it uploads too
	acked  *atomic.Int64
	lost   *atomic.Int64 // writes that got no answer
}

// run writes until a call gets no answer (the server died) or ctx ends.
func (w *worker) run(ctx context.Context, c *client, base string) error {
	for ctx.Err() == nil {
		if err := w.step(ctx, c, base); err != nil {
			return err
		}
	}
	return nil
}

// mine lists the worker's live employees.
func (w *worker) mine() []int64 {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	var ids []int64
	for id, tr := range w.m.emps {
		if !tr.acked.deleted && strings.HasPrefix(tr.acked.last, fmt.Sprintf("w%d-", w.n)) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// errNoAnswer stops a worker: the server is gone.
var errNoAnswer = errors.New("no answer")

func (w *worker) step(ctx context.Context, c *client, base string) error {
	ids := w.mine()
	w.seq++
	roll := w.rnd.IntN(100)
	if roll >= 90 && roll < 95 && w.tag != 0 {
		return w.tagAvatar(ctx, c)
	}
	if len(ids) < 3 || (roll < 10 && len(ids) < 8) {
		e := emp{first: fmt.Sprintf("F%d", w.seq), last: fmt.Sprintf("w%d-%d", w.n, w.seq)}
		r, err := c.call(ctx, "employee/create", map[string]any{"employee": map[string]any{"first_name": e.first, "last_name": e.last}})
		if err != nil {
			w.lost.Add(1)
			return errNoAnswer // an unacknowledged create leaves at most an employee nobody tracks
		}
		if r.code() != 0 {
			return fmt.Errorf("employee/create = %s", r)
		}
		e.id = int64(r.body["id"].(float64))
		w.m.mu.Lock()
		w.m.emps[e.id] = &tracked{acked: e}
		w.m.mu.Unlock()
		w.acked.Add(1)
		return nil
	}
	id := ids[w.rnd.IntN(len(ids))]
	w.m.mu.Lock()
	next := w.m.emps[id].acked
	w.m.mu.Unlock()
	var r reply
	var err error
	switch {
	case roll < 35:
		next.last = fmt.Sprintf("w%d-%d", w.n, w.seq)
		r, err = c.call(ctx, "employee/update", map[string]any{"employee": map[string]any{"id": id, "first_name": next.first, "last_name": next.last}})
	case roll < 60:
		var icon any
		next.icon = nil
		if w.rnd.IntN(3) > 0 {
			n := int64(w.rnd.IntN(5000) + 1)
			next.icon, icon = &n, n
		}
		r, err = c.call(ctx, "employee/avatar/assign", map[string]any{"employee_id": id, "icon_id": icon})
	case roll < 90:
		i := w.rnd.IntN(len(w.images))
		unknown := "?"
		next.avatar = &unknown
		r, err = c.upload(ctx, id, w.images[i], w.types[i])
		if err == nil && r.code() == 0 {
			name, _ := r.body["value"].(string)
			next.avatar = &name
			// Ask for a rendition now and then, so the store holds some.
			if w.rnd.IntN(2) == 0 {
				if resp, gerr := c.http.Get(staticURL(base, name) + "?size=64"); gerr == nil {
					resp.Body.Close()
				}
			}
		}
	default:
		next.deleted = true
		r, err = c.call(ctx, "employee/delete", map[string]any{"employee_id": id})
	}
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	tr := w.m.emps[id]
	if err != nil {
		tr.pending = &next
		w.lost.Add(1)
		return errNoAnswer
	}
	if r.code() != 0 {
		return fmt.Errorf("write to employee %d = %s", id, r)
	}
	tr.acked = next
	w.acked.Add(1)
	return nil
}

// tagAvatar uploads a new avatar for the worker's tag, through the same
// pipeline as an employee's.
func (w *worker) tagAvatar(ctx context.Context, c *client) error {
	w.m.mu.Lock()
	next := w.m.tags[w.tag].acked
	w.m.mu.Unlock()
	unknown := "?"
	next.avatar = &unknown
	i := w.rnd.IntN(len(w.images))
	r, err := c.uploadTo(ctx, "tag", w.tag, w.images[i], w.types[i])
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	tr := w.m.tags[w.tag]
	if err != nil {
		tr.pending = &next
		w.lost.Add(1)
		return errNoAnswer
	}
	if r.code() != 0 {
		return fmt.Errorf("tag/avatar/upload to tag %d = %s", w.tag, r)
	}
	name, _ := r.body["value"].(string)
	next.avatar = &name
	tr.acked = next
	w.acked.Add(1)
	return nil
}

func TestCrash(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack) {
		ctx := t.Context()
		images := make([][]byte, len(crashImages))
		types := make([]string, len(crashImages))
		for i, name := range crashImages {
			images[i], types[i] = corpus(t, name), mimeOf(name)
		}
		m := &model{emps: map[int64]*tracked{}, tags: map[int64]*tracked{}}
		var acked, lost, reads atomic.Int64
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rnd := rand.New(rand.NewPCG(seed, 1))
		workers := make([]*worker, crashWorkers)
		for i := range workers {
			workers[i] = &worker{n: i, m: m, images: images, types: types, rnd: rand.New(rand.NewPCG(seed, uint64(i+2))), acked: &acked, lost: &lost}
		}
		var hash string
		start := time.Now()
		for kill := 1; kill <= crashKills; kill++ {
			p := serve(t, st)
			c := newClient(p.API)
			if hash == "" {
				if err := c.signIn(ctx); err != nil {
					t.Fatal(err)
				}
				hash = c.hash
				for _, w := range workers {
					name := fmt.Sprint("w", w.n)
					w.tag = int64(c.must(t, "tag/create", map[string]any{"tag": map[string]any{"name": name, "color": "808080"}}).body["id"].(float64))
					m.tags[w.tag] = &tracked{acked: emp{id: w.tag, first: name}}
				}
			}
			c.hash = hash
			if kill > 1 {
				verifyCrash(t, ctx, st, p, c, m, false)
			}
			// Write for a random moment, then SIGKILL in the middle of it.
			wctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			errs := make(chan error, len(workers)+1)
			wg.Go(func() {
				if err := readLive(wctx, m, p.Base, rand.New(rand.NewPCG(seed, uint64(kill))), &reads); err != nil {
					errs <- err
				}
			})
			for _, w := range workers {
				wg.Go(func() {
					if err := w.run(wctx, c, p.Base); err != nil && !errors.Is(err, errNoAnswer) {
						errs <- err
					}
				})
			}
			time.Sleep(time.Duration(300+rnd.IntN(900)) * time.Millisecond)
			p.Kill()
			cancel() // the reader may be waiting for a first avatar
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("before kill %d: %v", kill, err)
			}
			if t.Failed() {
				t.Fatalf("log:\n%s", p.Stderr())
			}
		}
		// A start as usual checks the last kill; the one after it sweeps
		// every unreferenced file at once.
		p := serve(t, st)
		c := newClient(p.API)
		c.hash = hash
		verifyCrash(t, ctx, st, p, c, m, false)
		if err := p.Stop(); err != nil {
			t.Errorf("graceful stop: %v\n%s", err, p.Stderr())
		}
		p = serve(t, st, "--sweep-grace", "1ns")
		c = newClient(p.API)
		c.hash = hash
		temps := verifyCrash(t, ctx, st, p, c, m, true)
		if err := p.Stop(); err != nil {
			t.Errorf("graceful stop: %v\n%s", err, p.Stderr())
		}
		if st.sqlite != "" {
			db, err := sqlstore.Open(ctx, st.dbURL)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.IntegrityCheck(ctx); err != nil {
				t.Errorf("SQLite integrity check after %d kills: %v", crashKills, err)
			}
			db.Close()
		}
		live := 0
		for _, tr := range m.emps {
			if !tr.acked.deleted {
				live++
			}
		}
		t.Logf("crash suite %s: %d kills survived, %d acknowledged writes checked, %d writes cut off by a kill, %d avatars read whole while writing, %d employees live, %d temporary files left unserved, %s",
			st.name, crashKills, acked.Load(), lost.Load(), reads.Load(), live, temps, time.Since(start).Round(time.Millisecond))
	})
}

// readLive fetches the avatars the model holds while the writers run. A
// name may have been replaced and deleted since (404), but whatever is
// served must decode: never a part of a file. It returns when the server
// stops answering.
func readLive(ctx context.Context, m *model, base string, rnd *rand.Rand, reads *atomic.Int64) error {
	hc := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		var names []string
		m.mu.Lock()
		for _, tr := range m.emps {
			if a := tr.acked.avatar; a != nil && *a != "?" {
				names = append(names, *a)
			}
		}
		m.mu.Unlock()
		if len(names) == 0 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		u := staticURL(base, names[rnd.IntN(len(names))])
		if rnd.IntN(3) == 0 {
			u += "?size=64"
		}
		resp, err := hc.Get(u)
		if err != nil {
			return nil // the server died
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil // cut off by the kill
		}
		switch resp.StatusCode {
		case http.StatusNotFound:
		case http.StatusOK:
			if _, _, err := image.Decode(bytes.NewReader(b)); err != nil {
				return fmt.Errorf("GET %s while writing: %d bytes do not decode: %v", u, len(b), err)
			}
			reads.Add(1)
		default:
			return fmt.Errorf("GET %s while writing = %d", u, resp.StatusCode)
		}
	}
	return nil
}

// verifyCrash checks a restarted server against the model, then makes the
// model what the server has. With swept, it also waits for the sweep to
// leave exactly the referenced files. It returns how many temporary files
// the kills left in the store.
func verifyCrash(t *testing.T, ctx context.Context, st stack, p *proctest.Proc, c *client, m *model, swept bool) int {
	t.Helper()
	got, err := listEmployees(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := listTags(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := errors.Join(checkAcked(m, got), checkTracked("tag", m.tags, tags)); err != nil {
		t.Fatalf("acknowledged writes lost:\n%v", err)
	}
	refs := referenced(got, tags)
	stored, temps, err := storeContents(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if swept {
		// The sweep runs at start; give it a moment to finish.
		deadline := time.Now().Add(20 * time.Second)
		for {
			err = checkStore(refs, stored)
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
			if stored, temps, err = storeContents(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
		if err != nil {
			t.Fatalf("store after the sweep:\n%v", err)
		}
	}
	if err := checkServed(ctx, p.Base, refs, stored, temps); err != nil {
		var listing []string
		if st.files != "" {
			entries, _ := os.ReadDir(st.files)
			for _, e := range entries {
				info, _ := e.Info()
				if info != nil {
					listing = append(listing, fmt.Sprintf("%s %d %v", e.Name(), info.Size(), info.ModTime().Format(time.StampMicro)))
				}
			}
		}
		t.Fatalf("served after a kill:\n%v\nstore now: %s\nserver log:\n%s", err, strings.Join(listing, "\n"), p.Stderr())
	}
	m.resync(got)
	resync(m.tags, tags)
	return len(temps)
}

// TestCrashCheckersCatch breaks each crash invariant on purpose and shows
// the checker reporting it: a referenced file deleted from the data
// directory, an unreferenced file left in it, a temporary file served, and
// an acknowledged write missing.
func TestCrashCheckersCatch(t *testing.T) {
	ctx := t.Context()
	st := sqliteStack(t)
	p := serve(t, st)
	c := newClient(p.API)
	if err := c.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	id := int64(c.must(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Ann"}}).body["id"].(float64))
	r, err := c.upload(ctx, id, corpus(t, "baseline.jpg"), "image/jpeg")
	if err != nil || r.code() != 0 {
		t.Fatalf("upload = %v %v", r, err)
	}
	name := r.body["value"].(string)
	tag := int64(c.must(t, "tag/create", map[string]any{"tag": map[string]any{"name": "w0", "color": "808080"}}).body["id"].(float64))
	r, err = c.uploadTo(ctx, "tag", tag, corpus(t, "alpha.png"), "image/png")
	if err != nil || r.code() != 0 {
		t.Fatalf("tag upload = %v %v", r, err)
	}
	tagName := r.body["value"].(string)
	got, err := listEmployees(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := listTags(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	refs := referenced(got, tags)
	if !slices.Contains(refs, tagName) {
		t.Fatalf("referenced = %v, want the tag's avatar %s among them", refs, tagName)
	}
	stored, temps, err := storeContents(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkServed(ctx, p.Base, refs, stored, temps); err != nil {
		t.Fatalf("intact store: %v", err)
	}
	if err := checkStore(refs, stored); err != nil {
		t.Fatalf("intact store: %v", err)
	}

	// Referenced files deleted behind the server's back (and a restart,
	// so no cache remembers them): an employee's, and a tag's, as a sweep
	// that asked only the employees would delete it.
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{name, tagName} {
		if err := os.Remove(filepath.Join(st.files, n)); err != nil {
			t.Fatal(err)
		}
	}
	p = serve(t, st)
	stored, temps, _ = storeContents(ctx, st)
	for _, n := range []string{name, tagName} {
		if err := checkServed(ctx, p.Base, refs, stored, temps); err == nil || !strings.Contains(err.Error(), n) {
			t.Errorf("checkServed with %s deleted = %v, want it named", n, err)
		}
		if err := checkStore(refs, stored); err == nil || !strings.Contains(err.Error(), n) {
			t.Errorf("checkStore with %s deleted = %v, want it missing", n, err)
		}
	}

	// An unreferenced file, a half-written one under an avatar's name, and
	// a temporary file left by a crash.
	stray := strings.Repeat("ab", 16) + ".png"
	half := strings.Repeat("cd", 16) + ".jpg"
	os.WriteFile(filepath.Join(st.files, stray), corpus(t, "alpha.png"), 0o640)
	os.WriteFile(filepath.Join(st.files, half), corpus(t, "baseline.jpg")[:500], 0o640)
	os.WriteFile(filepath.Join(st.files, ".tmp-crash"), corpus(t, "baseline.jpg")[:500], 0o640)
	halfRendition := strings.Repeat("cd", 16) + "-64.jpg"
	os.WriteFile(filepath.Join(st.files, halfRendition), corpus(t, "baseline.jpg")[:700], 0o640)
	stored, temps, _ = storeContents(ctx, st)
	if err := checkStore(refs, stored); err == nil || !strings.Contains(err.Error(), stray) {
		t.Errorf("checkStore with %s stray = %v, want it named", stray, err)
	}
	if err := checkServed(ctx, p.Base, nil, stored, temps); err == nil || !strings.Contains(err.Error(), half) || !strings.Contains(err.Error(), halfRendition) {
		t.Errorf("checkServed with a half-written %s and %s = %v, want both named", half, halfRendition, err)
	}
	if len(temps) != 1 {
		t.Errorf("storeContents found temporary files %v, want .tmp-crash", temps)
	}

	// An acknowledged write the server does not have.
	lostName := strings.Repeat("ef", 16) + ".gif"
	m := &model{emps: map[int64]*tracked{id: {acked: emp{id: id, first: "Ann", avatar: &lostName}}}}
	if err := checkAcked(m, got); err == nil {
		t.Errorf("checkAcked with an acknowledged upload missing = nil, want an error")
	}
	m.emps[id].pending = &emp{id: id, first: "Ann", avatar: &name}
	if err := checkAcked(m, got); err != nil {
		t.Errorf("checkAcked with the server in an in-flight state = %v, want nil", err)
	}
	m.emps[99] = &tracked{acked: emp{id: 99, first: "Bob"}}
	if err := checkAcked(m, got); err == nil || !strings.Contains(err.Error(), "employee 99") {
		t.Errorf("checkAcked with an acknowledged create missing = %v, want employee 99 named", err)
	}
}
