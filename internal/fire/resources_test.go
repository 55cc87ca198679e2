package fire

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/api"
	"roster/internal/avatar"
	"roster/internal/avatar/avatartest"
	"roster/internal/proctest"
)

// trickle opens an upload from the loopback address ip whose key would
// follow the file, sends everything up to the file's first byte, and then
// one byte every half second until the server answers or ctx ends. It
// returns at once; the channel gets how long the connection lasted and the
// status line the server answered with ("" if none).
func trickle(ctx context.Context, base, ip string) (<-chan string, error) {
	u, _ := url.Parse(base)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	head, ct := multipartBody([][2]string{{"employee_id", "1"}}, fileHeader("image/png"), strings.NewReader(""))
	prefix, _ := io.ReadAll(head)
	// Cut the closing boundary: the file part stays open.
	prefix = prefix[:bytes.LastIndex(prefix, []byte("\r\n--"))]
	req := fmt.Sprintf("POST %s/v2/employee/avatar/upload HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		u.Path, u.Host, ct, len(prefix)+1<<20)
	if _, err := conn.Write(append([]byte(req), prefix...)); err != nil {
		conn.Close()
		return nil, err
	}
	out := make(chan string, 1)
	answered := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(conn).ReadString('\n')
		answered <- strings.TrimSpace(line)
	}()
	go func() {
		defer conn.Close()
		start := time.Now()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case line := <-answered:
				out <- fmt.Sprintf("%s after %v", line, time.Since(start).Round(100*time.Millisecond))
				return
			case <-ctx.Done():
				out <- "still open at the end"
				return
			case <-tick.C:
				conn.Write([]byte{0})
			}
		}
	}()
	return out, nil
}

// keyAfterFile is an upload whose hash part follows its file part, as a
// form in page order sends it.
func keyAfterFile(api, hash string, id int64, png []byte) *http.Request {
	body, ct := multipartBody([][2]string{{"employee_id", fmt.Sprint(id)}}, fileHeader("image/png"), bytes.NewReader(png))
	b, _ := io.ReadAll(body)
	boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]
	b = append(bytes.TrimSuffix(b, []byte("--"+boundary+"--\r\n")),
		[]byte("--"+boundary+"\r\nContent-Disposition: form-data; name=\"hash\"\r\n\r\n"+hash+"\r\n--"+boundary+"--\r\n")...)
	return newReq(http.MethodPost, api+"/employee/avatar/upload", ct, bytes.NewReader(b), int64(len(b)))
}

