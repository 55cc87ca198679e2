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

// goldenStep makes one call of a golden scenario and names the file its
// answer is pinned in.
type goldenStep struct {
	call string
	// file is the name of the golden file without .golden:
	// <call with / as _>.ok or .err (another infix where a call has two).
	file string
	// code is the Navixy code the answer must have.
	code int
	do   func(t *testing.T, st *stack) result
}

// okStep and failStep name a call's success and error steps.
func okStep(call string, do func(t *testing.T, st *stack) result) goldenStep {
	return goldenStep{call: call, file: strings.ReplaceAll(call, "/", "_") + ".ok", do: do}
}

func failStep(call string, code int, do func(t *testing.T, st *stack) result) goldenStep {
	return goldenStep{call: call, file: strings.ReplaceAll(call, "/", "_") + ".err", code: code, do: do}
}

// TestGolden pins the exact JSON of one success and one error of every call
// in testdata/golden/<call>.ok.golden and .err.golden. Session keys and
// creation dates are replaced by <hash> and <date>; everything else,
// including the order of keys, must be the same byte for byte, on every
// backend. Rewrite the files with go test ./cmd/roster -run Golden -update.
//
// Each scenario runs its steps in order on a fresh installation, so ids
// are the same on every run and backend (admin is user 1, every table
// counts from 1). No step makes an insert fail before a later insert: a
// failed insert spends a PostgreSQL sequence number but no SQLite one.
func TestGolden(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for name, steps := range goldenScenarios {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				st := newStack(t, b)
				for _, step := range steps {
					r := step.do(t, st)
					if checkCall(t, step.call, step.file, r, step.code) {
						golden(t, b, step.file+".golden", r)
					}
				}
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

var goldenScenarios = map[string][]goldenStep{
	"tags": tagGolden,
	"sessions": {
		okStep("user/auth", func(t *testing.T, st *stack) result {
			return do(t, st.api, formJSON, "user/auth", map[string]any{"login": "admin", "password": st.admin})
		}),
		failStep("user/auth", 102, func(t *testing.T, st *stack) result {
			return do(t, st.api, formJSON, "user/auth", map[string]any{"login": "admin", "password": "wrong"})
		}),
		{call: "user/auth", file: "user_auth.dealer.err", code: 102, do: func(t *testing.T, st *stack) result {
			return do(t, st.api, formJSON, "user/auth", map[string]any{"login": "admin", "password": st.admin, "dealer_id": 1})
		}},
		okStep("user/logout", func(t *testing.T, st *stack) result {
			return st.login(t, "admin", st.admin).do(t, formJSON, "user/logout", nil)
		}),
		failStep("user/logout", 3, func(t *testing.T, st *stack) result {
			return do(t, st.api, formJSON, "user/logout", nil)
		}),
		okStep("user/session/renew", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "user/session/renew", nil)
		}),
		failStep("user/session/renew", 4, func(t *testing.T, st *stack) result {
			return anon(st, unknownHash).do(t, formJSON, "user/session/renew", nil)
		}),
		{call: "user/get_info", file: "user_get_info.master.ok", do: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "user/get_info", nil)
		}},
		failStep("user/get_info", 3, func(t *testing.T, st *stack) result {
			return anon(st, "not-a-hash").do(t, formJSON, "user/get_info", nil)
		}),
	},

	"keys": {
		okStep("api/key/create", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "api/key/create", map[string]any{"title": "Depot sync"})
		}),
		failStep("api/key/create", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "api/key/create", map[string]any{"title": ""})
		}),
		okStep("api/key/list", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "api/key/list", nil)
		}),
		failStep("api/key/list", 4, func(t *testing.T, st *stack) result {
			key := st.master.ok(t, "api/key/create", map[string]any{"title": "Reports"}).body["value"].(map[string]any)["hash"].(string)
			return anon(st, key).do(t, formJSON, "api/key/list", nil)
		}),
		okStep("api/key/delete", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "api/key/delete", map[string]any{"key_id": 1})
		}),
		failStep("api/key/delete", 201, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "api/key/delete", map[string]any{"key_id": 1})
		}),
	},

	"sub-users": {
		okStep("subuser/security_group/create", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/create", map[string]any{"group": map[string]any{
				"label": "Dispatch", "privileges": map[string]any{"rights": []string{"tracker_update", "employee_update"}, "store_period": "30d"}}})
		}),
		failStep("subuser/security_group/create", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/create", map[string]any{"group": map[string]any{
				"label": "Admins", "privileges": map[string]any{"rights": []string{"admin"}}}})
		}),
		okStep("subuser/security_group/update", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/update", map[string]any{"group": map[string]any{
				"id": 1, "label": "Dispatchers", "privileges": map[string]any{"rights": []string{"tracker_update", "employee_update"}, "store_period": "1y"}}})
		}),
		failStep("subuser/security_group/update", 201, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/update", map[string]any{"group": map[string]any{
				"id": 99, "label": "Editors", "privileges": map[string]any{"rights": []string{}}}})
		}),
		okStep("subuser/register", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/register", map[string]any{"user": map[string]any{
				"login": "dispatcher@example.com", "first_name": "Zoë", "middle_name": "Ann", "last_name": "Ng", "phone": "4930123456",
				"legal_type": "sole_trader", "post_country": "Norge", "post_index": "0150", "post_region": "Oslo",
				"post_city": "Oslo", "post_street_address": "Karl Johans gate 1", "registered_country": "Norge",
				"registered_index": "5003", "registered_region": "Vestland", "registered_city": "Bergen",
				"registered_street_address": "Bryggen 2", "state_reg_num": "987654321", "tin": "NO987654321MVA",
				"legal_name": "Zoë Ng ENK", "iec": "", "security_group_id": 1}, "password": subPassword})
		}),
		failStep("subuser/register", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/register", map[string]any{"user": map[string]any{
				"login": "two words", "phone": "493012345", "legal_type": "company", "state_reg_num": "1234567890123456"},
				"password": "password"})
		}),
		okStep("user/get_info", func(t *testing.T, st *stack) result {
			return st.login(t, "dispatcher@example.com", subPassword).do(t, formJSON, "user/get_info", nil)
		}),
		okStep("subuser/list", func(t *testing.T, st *stack) result {
			st.master.register(t, map[string]any{"login": "viewer@example.com", "activated": false}, subPassword)
			return st.master.do(t, formJSON, "subuser/list", nil)
		}),
		failStep("subuser/list", 13, func(t *testing.T, st *stack) result {
			return st.login(t, "dispatcher@example.com", subPassword).do(t, formJSON, "subuser/list", nil)
		}),
		okStep("subuser/update", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{
				"id": 3, "login": "viewer2@example.com", "first_name": "Vic", "activated": true}})
		}),
		failStep("subuser/update", 206, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{
				"id": 3, "login": "dispatcher@example.com"}})
		}),
		okStep("subuser/session/create", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/session/create", map[string]any{"subuser_id": 2})
		}),
		failStep("subuser/session/create", 201, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/session/create", map[string]any{"subuser_id": 99})
		}),
		{call: "subuser/session/create", file: "subuser_session_create.deactivated.err", code: 11, do: func(t *testing.T, st *stack) result {
			st.master.ok(t, "subuser/update", map[string]any{"user": map[string]any{"id": 3, "login": "viewer2@example.com", "activated": false}})
			r := st.master.do(t, formJSON, "subuser/session/create", map[string]any{"subuser_id": 3})
			st.master.ok(t, "subuser/update", map[string]any{"user": map[string]any{"id": 3, "login": "viewer2@example.com", "first_name": "Vic", "activated": true}})
			return r
		}},
		okStep("subuser/security_group/assign", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/assign", map[string]any{"group_id": 1, "subuser_ids": []int{3}})
		}),
		failStep("subuser/security_group/assign", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/assign", map[string]any{"group_id": 1, "subuser_ids": []int{}})
		}),
		{call: "subuser/security_group/assign", file: "subuser_security_group_assign.default.ok", do: func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/assign", map[string]any{"group_id": nil, "subuser_ids": []int{3}})
		}},
		okStep("subuser/security_group/list", func(t *testing.T, st *stack) result {
			st.master.createGroup(t, "Viewers")
			st.master.ok(t, "subuser/security_group/create", map[string]any{"group": map[string]any{"label": "Guests"}})
			return st.master.do(t, formJSON, "subuser/security_group/list", nil)
		}),
		failStep("subuser/security_group/list", 4, func(t *testing.T, st *stack) result {
			s := st.login(t, "admin", st.admin)
			s.ok(t, "user/logout", nil)
			return s.do(t, formJSON, "subuser/security_group/list", nil)
		}),
		okStep("subuser/delete", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/delete", map[string]any{"subuser_id": 3})
		}),
		failStep("subuser/delete", 201, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/delete", map[string]any{"subuser_id": 3})
		}),
		okStep("subuser/security_group/delete", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/delete", map[string]any{"security_group_id": 2})
		}),
		failStep("subuser/security_group/delete", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "subuser/security_group/delete", nil)
		}),
	},

	"employees": {
		okStep("department/create", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/create", map[string]any{"department": map[string]any{
				"label": "Nord", "location": map[string]any{"lat": 59.9139, "lng": 10.7522, "address": "Oslo", "radius": 500}}})
		}),
		failStep("department/create", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/create", map[string]any{"department": map[string]any{
				"label": "", "location": map[string]any{"lat": 91, "lng": 0, "radius": -1}}})
		}),
		okStep("department/list", func(t *testing.T, st *stack) result {
			st.master.createDepartment(t, map[string]any{"label": "Süd"})
			return st.master.do(t, formJSON, "department/list", nil)
		}),
		failStep("department/list", 3, func(t *testing.T, st *stack) result {
			return do(t, st.api, formJSON, "department/list", nil)
		}),
		okStep("department/update", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/update", map[string]any{"department": map[string]any{
				"id": 2, "label": "Süd-Ost"}})
		}),
		failStep("department/update", 201, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/update", map[string]any{"department": map[string]any{
				"id": 99, "label": "Norte"}})
		}),
		okStep("employee/create", func(t *testing.T, st *stack) result {
			tags := st.master.someTags(t, 3)
			return st.master.do(t, formJSON, "employee/create", map[string]any{"employee": fullEmployee(1, 501, []int64{tags[2], tags[0], tags[1]})})
		}),
		failStep("employee/create", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{
				"first_name": "", "middle_name": nil, "last_name": strings.Repeat("x", 101), "email": "not-an-address",
				"phone": "+49 30", "driver_license_issue_date": "2020-13-01", "driver_license_valid_till": "31.12.2030",
				"tracker_id": "one", "ssn": strings.Repeat("9", 33),
				"location": map[string]any{"lat": 90.5, "lng": -181, "radius": 1_000_001}}})
		}),
		okStep("employee/avatar/assign", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/avatar/assign", map[string]any{"employee_id": 1, "icon_id": 3654})
		}),
		failStep("employee/avatar/assign", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/avatar/assign", map[string]any{"employee_id": 1, "icon_id": 0})
		}),
		okStep("employee/read", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/read", map[string]any{"employee_id": 1})
		}),
		failStep("employee/read", 201, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/read", map[string]any{"employee_id": 99})
		}),
		okStep("employee/list", func(t *testing.T, st *stack) result {
			st.master.createEmployee(t, map[string]any{"first_name": "Ann"})
			st.master.createEmployee(t, map[string]any{"first_name": "Bob"})
			return st.master.do(t, formJSON, "employee/list", map[string]any{"limit": 2, "sort": []string{"first_name=desc"}})
		}),
		failStep("employee/list", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/list", map[string]any{"sort": []string{"salary=asc"}, "limit": -1})
		}),
		okStep("employee/update", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{
				"id": 2, "first_name": "Anna", "tracker_id": 7}})
		}),
		failStep("employee/update", 247, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{
				"id": 3, "first_name": "Bob", "tracker_id": 501}})
		}),
		okStep("department/delete", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/delete", map[string]any{"department_id": 1})
		}),
		failStep("department/delete", 7, func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "department/delete", map[string]any{"department_id": "abc"})
		}),
		okStep("employee/delete", func(t *testing.T, st *stack) result {
			return st.master.do(t, formJSON, "employee/delete", map[string]any{"employee_id": 3})
		}),
		failStep("employee/delete", 13, func(t *testing.T, st *stack) result {
			return st.subUser(t, st.master, nil).do(t, formJSON, "employee/delete", map[string]any{"employee_id": 2})
		}),
	},
}
