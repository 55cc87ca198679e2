package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"regexp"
	"slices"
	"testing"
)

// fullEmployee is an employee object with every writable field set, and the
// two read-only ones, which create and update must ignore.
func fullEmployee(dept, tracker int64, tags []int64) map[string]any {
	return map[string]any{
		"tracker_id":                tracker,
		"first_name":                "Zoë",
		"middle_name":               "Łucja",
		"last_name":                 "Ng-Müller",
		"email":                     "zoe.ng@example.com",
		"phone":                     "4915112345678",
		"driver_license_number":     "B072RRE2I55",
		"driver_license_cats":       "A,B,C1",
		"driver_license_issue_date": "2011-05-31",
		"driver_license_valid_till": "2031-05-30",
		"hardware_key":              fmt.Sprintf("a1b2c3d4-%d", tracker), // unique in an account, as the tracker
		"department_id":             dept,
		"location":                  map[string]any{"lat": 52.520008, "lng": -13.404954, "address": "Alexanderplatz 1, Berlin", "radius": 150},
		"personnel_number":          "HR-0042",
		"ssn":                       "078-05-1120",
		"tags":                      tags,
		"icon_id":                   77,
		"avatar_file_name":          "0123456789abcdef0123456789abcdef.png",
	}
}

// wantEmployee is what reading an employee should give after it was written
// with the object sent: every writable field as sent (absent ones null or
// empty, a location's radius 0), and icon_id and avatar_file_name as the
// avatar calls left them.
func wantEmployee(id int64, sent map[string]any, icon, avatar any) map[string]any {
	want := map[string]any{
		"id": id, "tracker_id": nil, "first_name": "", "middle_name": "", "last_name": "", "email": "",
		"phone": "", "driver_license_number": "", "driver_license_cats": "", "driver_license_issue_date": nil,
		"driver_license_valid_till": nil, "hardware_key": nil, "icon_id": icon, "avatar_file_name": avatar,
		"department_id": nil, "location": nil, "personnel_number": "", "ssn": "", "tags": []any{},
	}
	for k, v := range sent {
		switch k {
		case "id", "employee_id", "icon_id", "avatar_file_name":
			continue
		}
		if _, ok := want[k]; ok {
			want[k] = v
		}
	}
	want["location"] = wantLocation(want["location"])
	return want
}

// wantLocation is a location as answers give it after it was sent: a
// radius left out (or null) reads as 0.
func wantLocation(sent any) any {
	m, ok := sent.(map[string]any)
	if !ok {
		return sent
	}
	if m["radius"] == nil {
		return with(m, map[string]any{"radius": 0})
	}
	return m
}

// wantDepartment is a department as department/list gives it after it was
// sent.
func wantDepartment(sent map[string]any) map[string]any {
	want := with(map[string]any{"location": nil}, sent)
	want["location"] = wantLocation(want["location"])
	return want
}

// tinyPNG is a valid 2×2 PNG.
func tinyPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.NRGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploadAvatar uploads a small PNG as the employee's avatar and returns the
// stored name.
func uploadAvatar(t *testing.T, s session, id int64) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("hash", s.hash)
	mw.WriteField("employee_id", textValue(id))
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="me.png"`)
	h.Set("Content-Type", "image/png")
	w, _ := mw.CreatePart(h)
	w.Write(tinyPNG(t))
	mw.Close()
	req := mustRequest(t, http.MethodPost, s.api+"/employee/avatar/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r := send(t, req)
	name, _ := r.body["value"].(string)
	if r.code() != 0 || name == "" {
		t.Fatalf("employee/avatar/upload = %d %s, want success", r.status, r.raw)
	}
	return name
}

// callCase proves one call in each request form by its real effect.
type callCase struct {
	call string
	// setup makes what the forms share (they run in parallel, so only
	// what none of them changes) and returns the test of one form.
	setup func(t *testing.T, st *stack) func(t *testing.T, f form)
}

// each is the setup of a call whose forms share nothing.
func each(run func(t *testing.T, st *stack, f form)) func(*testing.T, *stack) func(*testing.T, form) {
	return func(_ *testing.T, st *stack) func(*testing.T, form) {
		return func(t *testing.T, f form) { run(t, st, f) }
	}
}

// TestCalls runs every call of routes.go but the two avatar ones in each of
// the three plain request forms, and checks what the call really did.
func TestCalls(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		for _, c := range callCases {
			t.Run(c.call, func(t *testing.T) {
				t.Parallel()
				run := c.setup(t, st)
				for _, f := range plainForms {
					t.Run(string(f), func(t *testing.T) {
						t.Parallel()
						run(t, f)
					})
				}
			})
		}
	})
}

// TestCallsCoverRoutes keeps TestCalls and the golden files complete: every
// call routes.go serves has a case.
func TestCallsCoverRoutes(t *testing.T) {
	src, err := os.ReadFile("../../internal/api/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var routed []string
	for _, m := range regexp.MustCompile(`s\.handle\("([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		routed = append(routed, m[1])
	}
	if len(routed) == 0 {
		t.Fatal("found no s.handle calls in routes.go")
	}
	var cased, golden []string
	for _, c := range callCases {
		cased = append(cased, c.call)
	}
	for _, steps := range goldenScenarios {
		for _, step := range steps {
			golden = append(golden, step.call)
		}
	}
	for _, call := range routed {
		if !slices.Contains(cased, call) && !slices.Contains(testedElsewhere, call) {
			t.Errorf("routes.go serves %s, which TestCalls does not cover", call)
		}
		if !slices.Contains(golden, call) && !slices.Contains(testedElsewhere, call) {
			t.Errorf("routes.go serves %s, which has no golden answers", call)
		}
	}
}