// plainWithEmployee starts the plain build with default flags on SQLite,
// signs in as admin and creates an employee.
func plainWithEmployee(t *testing.T) (*proctest.Proc, *client, int64) {
	t.Helper()
	p := servePlain(t, sqliteStack(t))
	c := newClient(p.API)
	if err := c.signIn(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := c.must(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Ann"}})
	return p, c, int64(r.body["id"].(float64))
}

// TestTricklingUploads: strangers who open uploads without a key and
// trickle their file cannot keep a legitimate upload whose key follows its
// file waiting, and are cut themselves.
func TestTricklingUploads(t *testing.T) {
	ctx := t.Context()
	p, c, id := plainWithEmployee(t)
	png := corpus(t, "alpha.png")

	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var tricklers []<-chan string
	for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		ch, err := trickle(tctx, p.Base, ip)
		if err != nil {
			t.Fatal(err)
		}
		tricklers = append(tricklers, ch)
	}
	time.Sleep(200 * time.Millisecond) // they hold their slots now

	for _, from := range []struct {
		ip     string
		within time.Duration
	}{
		{"127.0.0.1", 3 * time.Second},  // another address: never waits for them
		{"127.0.0.2", 10 * time.Second}, // a trickler's own address: until it is cut
	} {
		cl := clientAt(p.API, from.ip)
		start := time.Now()
		r, err := cl.do(keyAfterFile(p.API, c.hash, id, png))
		took := time.Since(start)
		if err != nil || r.code() != 0 {
			t.Errorf("upload with the key after the file from %s = %v %v, want success", from.ip, r, err)
		}
		if took > from.within {
			t.Errorf("upload with the key after the file from %s took %v beside two tricklers, want under %v", from.ip, took, from.within)
		}
		t.Logf("key-after-file upload from %s beside two tricklers: %v", from.ip, took.Round(time.Millisecond))
	}
	for i, ch := range tricklers {
		got := <-ch
		if !strings.HasPrefix(got, "HTTP/1.1 400") {
			t.Errorf("trickler %d: %s, want cut with 400", i, got)
		}
		t.Logf("trickler %d: %s", i, got)
	}
}

// healthWatch polls /healthz every 100 ms until stop is called, and then
// reports the slowest answer and every failure (an answer slower than 1 s
// counts as one).
func healthWatch(base string) (stop func() (time.Duration, error)) {
	done := make(chan struct{})
	result := make(chan struct {
		slowest time.Duration
		err     error
	}, 1)
	go func() {
		hc := &http.Client{Timeout: 5 * time.Second}
		var slowest time.Duration
		var errs []error
		for {
			select {
			case <-done:
				result <- struct {
					slowest time.Duration
					err     error
				}{slowest, errors.Join(errs...)}
				return
			case <-time.After(100 * time.Millisecond):
			}
			start := time.Now()
			resp, err := hc.Get(base + "/healthz")
			took := time.Since(start)
			slowest = max(slowest, took)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("/healthz: %v", err))
			case resp.StatusCode != http.StatusOK:
				errs = append(errs, fmt.Errorf("/healthz = %d", resp.StatusCode))
			case took > time.Second:
				errs = append(errs, fmt.Errorf("/healthz took %v", took))
			}
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	return func() (time.Duration, error) {
		close(done)
		r := <-result
		return r.slowest, r.err
	}
}

// peakLimit is the peak memory (VmHWM) a server with default flags must
// stay within under any attack.
const peakLimit = 512 << 10 // KiB

// checkPeak reports a peak memory figure (KiB) over peakLimit.
func checkPeak(what string, peak int64) error {
	if peak > peakLimit {
		return fmt.Errorf("%s: peak memory %d MiB, want at most %d MiB", what, peak>>10, peakLimit>>20)
	}
	return nil
}

// documented checks that an answer is one of the codes allowed, and that a
// 234 says why in its errors list.
func documented(r reply, codes ...int) error {
	if !slices.Contains(codes, r.code()) {
		return fmt.Errorf("answer %s, want code in %v", r, codes)
	}
	if r.code() == 234 {
		errs, _ := r.body["errors"].([]any)
		if len(errs) == 0 {
			return fmt.Errorf("234 without a reason: %s", r)
		}
	}
	if r.code() == 15 && r.status != http.StatusTooManyRequests {
		return fmt.Errorf("15 with HTTP %d", r.status)
	}
	return nil
}

// TestResourceCheckersCatch: the checkers of this file fail on what they
// are there to catch.
func TestResourceCheckersCatch(t *testing.T) {
	if err := checkPeak("attack", peakLimit+1); err == nil {
		t.Error("checkPeak over the limit = nil")
	}
	if err := checkPeak("attack", peakLimit); err != nil {
		t.Errorf("checkPeak at the limit = %v", err)
	}
	bare234 := reply{status: 400, body: map[string]any{"success": false, "status": map[string]any{"code": 234.0}}}
	if err := documented(bare234, 234); err == nil {
		t.Error("documented(234 without errors) = nil")
	}
	crash := reply{status: 500, body: map[string]any{"success": false, "status": map[string]any{"code": 6.0}}}
	if err := documented(crash, 0, 15, 234); err == nil {
		t.Error("documented(6) = nil")
	}
	limited400 := reply{status: 400, body: map[string]any{"success": false, "status": map[string]any{"code": 15.0}}}
	if err := documented(limited400, 15); err == nil {
		t.Error("documented(15 with HTTP 400) = nil")
	}
	// A /healthz that stops answering is reported.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1200 * time.Millisecond)
	}))
	defer srv.Close()
	stop := healthWatch(srv.URL)
	time.Sleep(300 * time.Millisecond)
	if _, err := stop(); err == nil {
		t.Error("healthWatch of a /healthz answering in 1.2 s = nil")
	}
}

// expensiveUploads are the costliest pictures the server accepts with its
// default limits, each near the 50-megapixel budget and under the 16 MiB
// upload limit: a photo-like baseline JPEG, a PNG that compresses to
// almost nothing, and a GIF of 500 frames. Made once per package run.
var expensiveUploads = sync.OnceValue(func() []hostile {
	const side = 7071 // 50 megapixels
	var jb, pb, gb bytes.Buffer
	if err := jpeg.Encode(&jb, avatartest.Photo(side, side, 1), &jpeg.Options{Quality: 85}); err != nil {
		panic(err)
	}
	g := image.NewNRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		row := g.Pix[y*g.Stride:]
		for x := range side {
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = byte(x), byte(y), byte(x+y), 200
		}
	}
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&pb, g); err != nil {
		panic(err)
	}
	// As many 316×316 frames (up to the 500 allowed) as the memory budget
	// admits: the estimate counts the worst case of re-encoding them.
	var gifData []byte
	for frames := 500; frames > 0 && gifData == nil; frames -= 25 {
		anim := &gif.GIF{}
		for i := range frames {
			m := image.NewPaletted(image.Rect(0, 0, 316, 316), palette.Plan9)
			for j := range m.Pix {
				m.Pix[j] = byte((j*7 + i*13) % 256)
			}
			anim.Image = append(anim.Image, m)
			anim.Delay = append(anim.Delay, 2)
		}
		gb.Reset()
		if err := gif.EncodeAll(&gb, anim); err != nil {
			panic(err)
		}
		if fitsDefaultBudget(gb.Bytes()) {
			gifData = gb.Bytes()
		}
	}
	return []hostile{
		{name: "50 MP baseline JPEG photo", data: jb.Bytes(), mime: "image/jpeg"},
		{name: "50 MP RGBA PNG gradient", data: pb.Bytes(), mime: "image/png"},
		{name: fmt.Sprintf("GIF of %d frames of 316×316", bytes.Count(gifData, []byte{0x21, 0xF9, 0x04})), data: gifData, mime: "image/gif"},
	}
})

