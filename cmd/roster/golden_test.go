package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGolden")

// goldenCase makes one call succeed and one fail on a fresh installation
// (so ids are the same on every run and backend: admin is user 1, and each
// table counts from 1).
type goldenCase struct {
	call string
	// name tells two success cases of one call apart; "" for most.
	name string
	// ok makes the call succeed.
	ok func(t *testing.T, st *stack) result
	// err makes it fail with code errCode.
	err     func(t *testing.T, st *stack) result
	errCode int
}

// TestGolden pins the exact JSON of one success and one error of every call
// in testdata/golden/<call>.ok.golden and .err.golden. Session keys and
// creation dates are replaced by <hash> and <date>; everything else,
// including the order of keys, must be the same byte for byte. Rewrite the
// files with go test ./cmd/roster -run Golden -update.
func TestGolden(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, c := range goldenCases {
			name := strings.ReplaceAll(c.call, "/", "_")
			if c.name != "" {
				name += "." + c.name
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				st := newStack(t, b)
				r := c.ok(t, st)
				check(t, c.call+" (ok)", r, 0)
				golden(t, b, name+".ok.golden", r)
				if c.err == nil {
					return
				}
				r = c.err(t, st)
				check(t, c.call+" (err)", r, c.errCode)
				golden(t, b, name+".err.golden", r)
			})
		}
	})
}

var (
	hashValue = regexp.MustCompile(`"[0-9a-f]{32}"`)
	dateValue = regexp.MustCompile(`"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"`)
)

