package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"maps"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/proctest"
	"roster/internal/roster"
	"roster/internal/sqlstore"
	"roster/internal/sqlstore/sqltest"
)

// TestRestart is the acceptance test of "restarting the server keeps all
// data; killing it (SIGKILL) between requests loses no acknowledged write".
// It builds the real binary once, runs it as a child process, and checks
// after every restart that each acknowledged write is there exactly, and
// that a write whose answer never came is either wholly there or wholly
// absent.
func TestRestart(t *testing.T) {
	bin := proctest.BuildForTest(t)
	stacks := []struct {
		name string
		// db gives the --db flag's value for a fresh installation, "" for
		// SQLite under --data.
		db func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return sqltest.PostgresURL(t) }},
	}
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			t.Run("sigkill", func(t *testing.T) {
				t.Parallel()
				testKillRestart(t, bin, newInstall(t, st.db(t)))
			})
			t.Run("sigterm", func(t *testing.T) {
				t.Parallel()
				testGracefulRestart(t, bin, newInstall(t, st.db(t)))
			})
		})
	}
}

const restartAdminPassword = "restart-admin-pw"

// install is one installation: its data directory and database.
type install struct {
	data, db string
}

func newInstall(t *testing.T, db string) install {
	return install{data: t.TempDir(), db: db}
}

func (in install) args() []string {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", in.data, "--rate-limit", "0"}
	if in.db != "" {
		args = append(args, "--db", in.db)
	}
	return args
}

// checkDatabase opens the installation's database once no server runs and
// runs its integrity check.
func (in install) checkDatabase(t *testing.T) {
	t.Helper()
	u := in.db
	if u == "" {
		u = "sqlite:" + filepath.Join(in.data, "roster.db")
	}
	db, err := sqlstore.Open(t.Context(), u)
	if err != nil {
		t.Fatalf("opening the database after the server stopped: %v", err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(t.Context()); err != nil {
		t.Errorf("IntegrityCheck() after the server stopped = %v", err)
	}
}

// startChild starts the server binary on the installation and waits until
// it listens.
func startChild(t *testing.T, bin string, in install) *proctest.Proc {
	t.Helper()
	// Only the variables this test sets configure the server.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROSTER_") {
			env = append(env, kv)
		}
	}
	// A race-enabled child would wait a second at every exit for late
	// reports; its races are reported as they happen anyway.
	env = append(env, "ROSTER_ADMIN_PASSWORD="+restartAdminPassword,
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return proctest.Start(t, bin, in.args(), env, 30*time.Second)
}

// killChild ends the process with SIGKILL and waits for it.
func killChild(t *testing.T, p *proctest.Proc) {
	t.Helper()
	if !p.Alive() {
		t.Fatalf("server exited before the kill\nstderr:\n%s", p.Stderr())
	}
	p.Kill()
	checkLog(t, p)
}

// terminateChild sends SIGTERM and wants a clean exit within the shutdown
// bound.
func terminateChild(t *testing.T, p *proctest.Proc) {
	t.Helper()
	err := p.Stop()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%v\nstderr:\n%s", err, p.Stderr())
	}
	if err != nil {
		t.Errorf("server exit after SIGTERM = %v, want exit status 0\nstderr:\n%s", err, p.Stderr())
	}
	checkLog(t, p)
}

func checkLog(t *testing.T, p *proctest.Proc) {
	t.Helper()
	for _, bad := range []string{"DATA RACE", "panic:"} {
		if strings.Contains(p.Stderr(), bad) {
			t.Errorf("server log holds %q:\n%s", bad, p.Stderr())
		}
	}
}

// restartPassword is every registered sub-user's password.
const restartPassword = "Sub-pw-1"

// subUserView is the part of a sub-user object the test writes and reads.
type subUserView struct {
	ID              int64  `json:"id"`
	Login           string `json:"login"`
	FirstName       string `json:"first_name"`
	MiddleName      string `json:"middle_name"`
	LastName        string `json:"last_name"`
	Phone           string `json:"phone"`
	Activated       bool   `json:"activated"`
	SecurityGroupID *int64 `json:"security_group_id"`
}