// fitsDefaultBudget reports whether the server with default flags admits
// the work of processing an upload of data.
func fitsDefaultBudget(data []byte) bool {
	o := api.Options{MemoryLimit: api.DefaultMemoryLimit, StaticCacheBytes: 64 << 20, MaxUploadBytes: 16 << 20}
	n, err := avatar.ProcessCost(data, avatar.DefaultLimits())
	return err == nil && n <= o.ImageBudget()
}

// costliestScans is the JPEG of the most decoding work the server accepts:
// the most scans its bound allows, at the largest square size whose
// memory the default budget admits.
func costliestScans() []byte {
	for side := 7071; ; side -= 100 {
		if b := avatartest.MaxAcceptedScans(side, side); fitsDefaultBudget(b) {
			return b
		}
	}
}

// hostile is a picture an attacker uploads.
type hostile struct {
	name string
	data []byte
	mime string
}

// secondTenant creates admin (as a first start would) and another master
// user in the stores of st, before a server starts on them, and returns
// the other's login and password.
func secondTenant(t *testing.T, st stack) (login, password string) {
	t.Helper()
	login, password = "tenant-b", "tenant-b-password"
	for _, u := range [][2]string{{"admin", adminPassword}, {login, password}} {
		args := append([]string{"user", "create", "--login", u[0], "--password", u[1]}, st.args...)
		if out, err := exec.Command(plain, args...).CombinedOutput(); err != nil {
			t.Fatalf("roster user create: %v\n%s", err, out)
		}
	}
	return login, password
}

// smallPNG is a 64×64 picture, different for each seed.
func smallPNG(seed uint64) []byte {
	var b bytes.Buffer
	png.Encode(&b, avatartest.Photo(64, 64, seed))
	return b.Bytes()
}