// testedElsewhere are calls with end-to-end tests of their own, outside
// TestCalls and TestGolden.
var testedElsewhere = []string{
	"employee/avatar/assign",                 // avatar_test.go; TestGolden has its answers too
	"employee/avatar/upload",                 // avatar_test.go
	"tag/avatar/assign", "tag/avatar/upload", // TestTagAvatar; TestGolden has assign's answers too
	"api/key/create", "api/key/list", "api/key/delete", // keys_test.go
	"data/spreadsheet/parse", "employee/import/start", "employee/import/read", "employee/import/list", // import_test.go
	"employee/import/download_failed", "data/import/list", "data/import/read", "employee/batch_convert",
}

var callCases = append([]callCase{
	{"user/auth", each(func(t *testing.T, st *stack, f form) {
		r := do(t, st.api, f, "user/auth", map[string]any{"login": "admin", "password": st.admin})
		if !check(t, "user/auth", r, 0) {
			return
		}
		h, _ := r.body["hash"].(string)
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(h) || h == st.master.hash {
			t.Fatalf("user/auth hash = %q, want a new 32-hex key", h)
		}
		if len(r.body) != 3 || r.body["type"] != "authenticated" {
			t.Errorf("user/auth = %s, want success, type authenticated and hash only", r.raw)
		}
		info, _ := session{api: st.api, login: "admin", hash: h}.ok(t, "user/get_info", nil).body["user_info"].(map[string]any)
		if info["login"] != "admin" {
			t.Errorf("get_info with the new hash = %v, want admin's", info)
		}
		// A null dealer_id is no dealer_id.
		check(t, "user/auth with dealer_id null", do(t, st.api, f, "user/auth",
			map[string]any{"login": "admin", "password": st.admin, "dealer_id": nil}), 0)
		// Roster has no dealers: any dealer_id is one the user is not of,
		// with the right password or not, and a malformed one is 7.
		for _, tt := range []struct {
			password string
			dealer   any
			want     int
		}{
			{st.admin, 1, 102},
			{st.admin, 0, 102},
			{st.admin, "42", 102},
			{"wrong", 1, 102},
			{st.admin, "abc", 7},
			{st.admin, 1.5, 7},
		} {
			r := do(t, st.api, f, "user/auth", map[string]any{"login": "admin", "password": tt.password, "dealer_id": tt.dealer})
			if check(t, fmt.Sprintf("user/auth(dealer_id %v, password %q)", tt.dealer, tt.password), r, tt.want) && r.body["hash"] != nil {
				t.Errorf("refused user/auth carries a hash: %s", r.raw)
			}
			if tt.want == 7 {
				if got := errorParams(r); len(got) != 1 || got[0] != "dealer_id" {
					t.Errorf("user/auth(dealer_id %v) names %v, want [dealer_id]", tt.dealer, got)
				}
			}
		}
	})},
	{"user/logout", each(func(t *testing.T, st *stack, f form) {
		s := st.login(t, "admin", st.admin)
		s.want(t, f, "user/logout", nil, 0)
		s.want(t, formJSON, "user/get_info", nil, 4)
		s.want(t, formJSON, "user/logout", nil, 4)
		st.master.want(t, formJSON, "user/get_info", nil, 0) // other sessions live on
	})},
	{"user/session/renew", func(t *testing.T, st *stack) func(*testing.T, form) {
		// TestSessionExpiry shows that renewing moves the expiry.
		ended := st.login(t, "admin", st.admin)
		ended.ok(t, "user/logout", nil)
		return func(t *testing.T, f form) {
			st.master.want(t, f, "user/session/renew", nil, 0)
			st.master.want(t, formJSON, "user/get_info", nil, 0)
			ended.want(t, f, "user/session/renew", nil, 4)
		}
	}},
	{"user/get_info", func(t *testing.T, st *stack) func(*testing.T, form) {
		g := st.master.createGroup(t, unique("group"), "tracker_update", "employee_update")
		name := uniqueLogin("sub")
		details := someDetails("info")
		id := st.master.register(t, with(details, map[string]any{"login": name, "first_name": "Zoë", "middle_name": "M",
			"last_name": "Ng", "phone": "4930123456", "security_group_id": g}), subPassword)
		sub := st.login(t, name, subPassword)
		plain := st.subUser(t, st.master, nil) // the default group: no rights
		return func(t *testing.T, f form) {
			r := st.master.want(t, f, "user/get_info", nil, 0)
			if _, ok := r.body["privileges"]; ok {
				t.Errorf("master's user/get_info = %s, want no top-level privileges", r.raw)
			}
			info, _ := r.body["user_info"].(map[string]any)
			recent(t, "master", info["creation_date"])
			delete(info, "creation_date")
			admin := with(infoDetails(noDetails), map[string]any{"id": 1, "login": "admin", "first_name": "", "middle_name": "", "last_name": "", "phone": ""})
			same(t, "master's user_info", info, with(admin, map[string]any{"master": nil, "privileges": nil}))

			r = sub.want(t, f, "user/get_info", nil, 0)
			same(t, "sub-user's top-level privileges", r.body["privileges"],
				map[string]any{"rights": []string{"employee_update", "tracker_update"}})
			same(t, "top-level privileges of a sub-user with no rights",
				plain.want(t, f, "user/get_info", nil, 0).body["privileges"], map[string]any{"rights": []string{}})
			info, _ = r.body["user_info"].(map[string]any)
			recent(t, "sub-user", info["creation_date"])
			delete(info, "creation_date")
			master, _ := info["master"].(map[string]any)
			recent(t, "sub-user's master", master["creation_date"])
			delete(master, "creation_date")
			same(t, "sub-user's user_info", info, with(infoDetails(details), map[string]any{
				"id": id, "login": name, "first_name": "Zoë", "middle_name": "M", "last_name": "Ng", "phone": "4930123456",
				"master": admin, "privileges": map[string]any{"rights": []string{"employee_update", "tracker_update"}},
			}))
		}
	}},

	{"subuser/register", each(func(t *testing.T, st *stack, f form) {
		g := st.master.createGroup(t, unique("group"), "employee_update")
		user := with(someDetails(string(f)), map[string]any{"login": uniqueLogin("Zoë.sub_"), "first_name": "Zoë", "middle_name": "Ann",
			"last_name": "Ng", "phone": "4930123456", "security_group_id": g, "activated": true,
			"creation_date": "2001-01-01 00:00:00", "id": 999})
		r := st.master.want(t, f, "subuser/register", map[string]any{"user": user, "password": subPassword}, 0)
		id := r.int("id")
		got := st.master.find(t, "subuser/list", id)
		recent(t, "new sub-user", got["creation_date"])
		delete(got, "creation_date")
		want := with(user, map[string]any{"id": id})
		delete(want, "creation_date")
		same(t, "registered sub-user", got, want)
		sub := st.login(t, user["login"].(string), subPassword)
		sub.createEmployee(t, map[string]any{"first_name": "By a sub-user"})
	})},
	{"subuser/list", func(t *testing.T, st *stack) func(*testing.T, form) {
		a := st.newAccount(t)
		g := a.createGroup(t, "g")
		u1 := with(noDetails, map[string]any{"login": uniqueLogin("one"), "first_name": "One", "middle_name": "", "last_name": "",
			"phone": "", "security_group_id": g, "activated": true})
		u2 := with(someDetails("two"), map[string]any{"login": uniqueLogin("two"), "first_name": "", "middle_name": "", "last_name": "Two",
			"phone": "123456789012345", "security_group_id": nil, "activated": false, "legal_type": "sole_trader"})
		u1["id"] = a.register(t, u1, "Passw0rd-1")
		u2["id"] = a.register(t, u2, "Passw0rd-2")
		return func(t *testing.T, f form) {
			list, _ := a.want(t, f, "subuser/list", nil, 0).body["list"].([]any)
			for _, v := range list {
				m, _ := v.(map[string]any)
				recent(t, "listed sub-user", m["creation_date"])
				delete(m, "creation_date")
			}
			same(t, "subuser/list", list, []any{u1, u2})
			if other := st.master.list(t, "subuser/list", nil); slices.ContainsFunc(ids(other), func(id int64) bool {
				return id == u1["id"] || id == u2["id"]
			}) {
				t.Errorf("another account's subuser/list shows this account's sub-users: %v", other)
			}
		}
	}},
	{"subuser/update", each(func(t *testing.T, st *stack, f form) {
		g1 := st.master.createGroup(t, unique("group"))
		g2 := st.master.createGroup(t, unique("group"), "employee_update")
		name := uniqueLogin("before")
		id := st.master.register(t, map[string]any{"login": name, "first_name": "Old", "security_group_id": g1}, subPassword)
		sub := st.login(t, name, subPassword)
		created := st.master.find(t, "subuser/list", id)["creation_date"]
		sub.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "X"}}, 13)

		user := with(someDetails(string(f)), map[string]any{"id": id, "login": uniqueLogin("after"), "first_name": "New", "middle_name": "Mid",
			"last_name": "Last", "phone": "4940123456", "security_group_id": g2, "activated": true,
			"creation_date": "2001-01-01 00:00:00", "legal_type": "sole_trader"})
		st.master.want(t, f, "subuser/update", map[string]any{"user": user}, 0)
		same(t, "updated sub-user", st.master.find(t, "subuser/list", id), with(user, map[string]any{"creation_date": created}))
		// The new group's rights hold at once, for the session already open.
		sub.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "X"}}, 0)
		st.login(t, user["login"].(string), subPassword)
		check(t, "user/auth with the old login", do(t, st.api, formJSON, "user/auth",
			map[string]any{"login": name, "password": subPassword}), 102)
		// Update replaces the whole object: what is left out is emptied,
		// the legal type back to individual.
		bare := map[string]any{"id": id, "login": user["login"], "security_group_id": g2}
		st.master.want(t, f, "subuser/update", map[string]any{"user": bare}, 0)
		same(t, "sub-user updated with its login alone", st.master.find(t, "subuser/list", id), with(noDetails, with(bare,
			map[string]any{"first_name": "", "middle_name": "", "last_name": "", "phone": "", "activated": true, "creation_date": created})))
	})},
	{"subuser/delete", each(func(t *testing.T, st *stack, f form) {
		name := uniqueLogin("doomed")
		id := st.master.register(t, map[string]any{"login": name}, subPassword)
		sub := st.login(t, name, subPassword)
		st.master.want(t, f, "subuser/delete", map[string]any{"subuser_id": id}, 0)
		if got := st.master.find(t, "subuser/list", id); got != nil {
			t.Errorf("subuser/list after delete still has %v", got)
		}
		sub.want(t, formJSON, "user/get_info", nil, 4)
		check(t, "user/auth of a deleted sub-user", do(t, st.api, formJSON, "user/auth",
			map[string]any{"login": name, "password": subPassword}), 102)
		st.master.want(t, f, "subuser/delete", map[string]any{"subuser_id": id}, 201)
	})},

	{"subuser/session/create", each(func(t *testing.T, st *stack, f form) {
		g := st.master.createGroup(t, unique("group"), "employee_update")
		name := uniqueLogin("worker")
		id := st.master.register(t, map[string]any{"login": name, "first_name": "Wen", "security_group_id": g}, subPassword)
		r := st.master.want(t, f, "subuser/session/create", map[string]any{"subuser_id": id}, 0)
		h, _ := r.body["hash"].(string)
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(h) || len(r.body) != 2 {
			t.Fatalf("subuser/session/create = %s, want success and a new 32-hex hash only", r.raw)
		}
		// The session is the sub-user's: its login, its rights, none more.
		sub := session{api: st.api, login: name, hash: h}
		info, _ := sub.ok(t, "user/get_info", nil).body["user_info"].(map[string]any)
		if info["id"] != float64(id) || info["login"] != name {
			t.Errorf("user/get_info with the new session = %v, want sub-user %d %s", info, id, name)
		}
		sub.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "By proxy"}}, 0)
		sub.want(t, formJSON, "subuser/list", nil, 13)
		sub.want(t, formJSON, "subuser/session/create", map[string]any{"subuser_id": id}, 13)
		// It ends like any session: by logout, or by the sub-user's deactivation.
		other := session{api: st.api, login: name, hash: st.master.ok(t, "subuser/session/create",
			map[string]any{"subuser_id": id}).body["hash"].(string)}
		sub.ok(t, "user/logout", nil)
		sub.want(t, formJSON, "user/get_info", nil, 4)
		other.want(t, formJSON, "user/get_info", nil, 0)
		st.master.ok(t, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": name, "activated": false}})
		other.want(t, formJSON, "user/get_info", nil, 4)
		// A deactivated sub-user gets no session, as user/auth gives it none.
		if r := st.master.want(t, f, "subuser/session/create", map[string]any{"subuser_id": id}, 11); r.body["hash"] != nil {
			t.Errorf("refused subuser/session/create carries a hash: %s", r.raw)
		}
		check(t, "user/auth of the deactivated sub-user", do(t, st.api, formJSON, "user/auth",
			map[string]any{"login": name, "password": subPassword}), 11)

		stranger := st.newAccount(t).register(t, map[string]any{"login": uniqueLogin("theirs")}, subPassword)
		for _, tt := range []struct {
			name   string
			params map[string]any
			want   int
			param  string // the parameter a 7 names
		}{
			{"another account's sub-user", map[string]any{"subuser_id": stranger}, 201, ""},
			{"the master itself", map[string]any{"subuser_id": st.master.userID(t)}, 201, ""},
			{"no such user", map[string]any{"subuser_id": 999999999}, 201, ""},
			{"no subuser_id", map[string]any{}, 7, "subuser_id"},
			{"null subuser_id", map[string]any{"subuser_id": nil}, 7, "subuser_id"},
			{"zero", map[string]any{"subuser_id": 0}, 7, "subuser_id"},
			{"not a number", map[string]any{"subuser_id": "abc"}, 7, "subuser_id"},
		} {
			r := st.master.want(t, f, "subuser/session/create", tt.params, tt.want)
			if r.body["hash"] != nil {
				t.Errorf("subuser/session/create(%s) = %s, refused yet with a hash", tt.name, r.raw)
			}
			if got := errorParams(r); tt.param != "" && (len(got) != 1 || got[0] != tt.param) {
				t.Errorf("subuser/session/create(%s) names %v, want [%s]", tt.name, got, tt.param)
			}
		}
	})},
	{"subuser/security_group/assign", each(func(t *testing.T, st *stack, f form) {
		// Its own account: the forms run at once, and the refusals below
		// compare the whole account before and after.
		m := st.newAccount(t)
		g := m.createGroup(t, unique("group"), "employee_update")
		names := []string{uniqueLogin("one"), uniqueLogin("two")}
		var ids []int64
		var subs []session
		for _, n := range names {
			ids = append(ids, m.register(t, map[string]any{"login": n}, subPassword))
			subs = append(subs, st.login(t, n, subPassword))
		}
		groupOf := func(id int64) any { return m.find(t, "subuser/list", id)["security_group_id"] }
		edit := map[string]any{"employee": map[string]any{"first_name": "X"}}
		subs[0].want(t, formJSON, "employee/create", edit, 13)

		m.want(t, f, "subuser/security_group/assign", map[string]any{"group_id": g, "subuser_ids": ids}, 0)
		for i, id := range ids {
			if got := groupOf(id); got != float64(g) {
				t.Errorf("sub-user %d's security_group_id after assign = %v, want %d", id, got, g)
			}
			// The group's rights hold at once, for the session already open.
			subs[i].want(t, formJSON, "employee/create", edit, 0)
		}
		// An absent group_id, and a null one, is the default group.
		m.want(t, f, "subuser/security_group/assign", map[string]any{"subuser_ids": ids[:1]}, 0)
		m.want(t, f, "subuser/security_group/assign", map[string]any{"group_id": nil, "subuser_ids": ids[1:]}, 0)
		for i, id := range ids {
			if got := groupOf(id); got != nil {
				t.Errorf("sub-user %d's security_group_id after assign to the default = %v, want null", id, got)
			}
			subs[i].want(t, formJSON, "employee/create", edit, 13)
		}

		// The hash may come in the Authorization header instead.
		req := callRequest(t, m.api, f, "subuser/security_group/assign", map[string]any{"group_id": g, "subuser_ids": ids[:1]})
		req.Header.Set("Authorization", "NVX "+m.hash)
		check(t, string(f)+" subuser/security_group/assign with Authorization: NVX", send(t, req), 0)
		if got := groupOf(ids[0]); got != float64(g) {
			t.Errorf("sub-user %d's security_group_id after assign by header = %v, want %d", ids[0], got, g)
		}
		m.ok(t, "subuser/security_group/assign", map[string]any{"subuser_ids": ids[:1]})

		theirs := st.newAccount(t)
		stranger := theirs.register(t, map[string]any{"login": uniqueLogin("theirs")}, subPassword)
		strangers := theirs.createGroup(t, unique("theirs"))
		tooMany := make([]int64, 1001)
		for i := range tooMany {
			tooMany[i] = ids[0]
		}
		before, theirsBefore := m.snapshot(t), theirs.snapshot(t)
		for _, tt := range []struct {
			name   string
			params map[string]any
			want   int
			param  string // the parameter a 7 names
		}{
			{"another account's sub-user among ours", map[string]any{"group_id": g, "subuser_ids": []int64{ids[0], stranger}}, 201, ""},
			{"another account's group", map[string]any{"group_id": strangers, "subuser_ids": ids}, 201, ""},
			{"no such group", map[string]any{"group_id": 999999999, "subuser_ids": ids}, 201, ""},
			{"the master itself", map[string]any{"group_id": g, "subuser_ids": []int64{m.userID(t)}}, 201, ""},
			{"no subuser_ids", map[string]any{"group_id": g}, 7, "subuser_ids"},
			{"null subuser_ids", map[string]any{"group_id": g, "subuser_ids": nil}, 7, "subuser_ids"},
			{"empty subuser_ids", map[string]any{"group_id": g, "subuser_ids": []int64{}}, 7, "subuser_ids"},
			{"a zero id", map[string]any{"group_id": g, "subuser_ids": []int64{ids[0], 0}}, 7, "subuser_ids[1]"},
			{"not an array", map[string]any{"group_id": g, "subuser_ids": "one"}, 7, "subuser_ids"},
			{"over 1000 ids", map[string]any{"group_id": g, "subuser_ids": tooMany}, 7, "subuser_ids"},
			{"group_id zero", map[string]any{"group_id": 0, "subuser_ids": ids}, 7, "group_id"},
		} {
			r := m.want(t, f, "subuser/security_group/assign", tt.params, tt.want)
			if got := errorParams(r); tt.param != "" && (len(got) != 1 || got[0] != tt.param) {
				t.Errorf("subuser/security_group/assign(%s) names %v, want [%s]", tt.name, got, tt.param)
			}
		}
		if after := m.snapshot(t); after != before {
			t.Errorf("refused assigns changed the account:\nbefore %s\nafter %s", before, after)
		}
		if after := theirs.snapshot(t); after != theirsBefore {
			t.Errorf("refused assigns changed the other account:\nbefore %s\nafter %s", theirsBefore, after)
		}
	})},

	{"subuser/security_group/create", each(func(t *testing.T, st *stack, f form) {
		group := map[string]any{"label": "Dispatch — Nord", "privileges": map[string]any{
			"rights": []string{"employee_update", "tag_update"}, "store_period": "12h"}, "id": 999}
		id := st.master.want(t, f, "subuser/security_group/create", map[string]any{"group": group}, 0).int("id")
		same(t, "created group", st.master.find(t, "subuser/security_group/list", id), with(group, map[string]any{"id": id}))
	})},
	{"subuser/security_group/list", func(t *testing.T, st *stack) func(*testing.T, form) {
		a := st.newAccount(t)
		g1 := map[string]any{"label": "Empty", "privileges": map[string]any{"rights": []string{}, "store_period": ""}}
		g2 := map[string]any{"label": "Editors", "privileges": map[string]any{"rights": []string{"tracker_update", "employee_update"}, "store_period": "3d"}}
		g1["id"] = a.ok(t, "subuser/security_group/create", map[string]any{"group": g1}).int("id")
		g2["id"] = a.ok(t, "subuser/security_group/create", map[string]any{"group": g2}).int("id")
		// A group without privileges, or without rights, has none.
		g3 := map[string]any{"label": "No privileges"}
		g3["id"] = a.ok(t, "subuser/security_group/create", map[string]any{"group": g3}).int("id")
		g3["privileges"] = map[string]any{"rights": []string{}, "store_period": ""}
		g4 := map[string]any{"label": "No rights", "privileges": map[string]any{"store_period": "5m"}}
		g4["id"] = a.ok(t, "subuser/security_group/create", map[string]any{"group": g4}).int("id")
		g4["privileges"] = map[string]any{"rights": []string{}, "store_period": "5m"}
		g5 := map[string]any{"label": "Null privileges", "privileges": nil}
		g5["id"] = a.ok(t, "subuser/security_group/create", map[string]any{"group": g5}).int("id")
		g5["privileges"] = map[string]any{"rights": []string{}, "store_period": ""}
		return func(t *testing.T, f form) {
			list, _ := a.want(t, f, "subuser/security_group/list", nil, 0).body["list"].([]any)
			same(t, "subuser/security_group/list", list, []any{g1, g2, g3, g4, g5})
		}
	}},
	{"subuser/security_group/update", each(func(t *testing.T, st *stack, f form) {
		g := st.master.createGroup(t, unique("group"), "tag_update")
		sub := st.subUser(t, st.master, g)
		sub.want(t, formJSON, "department/create", map[string]any{"department": map[string]any{"label": "D"}}, 13)
		group := map[string]any{"id": g, "label": "Renamed", "privileges": map[string]any{"rights": []string{"employee_update"}, "store_period": "1y"}}
		st.master.want(t, f, "subuser/security_group/update", map[string]any{"group": group}, 0)
		same(t, "updated group", st.master.find(t, "subuser/security_group/list", g), group)
		sub.want(t, formJSON, "department/create", map[string]any{"department": map[string]any{"label": "D"}}, 0)
	})},
	{"subuser/security_group/delete", each(func(t *testing.T, st *stack, f form) {
		g := st.master.createGroup(t, unique("group"), "employee_update")
		sub := st.subUser(t, st.master, g)
		st.master.want(t, f, "subuser/security_group/delete", map[string]any{"security_group_id": g}, 0)
		if got := st.master.find(t, "subuser/security_group/list", g); got != nil {
			t.Errorf("security_group/list after delete still has %v", got)
		}
		info, _ := sub.ok(t, "user/get_info", nil).body["user_info"].(map[string]any)
		same(t, "privileges after the group's deletion", info["privileges"], map[string]any{"rights": []string{}})
		sub.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "X"}}, 13)
		st.master.want(t, f, "subuser/security_group/delete", map[string]any{"security_group_id": g}, 201)
	})},

	{"employee/list", testEmployeeList},
	{"employee/read", each(func(t *testing.T, st *stack, f form) {
		dept := st.master.createDepartment(t, map[string]any{"label": unique("dept")})
		e := fullEmployee(dept, seq.Add(1), st.master.someTags(t, 3))
		id := st.master.createEmployee(t, e)
		v, _ := st.master.want(t, f, "employee/read", map[string]any{"employee_id": id}, 0).body["value"].(map[string]any)
		same(t, "employee/read", v, wantEmployee(id, e, nil, nil))
	})},
	{"employee/create", each(func(t *testing.T, st *stack, f form) {
		dept := st.master.createDepartment(t, map[string]any{"label": unique("dept")})
		e := fullEmployee(dept, seq.Add(1), st.master.someTags(t, 3))
		id := st.master.want(t, f, "employee/create", map[string]any{"employee": e}, 0).int("id")
		same(t, "employee created with every field", st.master.readEmployee(t, id), wantEmployee(id, e, nil, nil))

		minimal := map[string]any{"first_name": "Min"}
		id = st.master.want(t, f, "employee/create", map[string]any{"employee": minimal}, 0).int("id")
		same(t, "employee created with first_name only", st.master.readEmployee(t, id), wantEmployee(id, minimal, nil, nil))
	})},
	{"employee/update", each(func(t *testing.T, st *stack, f form) {
		d1 := st.master.createDepartment(t, map[string]any{"label": unique("dept")})
		d2 := st.master.createDepartment(t, map[string]any{"label": unique("dept")})
		tags := st.master.someTags(t, 4)
		id := st.master.createEmployee(t, fullEmployee(d1, seq.Add(1), tags[:3]))
		st.master.ok(t, "employee/avatar/assign", map[string]any{"employee_id": id, "icon_id": 42})
		avatar := uploadAvatar(t, st.master, id)

		e := map[string]any{
			"id": id, "tracker_id": seq.Add(1), "first_name": "Émile", "middle_name": "", "last_name": "Zola",
			"email": "emile@example.org", "phone": "331", "driver_license_number": "X1",
			"driver_license_cats": "D", "driver_license_issue_date": "2019-03-01", "driver_license_valid_till": "2029-02-28",
			"hardware_key": unique("ffff-"), "department_id": d2, // the forms share an account: keys differ "location": map[string]any{"lat": -33.8688, "lng": 151.2093, "address": "", "radius": 40},
			"personnel_number": "7", "ssn": "", "tags": tags[3:],
			"icon_id": 5, "avatar_file_name": "ffffffffffffffffffffffffffffffff.png",
		}
		st.master.want(t, f, "employee/update", map[string]any{"employee": e}, 0)
		same(t, "employee after a full update", st.master.readEmployee(t, id), wantEmployee(id, e, 42, avatar))

		// employee_id names the employee too; what the object leaves out
		// becomes null or empty, but never the avatar fields.
		alias := map[string]any{"employee_id": id, "first_name": "Only", "icon_id": nil, "avatar_file_name": nil}
		st.master.want(t, f, "employee/update", map[string]any{"employee": alias}, 0)
		same(t, "employee after an update by employee_id", st.master.readEmployee(t, id), wantEmployee(id, alias, 42, avatar))
	})},
	{"employee/delete", each(func(t *testing.T, st *stack, f form) {
		id := st.master.createEmployee(t, map[string]any{"first_name": "Doomed"})
		keep := st.master.createEmployee(t, map[string]any{"first_name": "Kept"})
		avatar := st.api + "/static/employee/avatars/" + uploadAvatar(t, st.master, id)
		if r := send(t, mustRequest(t, http.MethodGet, avatar, nil)); r.status != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200", avatar, r.status)
		}
		st.master.want(t, f, "employee/delete", map[string]any{"employee_id": id}, 0)
		st.master.want(t, formJSON, "employee/read", map[string]any{"employee_id": id}, 201)
		// The deleted employee's avatar is deleted too.
		if r := send(t, mustRequest(t, http.MethodGet, avatar, nil)); r.status != http.StatusNotFound {
			t.Errorf("GET %s of a deleted employee = %d, want 404", avatar, r.status)
		}
		st.master.want(t, f, "employee/delete", map[string]any{"employee_id": id}, 201)
		st.master.readEmployee(t, keep)
		if got := st.master.find(t, "employee/list", id); got != nil {
			t.Errorf("employee/list after delete still has %v", got)
		}
	})},

	{"department/list", func(t *testing.T, st *stack) func(*testing.T, form) {
		a := st.newAccount(t)
		d1 := map[string]any{"label": "Nord", "location": map[string]any{"lat": 59.9139, "lng": 10.7522, "address": "Oslo", "radius": 800}}
		d2 := map[string]any{"label": "Süd", "location": nil}
		d3 := map[string]any{"label": "Ost", "location": map[string]any{"lat": 1, "lng": 2, "address": "no radius"}}
		d1["id"] = a.createDepartment(t, d1)
		d2["id"] = a.createDepartment(t, d2)
		d3["id"] = a.createDepartment(t, d3)
		return func(t *testing.T, f form) {
			list, _ := a.want(t, f, "department/list", nil, 0).body["list"].([]any)
			same(t, "department/list", list, []any{d1, d2, wantDepartment(d3)})
		}
	}},
	{"department/create", each(func(t *testing.T, st *stack, f form) {
		d := map[string]any{"label": "Dépôt — Nord", "location": map[string]any{"lat": -90, "lng": 180, "address": "Pole", "radius": 0}, "id": 999}
		id := st.master.want(t, f, "department/create", map[string]any{"department": d}, 0).int("id")
		same(t, "created department", st.master.find(t, "department/list", id), with(d, map[string]any{"id": id}))
		d = map[string]any{"label": "Null radius", "location": map[string]any{"lat": 1, "lng": 1, "address": "", "radius": nil}}
		id = st.master.want(t, f, "department/create", map[string]any{"department": d}, 0).int("id")
		same(t, "created department", st.master.find(t, "department/list", id), wantDepartment(with(d, map[string]any{"id": id})))
		bare := map[string]any{"label": "Bare"}
		id = st.master.want(t, f, "department/create", map[string]any{"department": bare}, 0).int("id")
		same(t, "created department", st.master.find(t, "department/list", id), map[string]any{"id": id, "label": "Bare", "location": nil})
	})},
	{"department/update", each(func(t *testing.T, st *stack, f form) {
		id := st.master.createDepartment(t, map[string]any{"label": "Old", "location": map[string]any{"lat": 1, "lng": 2, "address": "A"}})
		d := map[string]any{"id": id, "label": "New", "location": map[string]any{"lat": 3.5, "lng": -4.25, "address": "B", "radius": 25}}
		st.master.want(t, f, "department/update", map[string]any{"department": d}, 0)
		same(t, "updated department", st.master.find(t, "department/list", id), d)
		d = map[string]any{"id": id, "label": "New", "location": map[string]any{"lat": 3.5, "lng": -4.25, "address": "B"}}
		st.master.want(t, f, "department/update", map[string]any{"department": d}, 0)
		same(t, "department updated without a radius", st.master.find(t, "department/list", id), wantDepartment(d))
		d = map[string]any{"id": id, "label": "Newer"}
		st.master.want(t, f, "department/update", map[string]any{"department": d}, 0)
		same(t, "department updated without location", st.master.find(t, "department/list", id), with(d, map[string]any{"location": nil}))
	})},
	{"department/delete", each(func(t *testing.T, st *stack, f form) {
		doomed := st.master.createDepartment(t, map[string]any{"label": "Doomed"})
		other := st.master.createDepartment(t, map[string]any{"label": "Other"})
		in := st.master.createEmployee(t, map[string]any{"first_name": "In", "department_id": doomed})
		out := st.master.createEmployee(t, map[string]any{"first_name": "Out", "department_id": other})
		st.master.want(t, f, "department/delete", map[string]any{"department_id": doomed}, 0)
		if got := st.master.find(t, "department/list", doomed); got != nil {
			t.Errorf("department/list after delete still has %v", got)
		}
		if got := st.master.readEmployee(t, in)["department_id"]; got != nil {
			t.Errorf("department_id of an employee of the deleted department = %v, want null", got)
		}
		if got := st.master.readEmployee(t, out)["department_id"]; got != float64(other) {
			t.Errorf("department_id of an employee of another department = %v, want %d", got, other)
		}
		st.master.want(t, f, "department/delete", map[string]any{"department_id": doomed}, 201)
	})},
}, tagCallCases...)