// anyNewName in an expected employee's avatar_file_name stands for the
// name of an upload whose answer never came: any stored name will do.
const anyNewName = "<any new name>"

// world is what one client has written: its employees (by personnel
// number), departments (by label) and sub-users (by login), all tagged with
// the client's prefix. An id of 0 is one the client never learned.
type world struct {
	emps  map[string]roster.Employee
	depts map[string]roster.Department
	subs  map[string]subUserView
}

func newWorld() world {
	return world{map[string]roster.Employee{}, map[string]roster.Department{}, map[string]subUserView{}}
}

func (w world) clone() world {
	return world{maps.Clone(w.emps), maps.Clone(w.depts), maps.Clone(w.subs)}
}

// diff lists how the server's state got differs from the expected state
// want, where want's unknown ids and upload names match anything; "" when
// they agree.
func (want world) diff(got world) string {
	var b strings.Builder
	line := func(kind, key string, g, w any, gok, wok bool) {
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		switch {
		case !gok:
			fmt.Fprintf(&b, "  %s %s: missing, want %s\n", kind, key, wj)
		case !wok:
			fmt.Fprintf(&b, "  %s %s: %s, want none\n", kind, key, gj)
		default:
			fmt.Fprintf(&b, "  %s %s: %s,\n    want %s\n", kind, key, gj, wj)
		}
	}
	for _, k := range unionKeys(want.emps, got.emps) {
		w, wok := want.emps[k]
		g, gok := got.emps[k]
		if wok && gok {
			if w.ID == 0 {
				w.ID = g.ID
			}
			if w.AvatarFileName != nil && *w.AvatarFileName == anyNewName && g.AvatarFileName != nil {
				w.AvatarFileName = g.AvatarFileName
			}
		}
		if !wok || !gok || !reflect.DeepEqual(w, g) {
			line("employee", k, g, w, gok, wok)
		}
	}
	for _, k := range unionKeys(want.depts, got.depts) {
		w, wok := want.depts[k]
		g, gok := got.depts[k]
		if wok && gok && w.ID == 0 {
			w.ID = g.ID
		}
		if !wok || !gok || !reflect.DeepEqual(w, g) {
			line("department", k, g, w, gok, wok)
		}
	}
	for _, k := range unionKeys(want.subs, got.subs) {
		w, wok := want.subs[k]
		g, gok := got.subs[k]
		if wok && gok && w.ID == 0 {
			w.ID = g.ID
		}
		if !wok || !gok || w != g {
			line("sub-user", k, g, w, gok, wok)
		}
	}
	return b.String()
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// writeOp is one write a client makes.
type writeOp struct {
	name   string
	call   string
	params map[string]any
	upload []byte // the file of an employee/avatar/upload
	// apply gives the world after the write, from its answer, or from nil
	// when the answer never came.
	apply func(w world, answer map[string]any) world
}

// restartClient writes through the API as admin, one request at a time,
// and keeps the world its acknowledged writes have made.
type restartClient struct {
	prefix  string
	hash    string
	api     string
	http    *http.Client
	rand    *rand.Rand
	counter int
	// tags are the client's tags, made at its start, which its employees
	// carry.
	tags []int64
	// cur is the world of the acknowledged writes; pending, when set, is
	// the world had the write whose answer never came taken effect.
	cur, pending *world
	acked        int
}

func newRestartClient(t *testing.T, n int, api string, seed uint64) *restartClient {
	c := &restartClient{prefix: fmt.Sprintf("c%d-", n), api: api, http: &http.Client{Timeout: 30 * time.Second},
		rand: rand.New(rand.NewPCG(seed, uint64(n)))}
	w := newWorld()
	c.cur = &w
	answer, err := c.send(writeOp{call: "user/auth", params: map[string]any{"login": "admin", "password": restartAdminPassword}})
	if err != nil || answer["success"] != true {
		t.Fatalf("user/auth as admin = %v, %v", answer, err)
	}
	c.hash, _ = answer["hash"].(string)
	for i := range 5 {
		answer, err := c.send(writeOp{call: "tag/create", params: map[string]any{"tag": map[string]any{"name": fmt.Sprint(c.prefix, i), "color": "808080"}}})
		if err != nil || answer["success"] != true {
			t.Fatalf("tag/create = %v, %v", answer, err)
		}
		c.tags = append(c.tags, answerID(answer))
	}
	return c
}

// send makes one request. An error means no whole answer came: the write
// may or may not have happened.
func (c *restartClient) send(o writeOp) (map[string]any, error) {
	var req *http.Request
	var err error
	if o.upload != nil {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range o.params {
			mw.WriteField(k, fmt.Sprint(v))
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="a.png"`)
		h.Set("Content-Type", "image/png")
		part, _ := mw.CreatePart(h)
		part.Write(o.upload)
		mw.Close()
		req, err = http.NewRequest(http.MethodPost, c.api+"/"+o.call, &body)
		if err == nil {
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "NVX "+c.hash)
		}
	} else {
		params := maps.Clone(o.params)
		if c.hash != "" {
			params["hash"] = c.hash
		}
		b, _ := json.Marshal(params)
		req, err = http.NewRequest(http.MethodPost, c.api+"/"+o.call, bytes.NewReader(b))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var answer map[string]any
	if err := json.Unmarshal(raw, &answer); err != nil {
		return nil, fmt.Errorf("%s: answer %q: %w", o.call, raw, err)
	}
	return answer, nil
}

// read makes a read that must succeed into v.
func (c *restartClient) read(t *testing.T, call string, v any) {
	t.Helper()
	answer, err := c.send(writeOp{call: call, params: map[string]any{}})
	if err != nil || answer["success"] != true {
		t.Fatalf("%s = %v, %v", call, answer, err)
	}
	b, _ := json.Marshal(answer)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", call, err)
	}
}

// observe reads this client's part of the server's state.
func (c *restartClient) observe(t *testing.T) world {
	t.Helper()
	w := newWorld()
	var emps struct{ List []roster.Employee }
	c.read(t, "employee/list", &emps)
	for _, e := range emps.List {
		if strings.HasPrefix(e.PersonnelNumber, c.prefix) {
			w.emps[e.PersonnelNumber] = e
		}
	}
	var depts struct{ List []roster.Department }
	c.read(t, "department/list", &depts)
	for _, d := range depts.List {
		if strings.HasPrefix(d.Label, c.prefix) {
			w.depts[d.Label] = d
		}
	}
	var subs struct{ List []subUserView }
	c.read(t, "subuser/list", &subs)
	for _, s := range subs.List {
		if strings.HasPrefix(s.Login, c.prefix) {
			w.subs[s.Login] = s
		}
	}
	return w
}

// verify checks the server's state against the acknowledged writes (and
// the one unacknowledged write), and takes it as the new acknowledged
// state.
func (c *restartClient) verify(t *testing.T, api string) {
	t.Helper()
	c.api = api
	got := c.observe(t)
	d := c.cur.diff(got)
	if d != "" && c.pending != nil {
		if pd := c.pending.diff(got); pd == "" {
			d = ""
		} else {
			d += "  or, with the unanswered write, which may have happened:\n" + pd
		}
	}
	if d != "" {
		t.Fatalf("client %s: after the restart the server's state differs from the acknowledged writes:\n%s", c.prefix, d)
	}
	c.cur, c.pending = &got, nil
	// Every stored avatar is whole and served.
	for _, e := range got.emps {
		if e.AvatarFileName == nil {
			continue
		}
		resp, err := c.http.Get(api + "/static/employee/avatars/" + *e.AvatarFileName)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if _, err := png.Decode(bytes.NewReader(body)); resp.StatusCode != http.StatusOK || err != nil {
			t.Errorf("GET avatar %s of %s = %d, %d bytes, decoding: %v; want a whole PNG", *e.AvatarFileName,
				e.PersonnelNumber, resp.StatusCode, len(body), err)
		}
	}
}

// work makes random writes until one fails to answer (the server died) or
// max writes are done.
func (c *restartClient) work(t *testing.T, max int) {
	for range max {
		o := c.next()
		answer, err := c.send(o)
		if err != nil {
			after := o.apply(c.cur.clone(), nil)
			c.pending = &after
			return
		}
		if answer["success"] != true {
			t.Errorf("client %s: %s(%v) = %v, want success", c.prefix, o.call, o.params, answer)
			return
		}
		after := o.apply(c.cur.clone(), answer)
		c.cur = &after
		c.acked++
	}
}

func (c *restartClient) tag(kind string) string {
	c.counter++
	return fmt.Sprintf("%s%s%d", c.prefix, kind, c.counter)
}

// randomKey picks a random key of m, "" when m is empty.
func randomKey[V any](r *rand.Rand, m map[string]V) string {
	if len(m) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(m))
	return keys[r.IntN(len(keys))]
}

func answerID(answer map[string]any) int64 {
	if answer == nil {
		return 0
	}
	f, _ := answer["id"].(float64)
	return int64(f)
}

var (
	restartNames = []string{"Ann", "Émile", "Zoë", "Γιώργος", "Олег", "李", "O'Neil", "Bob"}
	restartPNG   = restartImage()
)

func restartImage() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(0, 0, color.NRGBA{255, 0, 0, 255})
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// employee makes an employee with random fields under tag.
func (c *restartClient) employee(tag string) roster.Employee {
	r := c.rand
	e := roster.Employee{
		FirstName:  restartNames[r.IntN(len(restartNames))],
		MiddleName: []string{"", "Maria", "Ĳsbrand"}[r.IntN(3)],
		LastName:   restartNames[r.IntN(len(restartNames))] + fmt.Sprint(r.IntN(100)),
		Phone:      fmt.Sprint(r.IntN(1_000_000_000)), DriverLicenseNumber: fmt.Sprintf("DL%d", r.IntN(1000)),
		DriverLicenseCats: []string{"", "B", "A,B,C1"}[r.IntN(3)], PersonnelNumber: tag, Tags: []int64{},
	}
	if r.IntN(2) == 0 {
		e.Email = tag + "@example.com"
	}
	if r.IntN(2) == 0 {
		c.counter++
		e.TrackerID = refTo(int64(c.counter*10 + int(c.prefix[1]-'0')))
	}
	if r.IntN(2) == 0 {
		e.DriverLicenseValidTill = refTo(fmt.Sprintf("20%02d-%02d-%02d", 30+r.IntN(10), 1+r.IntN(12), 1+r.IntN(28)))
	}
	if r.IntN(2) == 0 {
		e.HardwareKey = refTo(fmt.Sprintf("hk-%s-%x", tag, r.Uint32())) // unique in an account, as its tag
	}
	if r.IntN(2) == 0 {
		e.Location = &roster.Location{Lat: float64(r.IntN(180)-90) + 0.25, Lng: float64(r.IntN(360)-180) + 0.5, Address: "Straße " + fmt.Sprint(r.IntN(99))}
	}
	if d := randomKey(r, c.cur.depts); d != "" && r.IntN(3) > 0 {
		e.DepartmentID = refTo(c.cur.depts[d].ID)
	}
	for range r.IntN(4) {
		e.Tags = append(e.Tags, c.tags[r.IntN(len(c.tags))])
	}
	return e
}

func refTo[T any](v T) *T { return &v }

// employeeParams is the employee object as a request carries it.
func employeeParams(e roster.Employee, withID bool) map[string]any {
	var m map[string]any
	b, _ := json.Marshal(e)
	json.Unmarshal(b, &m)
	delete(m, "icon_id")
	delete(m, "avatar_file_name")
	if !withID {
		delete(m, "id")
	}
	return m
}

// next picks a random write that makes sense in the current world.
func (c *restartClient) next() writeOp {
	r := c.rand
	emp := randomKey(r, c.cur.emps)
	dept := randomKey(r, c.cur.depts)
	for {
		switch r.IntN(10) {
		case 0, 1:
			tag := c.tag("e")
			e := c.employee(tag)
			return writeOp{name: "create employee", call: "employee/create", params: map[string]any{"employee": employeeParams(e, false)},
				apply: func(w world, answer map[string]any) world {
					e.ID = answerID(answer)
					w.emps[tag] = e
					return w
				}}
		case 2, 3:
			if emp == "" {
				continue
			}
			old := c.cur.emps[emp]
			e := c.employee(emp)
			e.ID = old.ID
			return writeOp{name: "update employee", call: "employee/update", params: map[string]any{"employee": employeeParams(e, true)},
				apply: func(w world, _ map[string]any) world {
					e.IconID, e.AvatarFileName = old.IconID, old.AvatarFileName
					w.emps[emp] = e
					return w
				}}
		case 4:
			if emp == "" {
				continue
			}
			var icon *int64
			if r.IntN(3) > 0 {
				icon = refTo(int64(1 + r.IntN(5000)))
			}
			return writeOp{name: "assign icon", call: "employee/avatar/assign", params: map[string]any{"employee_id": c.cur.emps[emp].ID, "icon_id": icon},
				apply: func(w world, _ map[string]any) world {
					e := w.emps[emp]
					e.IconID = icon
					w.emps[emp] = e
					return w
				}}
		case 5:
			if emp == "" {
				continue
			}
			return writeOp{name: "upload avatar", call: "employee/avatar/upload", params: map[string]any{"employee_id": c.cur.emps[emp].ID},
				upload: restartPNG, apply: func(w world, answer map[string]any) world {
					e := w.emps[emp]
					name, _ := answer["value"].(string)
					if answer == nil {
						name = anyNewName
					}
					e.AvatarFileName = &name
					w.emps[emp] = e
					return w
				}}
		case 6:
			if emp == "" || r.IntN(2) == 0 {
				continue
			}
			return writeOp{name: "delete employee", call: "employee/delete", params: map[string]any{"employee_id": c.cur.emps[emp].ID},
				apply: func(w world, _ map[string]any) world {
					delete(w.emps, emp)
					return w
				}}
		case 7:
			label := c.tag("d")
			d := roster.Department{Label: label}
			if r.IntN(2) == 0 {
				d.Location = &roster.Location{Lat: 48.25, Lng: float64(r.IntN(100)), Address: "Depot"}
			}
			return writeOp{name: "create department", call: "department/create", params: map[string]any{"department": d},
				apply: func(w world, answer map[string]any) world {
					d.ID = answerID(answer)
					w.depts[label] = d
					return w
				}}
		case 8:
			if dept == "" {
				continue
			}
			if r.IntN(2) == 0 {
				d := c.cur.depts[dept]
				d.Location = &roster.Location{Lat: -33.5, Lng: float64(r.IntN(100)), Address: "Sydney " + fmt.Sprint(r.IntN(100))}
				if r.IntN(3) == 0 {
					d.Location = nil
				}
				return writeOp{name: "update department", call: "department/update", params: map[string]any{"department": d},
					apply: func(w world, _ map[string]any) world {
						w.depts[dept] = d
						return w
					}}
			}
			id := c.cur.depts[dept].ID
			return writeOp{name: "delete department", call: "department/delete", params: map[string]any{"department_id": id},
				apply: func(w world, _ map[string]any) world {
					delete(w.depts, dept)
					for k, e := range w.emps {
						if e.DepartmentID != nil && *e.DepartmentID == id {
							e.DepartmentID = nil
							w.emps[k] = e
						}
					}
					return w
				}}
		case 9:
			login := c.tag("s") + "@example.com"
			u := subUserView{Login: login, FirstName: restartNames[r.IntN(len(restartNames))], LastName: "Sub",
				Phone: fmt.Sprint(4900000000 + r.IntN(1000)), Activated: r.IntN(4) > 0}
			return writeOp{name: "register sub-user", call: "subuser/register",
				params: map[string]any{"user": u, "password": restartPassword},
				apply: func(w world, answer map[string]any) world {
					u.ID = answerID(answer)
					w.subs[login] = u
					return w
				}}
		}
	}
}

func restartSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	return seed
}

// testKillRestart kills the server at random moments while two clients
// write, restarts it on the same data, and checks the data each time.
func testKillRestart(t *testing.T, bin string, in install) {
	seed := restartSeed(t)
	r := rand.New(rand.NewPCG(seed, 0))
	srv := startChild(t, bin, in)
	clients := []*restartClient{newRestartClient(t, 1, srv.API, seed), newRestartClient(t, 2, srv.API, seed)}
	const cycles = 5
	total := 0
	for cycle := range cycles {
		start := time.Now()
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() { c.work(t, 1000) })
		}
		// Sometimes at once, mostly after some writes; the two clients'
		// requests are then in all stages of flight.
		time.Sleep(time.Duration(r.IntN(600)) * time.Millisecond)
		killChild(t, srv)
		wg.Wait()
		if t.Failed() {
			return
		}
		in.checkDatabase(t)

		srv = startChild(t, bin, in)
		acked, pending := 0, 0
		for _, c := range clients {
			acked += c.acked
			if c.pending != nil {
				pending++
			}
			c.verify(t, srv.API)
		}
		t.Logf("cycle %d: %d writes acknowledged so far, %d unanswered at the kill, %v", cycle+1, acked, pending, time.Since(start).Round(time.Millisecond))
		total = acked
	}
	if total == 0 {
		t.Errorf("no write was acknowledged in %d cycles: the test tested nothing", cycles)
	}
	// Sessions and passwords made before the kills still work.
	for _, c := range clients {
		var info struct {
			UserInfo struct{ Login string } `json:"user_info"`
		}
		c.read(t, "user/get_info", &info)
		if info.UserInfo.Login != "admin" {
			t.Errorf("user/get_info with a session from before the kills = %+v, want admin", info)
		}
		for _, s := range c.cur.subs {
			if !s.Activated {
				continue
			}
			a := &restartClient{api: srv.API, http: c.http}
			answer, err := a.send(writeOp{call: "user/auth", params: map[string]any{"login": s.Login, "password": restartPassword}})
			if err != nil || answer["success"] != true {
				t.Errorf("user/auth as %s after the kills = %v, %v, want success", s.Login, answer, err)
			}
			break
		}
	}
	terminateChild(t, srv)
}

// testGracefulRestart stops the server with SIGTERM, once when it is idle
// and once under load, and checks that it exits cleanly and keeps the data.
func testGracefulRestart(t *testing.T, bin string, in install) {
	seed := restartSeed(t)
	srv := startChild(t, bin, in)
	clients := []*restartClient{newRestartClient(t, 1, srv.API, seed), newRestartClient(t, 2, srv.API, seed)}

	// Idle: every write answered, then SIGTERM.
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { c.work(t, 25) })
	}
	wg.Wait()
	terminateChild(t, srv)
	in.checkDatabase(t)
	srv = startChild(t, bin, in)
	for _, c := range clients {
		if c.pending != nil {
			t.Fatalf("client %s: a write went unanswered with the server up", c.prefix)
		}
		c.verify(t, srv.API)
	}

	// Under load: requests in flight are finished; the server exits 0.
	for _, c := range clients {
		wg.Go(func() { c.work(t, 1000) })
	}
	time.Sleep(150 * time.Millisecond)
	terminateChild(t, srv)
	wg.Wait()
	in.checkDatabase(t)
	srv = startChild(t, bin, in)
	for _, c := range clients {
		c.verify(t, srv.API)
	}
	terminateChild(t, srv)
}