// TestTenantFairness: while one tenant loops the most expensive uploads
// the server accepts on four connections, another tenant's small upload
// and its first rendition are each answered within 3 s.
func TestTenantFairness(t *testing.T) {
	ctx := t.Context()
	st := sqliteStack(t)
	loginB, passwordB := secondTenant(t, st)
	p := servePlain(t, st)
	a := newClient(p.API)
	if err := a.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	b := clientAt(p.API, "127.0.0.9")
	r := b.must(t, "user/auth", map[string]any{"login": loginB, "password": passwordB})
	b.hash = r.body["hash"].(string)
	ea := int64(a.must(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Heavy"}}).body["id"].(float64))
	eb := int64(b.must(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Light"}}).body["id"].(float64))
	heavy := expensiveUploads()

	loadCtx, stopLoad := context.WithCancel(ctx)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		answers  = map[int]int{}
		loadErrs []error
	)
	for i := range 4 {
		wg.Go(func() {
			for n := i; loadCtx.Err() == nil; n++ {
				h := heavy[n%len(heavy)]
				r, err := a.upload(loadCtx, ea, h.data, h.mime)
				if loadCtx.Err() != nil {
					return
				}
				if err == nil {
					err = documented(r, 0, 15)
				}
				mu.Lock()
				answers[r.code()]++
				if err != nil && len(loadErrs) < 5 {
					loadErrs = append(loadErrs, fmt.Errorf("%s: %w", h.name, err))
				}
				mu.Unlock()
			}
		})
	}
	stopHealth := healthWatch(p.Base)
	time.Sleep(3 * time.Second) // the heavy uploads hold the workers now

	hc := &http.Client{Timeout: 30 * time.Second}
	var slowestUpload, slowestRendition time.Duration
	for round := range 3 {
		start := time.Now()
		r, err := b.upload(ctx, eb, smallPNG(uint64(round)), "image/png")
		took := time.Since(start)
		slowestUpload = max(slowestUpload, took)
		if err != nil || r.code() != 0 {
			t.Fatalf("round %d: the other tenant's 64×64 upload = %v %v", round, r, err)
		}
		if took > 3*time.Second {
			t.Errorf("round %d: the other tenant's 64×64 upload took %v, want at most 3 s", round, took)
		}
		name := r.body["value"].(string)
		start = time.Now()
		err = fetchImage(ctx, hc, staticURL(p.Base, name)+"?size=128")
		took = time.Since(start)
		slowestRendition = max(slowestRendition, took)
		if err != nil {
			t.Errorf("round %d: first ?size=128: %v", round, err)
		}
		if took > 3*time.Second {
			t.Errorf("round %d: the other tenant's first ?size=128 took %v, want at most 3 s", round, took)
		}
	}
	stopLoad()
	wg.Wait()
	slowestHealth, err := stopHealth()
	if err != nil {
		t.Error(err)
	}
	if err := errors.Join(loadErrs...); err != nil {
		t.Error(err)
	}
	if answers[0] == 0 {
		t.Errorf("the heavy tenant's uploads never succeeded: %v", answers)
	}
	peak, err := p.VM("VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPeak("fairness", peak); err != nil {
		t.Error(err)
	}
	t.Logf("fairness: other tenant's slowest 64×64 upload %v, slowest first rendition %v; heavy tenant's answers by code %v; /healthz slowest %v; peak memory %d MiB",
		slowestUpload.Round(time.Millisecond), slowestRendition.Round(time.Millisecond), answers, slowestHealth.Round(time.Millisecond), peak>>10)
}

// TestHostileImages: with default flags, bursts of the pictures that cost
// the most memory or decoding work for their size — a few hundred bytes
// that claim gigabytes of progressive coefficients, deep interlaced PNGs,
// a strip of 50 million pixels, JPEGs of endless refinement scans, and the
// costliest pictures the server does accept — keep the server's peak
// memory within 512 MiB and /healthz answering within a second; each
// upload gets its documented answer.
func TestHostileImages(t *testing.T) {
	ctx := t.Context()
	p, c, id := plainWithEmployee(t)
	bursts := []struct {
		hostile
		n     int   // at once
		codes []int // the answers allowed
	}{
		{hostile{"progressive 4-component 7000×7000 JPEG of end-of-band runs", avatartest.ProgressiveEOB(7000, 7000, 4), "image/jpeg"}, 6, []int{234}},
		{hostile{"16-bit interlaced RGBA PNG 7071×7071", avatartest.DeepInterlacedPNG(7071, 7071), "image/png"}, 4, []int{234}},
		{hostile{"PNG of 50,000,000×1 pixels", avatartest.StripPNG(50_000_000), "image/png"}, 4, []int{234}},
		{hostile{"JPEG of 100 refinement scans", avatartest.RefinementScans(7000, 7000, 100), "image/jpeg"}, 4, []int{234}},
		{hostile{"the most decoding work a JPEG may cost", costliestScans(), "image/jpeg"}, 4, []int{0, 15}},
	}
	for _, h := range expensiveUploads() {
		bursts = append(bursts, struct {
			hostile
			n     int
			codes []int
		}{h, 6, []int{0, 15}})
	}
	stopHealth := healthWatch(p.Base)
	for _, b := range bursts {
		start := time.Now()
		replies := make([]reply, b.n)
		errs := make([]error, b.n)
		var wg sync.WaitGroup
		for i := range b.n {
			wg.Go(func() {
				r, err := c.upload(ctx, id, b.data, b.mime)
				if err == nil {
					err = documented(r, b.codes...)
				}
				replies[i], errs[i] = r, err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Errorf("%s: %v", b.name, err)
		}
		peak, err := p.VM("VmHWM")
		if err != nil {
			t.Fatal(err)
		}
		if err := checkPeak(b.name, peak); err != nil {
			t.Error(err)
		}
		codes := map[int]int{}
		for _, r := range replies {
			codes[r.code()]++
		}
		reason := ""
		if errs, ok := replies[0].body["errors"].([]any); ok && len(errs) > 0 {
			reason = fmt.Sprint(errs[0].(map[string]any)["error"])
		}
		t.Logf("%s (%d bytes) ×%d at once: %v in %v, peak memory so far %d MiB %s", b.name, len(b.data), b.n, codes,
			time.Since(start).Round(time.Millisecond), peak>>10, reason)
	}
	slowest, err := stopHealth()
	if err != nil {
		t.Error(err)
	}
	t.Logf("slowest /healthz during the bursts: %v", slowest.Round(time.Millisecond))
}