// with returns a copy of m with the members of extra set (nil values
// included).
func with(m map[string]any, extra map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// testEmployeeList checks limit, offset, sort and filter, and count, on an
// account of its own.
func testEmployeeList(t *testing.T, st *stack) func(*testing.T, form) {
	a := st.newAccount(t)
	dept := func(label string) int64 {
		return a.want(t, formJSON, "department/create", map[string]any{"department": map[string]any{"label": label}}, 0).int("id")
	}
	// Labels that sort differently by bytes and by a collation.
	nord, sued, suedLower := dept("Nord"), dept("Süd"), dept("süd")
	people := []map[string]any{
		{"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "phone": "491511",
			"personnel_number": "P-3", "tracker_id": 30, "driver_license_valid_till": "2030-01-01", "hardware_key": "k2",
			"driver_license_cats": "B", "department_id": nord, "ssn": "A1",
			"location": map[string]any{"lat": 47.37, "lng": 8.54, "address": "Zürich, Bahnhofstr. 1"}},
		{"first_name": "bob", "last_name": "Adams", "personnel_number": "P-1", "department_id": suedLower},
		{"first_name": "Cid", "last_name": "lee", "email": "cid@lee.example", "phone": "1234",
			"tracker_id": 10, "hardware_key": "k1", "driver_license_cats": "CE", "department_id": nord,
			"location": map[string]any{"lat": 1.5, "lng": 2.5, "address": ""}},
		{"first_name": "Dora", "middle_name": "Leena", "last_name": "Zed", "driver_license_cats": "B", "ssn": "ZB-7"},
		{"first_name": "Émile", "last_name": "Adams", "personnel_number": "P-2", "tracker_id": 20,
			"driver_license_valid_till": "2028-06-30", "driver_license_cats": "A,B", "department_id": sued,
			"driver_license_number": "X-77", "location": map[string]any{"lat": 50.78, "lng": 6.08, "address": "aachen"},
			"ssn": "Zb-7"},
	}
	var id []int64 // id[n] is the employee numbered n+1 above
	var all []any
	for _, p := range people {
		id = append(id, a.createEmployee(t, p))
		all = append(all, wantEmployee(id[len(id)-1], p, nil, nil))
	}
	return func(t *testing.T, f form) {
		r := a.want(t, f, "employee/list", nil, 0)
		same(t, "employee/list without parameters", r.body, map[string]any{"success": true, "list": all, "count": 5})

		for _, q := range []struct {
			name   string
			params map[string]any
			want   []int // numbers of the employees above, in order
			count  int
		}{
			{"limit", map[string]any{"limit": 2}, []int{1, 2}, 5},
			{"limit and offset", map[string]any{"limit": 2, "offset": 2}, []int{3, 4}, 5},
			{"offset without limit", map[string]any{"offset": 3}, []int{4, 5}, 5},
			{"past the end", map[string]any{"limit": 10, "offset": 10}, []int{}, 5},
			{"two keys, asc then desc", map[string]any{"sort": []string{"last_name=asc", "first_name=desc"}}, []int{5, 2, 1, 4, 3}, 5},
			{"desc, nulls last, ties by id desc", map[string]any{"sort": []string{"tracker_id=desc"}}, []int{1, 5, 3, 4, 2}, 5},
			{"asc, nulls first", map[string]any{"sort": []string{"tracker_id=asc"}}, []int{2, 4, 3, 5, 1}, 5},
			{"second key among nulls", map[string]any{"sort": []string{"hardware_key=asc", "id=desc"}}, []int{5, 4, 2, 3, 1}, 5},
			{"dates", map[string]any{"sort": []string{"driver_license_valid_till=desc"}}, []int{1, 5, 4, 3, 2}, 5},
			{"one key as a string", map[string]any{"sort": "personnel_number=desc"}, []int{1, 5, 2, 4, 3}, 5},
			{"sorted page", map[string]any{"sort": []string{"tracker_id=asc"}, "limit": 2, "offset": 1}, []int{4, 3}, 5},
			{"department label, byte order", map[string]any{"sort": []string{"department_label=asc"}}, []int{4, 1, 3, 5, 2}, 5},
			{"department label desc", map[string]any{"sort": []string{"department_label=desc"}}, []int{2, 5, 3, 1, 4}, 5},
			{"address", map[string]any{"sort": []string{"address=asc"}}, []int{2, 4, 3, 1, 5}, 5},
			{"address desc", map[string]any{"sort": []string{"address=desc"}}, []int{5, 1, 3, 4, 2}, 5},
			{"license categories", map[string]any{"sort": []string{"driver_license_cats=asc"}}, []int{2, 5, 1, 4, 3}, 5},
			{"social security number, byte order", map[string]any{"sort": []string{"ssn=desc"}}, []int{5, 4, 1, 3, 2}, 5},
			{"filter by social security number, any case", map[string]any{"filter": "zb-7"}, []int{4, 5}, 2},
			{"object label: by id", map[string]any{"sort": []string{"object_label=desc"}}, []int{5, 4, 3, 2, 1}, 5},
			{"object label, then a name", map[string]any{"sort": []string{"object_label=asc", "last_name=desc"}}, []int{3, 4, 1, 5, 2}, 5},
			{"filter by department label", map[string]any{"filter": "NORD"}, []int{1, 3}, 2},
			{"filter by department label beyond ASCII", map[string]any{"filter": "SÜD"}, []int{2, 5}, 2},
			{"filter by address", map[string]any{"filter": "zürich"}, []int{1}, 1},
			{"filter by hardware key", map[string]any{"filter": "K2"}, []int{1}, 1},
			{"filter by license number", map[string]any{"filter": "x-7"}, []int{5}, 1},
			{"filter by license categories", map[string]any{"filter": "a,b"}, []int{5}, 1},
			{"filter by license date", map[string]any{"filter": "2028-06"}, []int{5}, 1},
			{"filter over names and email, any case", map[string]any{"filter": "LEE"}, []int{1, 3, 4}, 3},
			{"filtered page", map[string]any{"filter": "lee", "limit": 1, "offset": 1}, []int{3}, 3},
			{"filter by phone", map[string]any{"filter": "1234"}, []int{3}, 1},
			{"filter by personnel number, sorted", map[string]any{"filter": "p-", "sort": []string{"personnel_number=asc"}}, []int{2, 5, 1}, 3},
			{"filter beyond ASCII, any case", map[string]any{"filter": "ÉMILE"}, []int{5}, 1},
			{"filter wildcards are literal", map[string]any{"filter": "%"}, []int{}, 0},
			{"filter underscore is literal", map[string]any{"filter": "a_n"}, []int{}, 0},
			{"empty filter", map[string]any{"filter": ""}, []int{1, 2, 3, 4, 5}, 5},
		} {
			r := a.want(t, f, "employee/list", q.params, 0)
			want := []int64{}
			for _, n := range q.want {
				want = append(want, id[n-1])
			}
			list, _ := r.body["list"].([]any)
			if got := ids(list); !slices.Equal(got, want) || r.int("count") != int64(q.count) {
				t.Errorf("%s: employee/list(%v) = ids %v count %v, want %v count %d", q.name, q.params, got, r.body["count"], want, q.count)
			}
		}
	}
}