// normalize replaces what differs from run to run and indents the answer.
func normalize(t *testing.T, raw []byte) []byte {
	t.Helper()
	raw = hashValue.ReplaceAll(raw, []byte(`"<hash>"`))
	raw = dateValue.ReplaceAll(raw, []byte(`"<date>"`))
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, raw)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// golden compares an answer with its golden file, or rewrites the file with
// -update (from the SQLite stack, which always runs; the others compare).
func golden(t *testing.T, b backend, file string, r result) {
	t.Helper()
	got := normalize(t, r.raw)
	path := filepath.Join("testdata", "golden", file)
	if *update && b.name == "sqlite+disk" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/roster -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("answer differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// unknownHash has the form of a session key but names no session.
const unknownHash = "0123456789abcdef0123456789abcdef"

func anon(st *stack, hash string) session {
	return session{api: st.api, login: "anonymous", hash: hash}
}

// goldenEmployee is an employee with every field set, in department 1.
func goldenEmployee() map[string]any {
	e := fullEmployee(1, 501)
	return e
}

var goldenCases = []goldenCase{
	{call: "user/auth",
		ok: func(t *testing.T, st *stack) result {
			return do(t, st.api, formJSON, "user/auth", map[string]any{"login": "admin", "password": st.admin})
		},
		err: func(t *testing.T, st *stack) result {
			return do(t, st.api, formJSON, "user/auth", map[string]any{"login": "admin", "password": "wrong"})
		}, errCode: 102},
	{call: "user/logout",
		ok: func(t *testing.T, st *stack) result {
			return st.login(t, "admin", st.admin).do(t, formJSON, "user/logout", nil)
		},
		err: func(t *testing.T, st *stack) result {
			return do(t, st.api, formJSON, "user/logout", nil)
		}, errCode: 3},
	{call: "user/session/renew",
		ok: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "user/session/renew", nil)
		},
		err: func(t *testing.T, st *stack) result {
			return anon(st, unknownHash).do(t, formJSON, "user/session/renew", nil)
		}, errCode: 4},
	{call: "user/get_info",
		ok: func(t *testing.T, st *stack) result {
			g := st.master.createGroup(t, "Dispatch", "tracker_update", "employee_update")
			st.master.register(t, map[string]any{"login": "dispatcher", "first_name": "Zoë", "middle_name": "Ann",
				"last_name": "Ng", "phone": "4930123", "security_group_id": g}, "sub-password")
			return st.login(t, "dispatcher", "sub-password").do(t, formJSON, "user/get_info", nil)
		},
		err: func(t *testing.T, st *stack) result {
			return anon(st, "not-a-hash").do(t, formJSON, "user/get_info", nil)
		}, errCode: 3},
	{call: "user/get_info", name: "master",
		ok: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "user/get_info", nil)
		}},

	{call: "subuser/register",
		ok: func(t *testing.T, st *stack) result {
			g := st.master.createGroup(t, "Dispatch", "employee_update")
			return st.master.do(t, formJSON, "subuser/register", map[string]any{"user": map[string]any{
				"login": "dispatcher", "first_name": "Zoë", "security_group_id": g}, "password": "sub-password"})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/register", map[string]any{"user": map[string]any{
				"login": "two words", "phone": "+49"}, "password": "short"})
		}, errCode: 7},
	{call: "subuser/list",
		ok: func(t *testing.T, st *stack) result {
			g := st.master.createGroup(t, "Dispatch", "employee_update")
			st.master.register(t, map[string]any{"login": "dispatcher", "first_name": "Zoë", "middle_name": "Ann",
				"last_name": "Ng", "phone": "4930123", "security_group_id": g}, "sub-password")
			st.master.register(t, map[string]any{"login": "viewer", "activated": false}, "sub-password")
			return st.master.do(t, formJSON, "subuser/list", nil)
		},
		err: func(t *testing.T, st *stack) result {
			return st.login(t, "dispatcher", "sub-password").do(t, formJSON, "subuser/list", nil)
		}, errCode: 13},
	{call: "subuser/update",
		ok: func(t *testing.T, st *stack) result {
			id := st.master.register(t, map[string]any{"login": "dispatcher"}, "sub-password")
			return st.master.do(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{
				"id": id, "login": "dispatcher2", "first_name": "Zoë"}})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{
				"id": 2, "login": "admin"}})
		}, errCode: 206},
	{call: "subuser/delete",
		ok: func(t *testing.T, st *stack) result {
			id := st.master.register(t, map[string]any{"login": "dispatcher"}, "sub-password")
			return st.master.do(t, formJSON, "subuser/delete", map[string]any{"subuser_id": id})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/delete", map[string]any{"subuser_id": 2})
		}, errCode: 201},

	{call: "subuser/security_group/create",
		ok: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/create", map[string]any{"group": map[string]any{
				"label": "Dispatch", "privileges": map[string]any{"rights": []string{"employee_update"}}}})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/create", map[string]any{"group": map[string]any{
				"label": "Admins", "privileges": map[string]any{"rights": []string{"admin"}}}})
		}, errCode: 7},
	{call: "subuser/security_group/list",
		ok: func(t *testing.T, st *stack) result {
			st.master.createGroup(t, "Dispatch", "tracker_update", "employee_update")
			st.master.createGroup(t, "Viewers")
			return st.master.do(t, formJSON, "subuser/security_group/list", nil)
		},
		err: func(t *testing.T, st *stack) result {
			s := st.login(t, "admin", st.admin)
			s.ok(t, "user/logout", nil)
			return s.do(t, formJSON, "subuser/security_group/list", nil)
		}, errCode: 4},
	{call: "subuser/security_group/update",
		ok: func(t *testing.T, st *stack) result {
			id := st.master.createGroup(t, "Dispatch")
			return st.master.do(t, formJSON, "subuser/security_group/update", map[string]any{"group": map[string]any{
				"id": id, "label": "Editors", "privileges": map[string]any{"rights": []string{"employee_update"}}}})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/update", map[string]any{"group": map[string]any{
				"id": 99, "label": "Editors", "privileges": map[string]any{"rights": []string{}}}})
		}, errCode: 201},
	{call: "subuser/security_group/delete",
		ok: func(t *testing.T, st *stack) result {
			id := st.master.createGroup(t, "Dispatch")
			return st.master.do(t, formJSON, "subuser/security_group/delete", map[string]any{"security_group_id": id})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/delete", nil)
		}, errCode: 7},

	{call: "employee/list",
		ok: func(t *testing.T, st *stack) result {
			st.master.createDepartment(t, map[string]any{"label": "Nord"})
			st.master.createEmployee(t, goldenEmployee())
			st.master.createEmployee(t, map[string]any{"first_name": "Ann"})
			st.master.createEmployee(t, map[string]any{"first_name": "Bob"})
			return st.master.do(t, formJSON, "employee/list", map[string]any{"limit": 2, "sort": []string{"first_name=desc"}})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/list", map[string]any{"sort": []string{"salary=asc"}, "limit": -1})
		}, errCode: 7},
	{call: "employee/read",
		ok: func(t *testing.T, st *stack) result {
			st.master.createDepartment(t, map[string]any{"label": "Nord"})
			id := st.master.createEmployee(t, goldenEmployee())
			st.master.ok(t, "employee/avatar/assign", map[string]any{"employee_id": id, "icon_id": 3654})
			return st.master.do(t, formJSON, "employee/read", map[string]any{"employee_id": id})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/read", map[string]any{"employee_id": 99})
		}, errCode: 201},
	{call: "employee/create",
		ok: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Ann"}})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{
				"first_name": "", "last_name": strings.Repeat("x", 101), "email": "not-an-address",
				"phone": "+49 30", "driver_license_valid_till": "31.12.2030", "tracker_id": "one",
				"location": map[string]any{"lat": 90.5, "lng": -181}}})
		}, errCode: 7},
	{call: "employee/update",
		ok: func(t *testing.T, st *stack) result {
			id := st.master.createEmployee(t, map[string]any{"first_name": "Ann", "tracker_id": 7})
			return st.master.do(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{
				"id": id, "first_name": "Anna", "tracker_id": 7}})
		},
		err: func(t *testing.T, st *stack) result {
			id := st.master.createEmployee(t, map[string]any{"first_name": "Bob"})
			return st.master.do(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{
				"id": id, "first_name": "Bob", "tracker_id": 7}})
		}, errCode: 247},
	{call: "employee/delete",
		ok: func(t *testing.T, st *stack) result {
			id := st.master.createEmployee(t, map[string]any{"first_name": "Ann"})
			return st.master.do(t, formJSON, "employee/delete", map[string]any{"employee_id": id})
		},
		err: func(t *testing.T, st *stack) result {
			id := st.master.createEmployee(t, map[string]any{"first_name": "Bob"})
			sub := st.subUser(t, st.master, nil)
			return sub.do(t, formJSON, "employee/delete", map[string]any{"employee_id": id})
		}, errCode: 13},

	{call: "department/list",
		ok: func(t *testing.T, st *stack) result {
			st.master.createDepartment(t, map[string]any{"label": "Nord", "location": map[string]any{
				"lat": 59.9139, "lng": 10.7522, "address": "Oslo"}})
			st.master.createDepartment(t, map[string]any{"label": "Süd"})
			return st.master.do(t, formJSON, "department/list", nil)
		},
		err: func(t *testing.T, st *stack) result {
			return do(t, st.api, formJSON, "department/list", nil)
		}, errCode: 3},
	{call: "department/create",
		ok: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/create", map[string]any{"department": map[string]any{"label": "Nord"}})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/create", map[string]any{"department": map[string]any{
				"label": "", "location": map[string]any{"lat": 91, "lng": 0}}})
		}, errCode: 7},
	{call: "department/update",
		ok: func(t *testing.T, st *stack) result {
			id := st.master.createDepartment(t, map[string]any{"label": "Nord"})
			return st.master.do(t, formJSON, "department/update", map[string]any{"department": map[string]any{
				"id": id, "label": "Norte"}})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/update", map[string]any{"department": map[string]any{
				"id": 99, "label": "Norte"}})
		}, errCode: 201},
	{call: "department/delete",
		ok: func(t *testing.T, st *stack) result {
			id := st.master.createDepartment(t, map[string]any{"label": "Nord"})
			return st.master.do(t, formJSON, "department/delete", map[string]any{"department_id": id})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/delete", map[string]any{"department_id": "abc"})
		}, errCode: 7},

	{call: "employee/avatar/assign",
		ok: func(t *testing.T, st *stack) result {
			id := st.master.createEmployee(t, map[string]any{"first_name": "Ann"})
			return st.master.do(t, formJSON, "employee/avatar/assign", map[string]any{"employee_id": id, "icon_id": 3654})
		},
		err: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/avatar/assign", map[string]any{"employee_id": 1, "icon_id": 0})
		}, errCode: 7},
}
