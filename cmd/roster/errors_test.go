package main

import (
	"bytes"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDatabaseError: when the database fails, a call answers 1 with HTTP
// 500 and tells the client nothing of the cause, which goes to the log with
// the request id. The test breaks the database under the running server as
// an operator's mistake would: it drops tables.
func TestDatabaseError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		db := st.sqlDB(t)
		id := st.master.createEmployee(t, map[string]any{"first_name": "Ann"})
		if _, err := db.ExecContext(t.Context(), `DROP TABLE employees`); err != nil {
			t.Fatal(err)
		}
		calls := []struct {
			call   string
			params map[string]any
		}{
			{"employee/list", nil},
			{"employee/read", map[string]any{"employee_id": id}},
			{"employee/create", map[string]any{"employee": map[string]any{"first_name": "Bob"}}},
			{"employee/update", map[string]any{"employee": map[string]any{"id": id, "first_name": "Bob"}}},
			{"employee/delete", map[string]any{"employee_id": id}},
			{"department/delete", map[string]any{"department_id": 1}},
		}
		for _, c := range calls {
			r := st.master.want(t, formJSON, c.call, c.params, 1)
			leaks(t, st, c.call, r, "employees")
		}
		// A failing session lookup is a database error too, not an ended
		// session.
		if _, err := db.ExecContext(t.Context(), `DROP TABLE sessions`); err != nil {
			t.Fatal(err)
		}
		leaks(t, st, "user/get_info", st.master.want(t, formJSON, "user/get_info", nil, 1), "sessions")
		r := do(t, st.api, formJSON, "user/auth", map[string]any{"login": "admin", "password": st.admin})
		check(t, "user/auth without a sessions table", r, 1)
		leaks(t, st, "user/auth", r, "sessions")
	})
}

// leaks checks that a database error's answer says nothing of the cause,
// and that the log has it with the answer's request id.
func leaks(t *testing.T, st *stack, call string, r result, table string) {
	t.Helper()
	if _, ok := r.body["errors"]; ok || bytes.Contains(r.raw, []byte(table)) || len(r.body) != 2 {
		t.Errorf("%s answer %s says more than the code", call, r.raw)
	}
	id := r.header.Get("X-Request-Id")
	for _, line := range strings.Split(st.stderr.String(), "\n") {
		if strings.Contains(line, id) && strings.Contains(line, table) {
			return
		}
	}
	t.Errorf("%s: no log line has the request id %q and the cause\nlog:\n%s", call, id, st.stderr)
}

// TestErrorCodes produces each code the calls answer, on both stacks.
func TestErrorCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		other := st.newAccount(t)
		// The account the refusals are tried on; the subtests that use it
		// run one after another, each comparing it before and after.
		quiet := st.newAccount(t)
		viewer := st.subUser(t, st.master, nil)
		gone := st.login(t, "admin", st.admin)
		gone.ok(t, "user/logout", nil)

		t.Run("3 wrong hash", func(t *testing.T) {
			a := quiet // whose hash the malformed ones are made from
			before := a.snapshot(t)
			for _, call := range []string{"user/get_info", "user/logout", "employee/list", "employee/create", "subuser/list"} {
				params := map[string]any{"employee": map[string]any{"first_name": "X"}}
				check(t, call+" without a hash", do(t, st.api, formJSON, call, params), 3)
				for _, h := range []any{"", "null", a.hash[:31], a.hash + "0", strings.Repeat("g", 32),
					" " + a.hash[:31], "../" + a.hash[3:], 12345678901234567890.0, nil, true} {
					for _, f := range plainForms {
						params["hash"] = h
						check(t, string(f)+" "+call+" with hash "+textValue(h), do(t, st.api, f, call, params), 3)
					}
				}
				params["hash"] = []string{a.hash}
				check(t, call+" with the hash in an array", do(t, st.api, formJSON, call, params), 3)
			}
			if after := a.snapshot(t); after != before {
				t.Errorf("calls refused with 3 changed the account:\nbefore %s\nafter %s", before, after)
			}
		})

		t.Run("4 session not found or ended", func(t *testing.T) {
			t.Parallel()
			// TestSessionExpiry has the expired session.
			for _, h := range []string{unknownHash, gone.hash} {
				for _, call := range []string{"user/get_info", "user/session/renew", "user/logout", "employee/create", "subuser/list"} {
					anon(st, h).want(t, formJSON, call, map[string]any{"employee": map[string]any{"first_name": "X"}}, 4)
				}
			}
			// A key is hexadecimal in any case.
			upper := session{api: st.api, login: "admin", hash: strings.ToUpper(st.master.hash)}
			upper.want(t, formGET, "user/get_info", nil, 0)
		})

		t.Run("5 wrong request format", func(t *testing.T) {
			t.Parallel()
			q := "?hash=" + st.master.hash
			for _, c := range []struct {
				name, method, contentType, body string
			}{
				{"unparseable JSON", "POST", "application/json", `{"employee_id": 1`},
				{"JSON after the object", "POST", "application/json", `{"employee_id": 1} {}`},
				{"JSON array", "POST", "application/json", `[{"employee_id": 1}]`},
				{"JSON string", "POST", "application/json", `"employee_id"`},
				{"JSON number", "POST", "application/json", `1`},
				{"malformed form body", "POST", "application/x-www-form-urlencoded", "employee_id=%zz"},
				{"text/plain", "POST", "text/plain", "employee_id=1"},
				{"XML", "POST", "application/xml", "<employee_id>1</employee_id>"},
				{"malformed content type", "POST", "application/json; charset", `{}`},
				{"multipart without a boundary", "POST", "multipart/form-data", "--x\r\n"},
				{"broken multipart", "POST", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1"},
				{"PUT", "PUT", "application/json", `{}`},
				{"DELETE", "DELETE", "", ""},
				{"PATCH", "PATCH", "application/json", `{}`},
				{"OPTIONS", "OPTIONS", "", ""},
			} {
				for _, call := range []string{"employee/list", "user/auth"} {
					req := mustRequest(t, c.method, st.api+"/"+call+q, strings.NewReader(c.body))
					if c.contentType != "" {
						req.Header.Set("Content-Type", c.contentType)
					}
					check(t, c.name+" to "+call, send(t, req), 5)
				}
			}
		})

		t.Run("7 invalid parameters", func(t *testing.T) {
			testInvalidParams(t, quiet)
		})

		t.Run("7 limits are inclusive", func(t *testing.T) {
			t.Parallel()
			// An employee carries at most 1000 tags; one may come more than once.
			tags := slices.Repeat(st.master.someTags(t, 1), 1000)
			e := map[string]any{
				"first_name": strings.Repeat("é", 100), "middle_name": strings.Repeat("ü", 100),
				"last_name": strings.Repeat("ß", 100), "email": strings.Repeat("a", 88) + "@example.com",
				"phone": strings.Repeat("9", 32), "driver_license_number": strings.Repeat("N", 32),
				"driver_license_cats": strings.Repeat("C", 32), "driver_license_issue_date": "0001-01-01",
				"driver_license_valid_till": "2099-12-31", "hardware_key": strings.Repeat("k", 64),
				"personnel_number": strings.Repeat("7", 15), "ssn": strings.Repeat("ш", 32),
				"tracker_id": int64(math.MaxInt64), "tags": tags,
				"location": map[string]any{"lat": -90, "lng": -180, "address": strings.Repeat("a", 255), "radius": 1_000_000},
			}
			id := st.master.createEmployee(t, e)
			r := st.master.want(t, formJSON, "employee/read", map[string]any{"employee_id": id}, 0)
			same(t, "employee at every limit", r.body["value"], wantEmployee(id, e, nil, nil))
			if !bytes.Contains(r.raw, []byte(`"tracker_id":9223372036854775807,`)) {
				t.Errorf("employee/read = %s, want tracker_id 9223372036854775807 exactly", r.raw)
			}
			d := map[string]any{"label": strings.Repeat("d", 100), "location": map[string]any{"lat": 90, "lng": 180, "address": "", "radius": 1_000_000}}
			d["id"] = st.master.createDepartment(t, d)
			same(t, "department at every limit", st.master.find(t, "department/list", d["id"].(int64)), d)
			// 100 rights: the list of sub-user rights, over and over.
			known := []string{"tracker_update", "tracker_configure", "tracker_set_output", "tracker_register",
				"tracker_rule_update", "tag_update", "task_update", "form_template_update", "zone_update",
				"place_update", "places_custom_fields_update", "employee_update", "vehicle_update", "video_monitoring"}
			rights := []string{}
			for i := range 100 {
				rights = append(rights, known[i%len(known)])
			}
			g := map[string]any{"label": strings.Repeat("g", 100), "privileges": map[string]any{"rights": rights, "store_period": "9999y"}}
			g["id"] = st.master.ok(t, "subuser/security_group/create", map[string]any{"group": g}).int("id")
			same(t, "group at every limit", st.master.find(t, "subuser/security_group/list", g["id"].(int64)), g)
			for _, password := range []string{"Aa1!aa", "Aa1!" + strings.Repeat("p", 16)} {
				login := unique("l")
				login += strings.Repeat("y", 100-len(login)-len("@example.com")) + "@example.com"
				user := map[string]any{"login": login, "first_name": strings.Repeat("f", 100), "phone": strings.Repeat("9", 15)}
				for name, max := range map[string]int{"post_country": 100, "post_index": 32, "post_region": 100, "post_city": 100,
					"post_street_address": 255, "registered_country": 100, "registered_index": 32, "registered_region": 100,
					"registered_city": 100, "registered_street_address": 255, "state_reg_num": 15, "tin": 32,
					"legal_name": 255, "iec": 32} {
					user[name] = strings.Repeat("ü", max)
				}
				id := st.master.register(t, user, password)
				same(t, "sub-user at every limit", st.master.find(t, "subuser/list", id), with(user, map[string]any{
					"id": id, "activated": true, "middle_name": "", "last_name": "", "legal_type": "individual",
					"security_group_id": nil, "creation_date": st.master.find(t, "subuser/list", id)["creation_date"]}))
				st.login(t, login, password)
			}
			st.master.want(t, formGET, "employee/list", map[string]any{"filter": strings.Repeat("é", 100)}, 0)
		})

		t.Run("9 too large request", func(t *testing.T) {
			a := quiet
			before := a.snapshot(t)
			const limit = 1 << 20
			pad := func(body string, size int) string { // a JSON object of exactly size bytes
				return body[:len(body)-1] + `,"pad":"` + strings.Repeat("x", size-len(body)-9) + `"}`
			}
			body := `{"hash":"` + a.hash + `","employee":{"first_name":"Big"}}`
			for _, c := range []struct {
				name, contentType, body string
				want                    int
			}{
				{"JSON of 1 MiB", "application/json", pad(body, limit), 0},
				{"JSON over 1 MiB", "application/json", pad(body, limit+1), 9},
				{"form over 1 MiB", "application/x-www-form-urlencoded", "hash=" + a.hash + "&employee=" +
					`{"first_name":"Big"}&pad=` + strings.Repeat("x", limit), 9},
				{"multipart over 1 MiB", "multipart/form-data; boundary=b", strings.Repeat("--b\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n"+
					strings.Repeat("x", 60000)+"\r\n", 20) + "--b--\r\n", 9},
			} {
				req := mustRequest(t, http.MethodPost, st.api+"/employee/create", strings.NewReader(c.body))
				req.Header.Set("Content-Type", c.contentType)
				r := send(t, req)
				check(t, c.name, r, c.want)
				if c.want == 0 {
					a.ok(t, "employee/delete", map[string]any{"employee_id": r.int("id")})
				}
			}
			if after := a.snapshot(t); after != before {
				t.Errorf("calls refused with 9 changed the account:\nbefore %s\nafter %s", before, after)
			}
		})

		t.Run("13 operation not permitted", func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				call   string
				params map[string]any
			}{
				{"employee/create", map[string]any{"employee": map[string]any{"first_name": "X"}}},
				{"employee/update", map[string]any{"employee": map[string]any{"id": 1, "first_name": "X"}}},
				{"employee/delete", map[string]any{"employee_id": 1}},
				{"department/create", map[string]any{"department": map[string]any{"label": "X"}}},
				{"department/update", map[string]any{"department": map[string]any{"id": 1, "label": "X"}}},
				{"department/delete", map[string]any{"department_id": 1}},
				{"employee/avatar/assign", map[string]any{"employee_id": 1}},
				{"subuser/list", nil},
				{"subuser/register", map[string]any{"user": map[string]any{"login": "x"}, "password": subPassword}},
				{"subuser/security_group/list", nil},
				{"subuser/security_group/create", map[string]any{"group": map[string]any{"label": "x", "privileges": map[string]any{"rights": []string{}}}}},
			} {
				viewer.want(t, formJSON, c.call, c.params, 13)
				// The right is checked before the parameters are.
				viewer.want(t, formGET, c.call, nil, 13)
			}
			for _, call := range []string{"employee/list", "employee/read", "department/list", "user/get_info"} {
				if r := viewer.do(t, formJSON, call, map[string]any{"employee_id": 999999}); r.code() == 13 {
					t.Errorf("%s by a sub-user without rights = %s, want reads allowed", call, r.raw)
				}
			}
		})

		t.Run("102 wrong login or password", func(t *testing.T) {
			t.Parallel()
			// Sign-in failures are throttled per address after ten: five
			// here, the other forms with one case each.
			var bodies [][]byte
			for _, c := range []struct {
				f      form
				params map[string]any
			}{
				{formJSON, map[string]any{"login": "admin", "password": "not the password"}},
				{formJSON, map[string]any{"login": "nobody", "password": "not the password"}},
				{formJSON, map[string]any{"login": "nobody", "password": st.admin}},
				{formURL, map[string]any{"login": viewer.login, "password": ""}},
				{formGET, map[string]any{"login": "", "password": st.admin}},
			} {
				r := do(t, st.api, c.f, "user/auth", c.params)
				check(t, string(c.f)+" user/auth "+textValue(c.params), r, 102)
				bodies = append(bodies, r.raw)
			}
			for _, b := range bodies[1:] {
				if !bytes.Equal(b, bodies[0]) {
					t.Errorf("user/auth answers differ between a wrong password and an unknown login:\n%s\n%s", bodies[0], b)
				}
			}
		})

		t.Run("201 not found", func(t *testing.T) {
			testNotFound(t, quiet, other)
		})

		t.Run("206 login already in use", func(t *testing.T) {
			a := quiet
			taken := uniqueLogin("taken")
			id := a.register(t, map[string]any{"login": taken}, subPassword)
			other.register(t, map[string]any{"login": uniqueLogin("mine")}, subPassword)
			before := a.snapshot(t)
			// Logins are unique across accounts, masters and sub-users.
			// (A master's login need not be an e-mail address, as admin's
			// is not, and such a login is refused with 7 before it is
			// looked up.)
			for _, login := range []string{taken, a.login, other.login, viewer.login} {
				r := a.want(t, formJSON, "subuser/register", map[string]any{"user": map[string]any{"login": login}, "password": subPassword}, 206)
				if _, ok := r.body["errors"]; ok {
					t.Errorf("206 answer %s has an errors list", r.raw)
				}
				if login != taken {
					a.want(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": login}}, 206)
				}
			}
			if after := a.snapshot(t); after != before {
				t.Errorf("calls refused with 206 changed the account:\nbefore %s\nafter %s", before, after)
			}
			// A sub-user keeps its own login.
			a.want(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": taken, "first_name": "Same"}}, 0)
		})
	})
}

// invalidCase is one call with bad parameters and the parameters its code 7
// answer must name, in order.
type invalidCase struct {
	name   string
	call   string
	params map[string]any
	want   []string
}

func testInvalidParams(t *testing.T, a session) {
	id := a.createEmployee(t, map[string]any{"first_name": "Valid"})
	dept := a.createDepartment(t, map[string]any{"label": "Valid"})
	group := a.createGroup(t, "Valid")
	subLogin := uniqueLogin("valid")
	sub := a.register(t, map[string]any{"login": subLogin}, subPassword)
	emp := func(m map[string]any) map[string]any {
		return map[string]any{"employee": with(map[string]any{"first_name": "Ann"}, m)}
	}
	upd := func(m map[string]any) map[string]any {
		return map[string]any{"employee": with(map[string]any{"id": id, "first_name": "Ann"}, m)}
	}
	long := strings.Repeat("é", 101)
	cases := []invalidCase{
		{"missing", "employee/read", nil, []string{"employee_id"}},
		{"ill-typed", "employee/read", map[string]any{"employee_id": "twelve"}, []string{"employee_id"}},
		{"fractional", "employee/read", map[string]any{"employee_id": 1.5}, []string{"employee_id"}},
		{"boolean", "employee/read", map[string]any{"employee_id": true}, []string{"employee_id"}},
		{"zero", "employee/read", map[string]any{"employee_id": 0}, []string{"employee_id"}},
		{"negative", "employee/delete", map[string]any{"employee_id": -1}, []string{"employee_id"}},
		{"out of int64", "employee/read", map[string]any{"employee_id": "99999999999999999999"}, []string{"employee_id"}},
		{"object missing", "employee/create", nil, []string{"employee"}},
		{"object not an object", "employee/create", map[string]any{"employee": []int{1}}, []string{"employee"}},
		{"object a string", "employee/create", map[string]any{"employee": "Ann"}, []string{"employee"}},
		{"first_name missing", "employee/create", map[string]any{"employee": map[string]any{"last_name": "Lee"}}, []string{"employee.first_name"}},
		{"first_name empty", "employee/create", emp(map[string]any{"first_name": ""}), []string{"employee.first_name"}},
		{"first_name too long", "employee/create", emp(map[string]any{"first_name": long}), []string{"employee.first_name"}},
		{"names too long", "employee/update", upd(map[string]any{"middle_name": long, "last_name": long}),
			[]string{"employee.middle_name", "employee.last_name"}},
		{"control characters", "employee/create", emp(map[string]any{"last_name": "a\x00b"}), []string{"employee.last_name"}},
		{"bad email", "employee/create", emp(map[string]any{"email": "ann at example.com"}), []string{"employee.email"}},
		{"email with a name", "employee/create", emp(map[string]any{"email": "Ann <ann@example.com>"}), []string{"employee.email"}},
		{"email too long", "employee/create", emp(map[string]any{"email": strings.Repeat("a", 90) + "@example.com"}), []string{"employee.email"}},
		{"phone with +", "employee/create", emp(map[string]any{"phone": "+4930"}), []string{"employee.phone"}},
		{"phone too long", "employee/create", emp(map[string]any{"phone": strings.Repeat("1", 33)}), []string{"employee.phone"}},
		{"bad date", "employee/create", emp(map[string]any{"driver_license_valid_till": "2030-02-30"}), []string{"employee.driver_license_valid_till"}},
		{"date with time", "employee/create", emp(map[string]any{"driver_license_valid_till": "2030-01-01 00:00:00"}), []string{"employee.driver_license_valid_till"}},
		{"license too long", "employee/create", emp(map[string]any{"driver_license_number": strings.Repeat("1", 33), "driver_license_cats": strings.Repeat("B", 33)}),
			[]string{"employee.driver_license_number", "employee.driver_license_cats"}},
		{"may be empty but not null", "employee/create", emp(map[string]any{"middle_name": nil, "last_name": nil, "email": nil,
			"phone": nil, "driver_license_number": nil, "driver_license_cats": nil, "personnel_number": nil, "ssn": nil}),
			[]string{"employee.middle_name", "employee.last_name", "employee.email", "employee.phone", "employee.driver_license_number"}},
		{"null last_name by update", "employee/update", upd(map[string]any{"last_name": nil}), []string{"employee.last_name"}},
		{"ssn too long", "employee/create", emp(map[string]any{"ssn": strings.Repeat("1", 33)}), []string{"employee.ssn"}},
		{"ssn with control characters", "employee/update", upd(map[string]any{"ssn": "12\x0034"}), []string{"employee.ssn"}},
		{"ssn not a string", "employee/create", emp(map[string]any{"ssn": []int{1}}), []string{"employee.ssn"}},
		{"bad issue date", "employee/create", emp(map[string]any{"driver_license_issue_date": "2021-02-29"}), []string{"employee.driver_license_issue_date"}},
		{"issue date in another layout", "employee/update", upd(map[string]any{"driver_license_issue_date": "31.12.2020"}), []string{"employee.driver_license_issue_date"}},
		{"negative radius", "employee/create", emp(map[string]any{"location": map[string]any{"lat": 1, "lng": 2, "radius": -1}}), []string{"employee.location.radius"}},
		{"radius too large", "employee/update", upd(map[string]any{"location": map[string]any{"lat": 1, "lng": 2, "radius": 1_000_001}}), []string{"employee.location.radius"}},
		{"fractional radius", "employee/create", emp(map[string]any{"location": map[string]any{"lat": 1, "lng": 2, "radius": 2.5}}), []string{"employee.location.radius"}},
		{"radius not a number", "employee/create", emp(map[string]any{"location": map[string]any{"lat": 1, "lng": 2, "radius": "far"}}), []string{"employee.location.radius"}},
		{"hardware key too long", "employee/create", emp(map[string]any{"hardware_key": strings.Repeat("k", 65)}), []string{"employee.hardware_key"}},
		{"personnel number too long", "employee/create", emp(map[string]any{"personnel_number": strings.Repeat("1", 16)}), []string{"employee.personnel_number"}},
		{"latitude", "employee/create", emp(map[string]any{"location": map[string]any{"lat": 90.0001, "lng": 0}}), []string{"employee.location.lat"}},
		{"longitude", "employee/update", upd(map[string]any{"location": map[string]any{"lat": 0, "lng": -180.5}}), []string{"employee.location.lng"}},
		{"location without lng", "employee/create", emp(map[string]any{"location": map[string]any{"lat": 1}}), []string{"employee.location.lng"}},
		{"location not an object", "employee/create", emp(map[string]any{"location": "Berlin"}), []string{"employee.location"}},
		{"tracker_id zero", "employee/create", emp(map[string]any{"tracker_id": 0}), []string{"employee.tracker_id"}},
		{"tracker_id text", "employee/create", emp(map[string]any{"tracker_id": "one"}), []string{"employee.tracker_id"}},
		{"department_id negative", "employee/create", emp(map[string]any{"department_id": -3}), []string{"employee.department_id"}},
		{"tags not ints", "employee/create", emp(map[string]any{"tags": []any{1, "two"}}), []string{"employee.tags[1]"}},
		{"tags not an array", "employee/create", emp(map[string]any{"tags": 1}), []string{"employee.tags"}},
		{"update without id", "employee/update", emp(nil), []string{"employee.id"}},
		{"update with id zero", "employee/update", upd(map[string]any{"id": 0}), []string{"employee.id"}},
		{"every bad field at once", "employee/create", map[string]any{"employee": map[string]any{
			"first_name": "", "last_name": long, "email": "x", "phone": "+1", "driver_license_valid_till": "31.12.2030",
			"tracker_id": "one", "location": map[string]any{"lat": 91, "lng": 181}}},
			[]string{"employee.tracker_id", "employee.first_name", "employee.last_name", "employee.email", "employee.phone",
				"employee.driver_license_valid_till", "employee.location.lat", "employee.location.lng"}},

		{"negative limit", "employee/list", map[string]any{"limit": -1}, []string{"limit"}},
		{"negative offset", "employee/list", map[string]any{"offset": -1}, []string{"offset"}},
		{"unknown sort field", "employee/list", map[string]any{"sort": []string{"salary=asc"}}, []string{"sort"}},
		{"sort by a read-only field", "employee/list", map[string]any{"sort": []string{"avatar_file_name=asc"}}, []string{"sort"}},
		{"bad sort direction", "employee/list", map[string]any{"sort": []string{"id=up"}}, []string{"sort"}},
		{"three sort keys", "employee/list", map[string]any{"sort": []string{"id=asc", "first_name=asc", "last_name=asc"}}, []string{"sort"}},
		{"sort not strings", "employee/list", map[string]any{"sort": []int{1}}, []string{"sort"}},
		{"filter too long", "employee/list", map[string]any{"filter": strings.Repeat("a", 101)}, []string{"filter"}},
		{"list all wrong", "employee/list", map[string]any{"limit": "x", "offset": -5, "sort": "nope", "filter": strings.Repeat("a", 101)},
			[]string{"limit", "offset", "sort", "filter"}},

		{"department label empty", "department/create", map[string]any{"department": map[string]any{"label": ""}}, []string{"department.label"}},
		{"department label too long", "department/create", map[string]any{"department": map[string]any{"label": long}}, []string{"department.label"}},
		{"department location", "department/update", map[string]any{"department": map[string]any{"id": dept, "label": "x",
			"location": map[string]any{"lat": -91, "lng": 0}}}, []string{"department.location.lat"}},
		{"department radius", "department/create", map[string]any{"department": map[string]any{"label": "x",
			"location": map[string]any{"lat": 1, "lng": 0, "radius": -5}}}, []string{"department.location.radius"}},
		{"department without id", "department/update", map[string]any{"department": map[string]any{"label": "x"}}, []string{"department.id"}},
		{"department_id missing", "department/delete", nil, []string{"department_id"}},

		{"icon_id zero", "employee/avatar/assign", map[string]any{"employee_id": id, "icon_id": 0}, []string{"icon_id"}},

		{"auth without login", "user/auth", map[string]any{"password": "x"}, []string{"login"}},
		{"auth without password", "user/auth", map[string]any{"login": "admin"}, []string{"password"}},

		{"password too short", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u")}, "password": "12345"}, []string{"password"}},
		{"password too long", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u")}, "password": strings.Repeat("p", 21)}, []string{"password"}},
		{"password missing", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u")}}, []string{"password"}},
		{"user missing", "subuser/register", map[string]any{"password": subPassword}, []string{"user"}},
		{"login missing", "subuser/register", map[string]any{"user": map[string]any{"first_name": "x"}, "password": subPassword}, []string{"user.login"}},
		{"login with a space", "subuser/register", map[string]any{"user": map[string]any{"login": "a b"}, "password": subPassword}, []string{"user.login"}},
		{"login too long", "subuser/register", map[string]any{"user": map[string]any{"login": strings.Repeat("l", 101)}, "password": subPassword}, []string{"user.login"}},
		{"sub-user phone", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u"), "phone": "+1"}, "password": subPassword}, []string{"user.phone"}},
		{"activated not boolean", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u"), "activated": "yes"}, "password": subPassword}, []string{"user.activated"}},
		{"sub-user group zero", "subuser/update", map[string]any{"user": map[string]any{"id": sub, "login": subLogin, "security_group_id": 0}}, []string{"user.security_group_id"}},
		{"login not an e-mail address", "subuser/register", map[string]any{"user": map[string]any{"login": unique("plain")}, "password": subPassword}, []string{"user.login"}},
		{"login changed to one that is not an e-mail address", "subuser/update", map[string]any{"user": map[string]any{"id": sub, "login": unique("plain")}}, []string{"user.login"}},
		{"sub-user phone too short", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u"), "phone": "123456789"}, "password": subPassword}, []string{"user.phone"}},
		{"sub-user phone too long", "subuser/update", map[string]any{"user": map[string]any{"id": sub, "login": subLogin, "phone": "1234567890123456"}}, []string{"user.phone"}},
		{"password without a special character", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u")}, "password": "Passw0rd"}, []string{"password"}},
		{"password without an upper-case letter", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u")}, "password": "passw0rd!"}, []string{"password"}},
		{"legal type unknown", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u"), "legal_type": "company"}, "password": subPassword}, []string{"user.legal_type"}},
		{"legal type empty", "subuser/update", map[string]any{"user": map[string]any{"id": sub, "login": subLogin, "legal_type": ""}}, []string{"user.legal_type"}},
		{"sub-user details too long", "subuser/register", map[string]any{"user": map[string]any{"login": uniqueLogin("u"),
			"state_reg_num": strings.Repeat("1", 16), "post_index": strings.Repeat("1", 33), "legal_name": strings.Repeat("x", 256), "tin": 12},
			"password": subPassword}, []string{"user.post_index", "user.state_reg_num", "user.legal_name"}},
		{"register all wrong", "subuser/register", map[string]any{"user": map[string]any{"login": "a b", "first_name": long}, "password": "1"},
			[]string{"password", "user.login", "user.first_name"}},
		{"update without id", "subuser/update", map[string]any{"user": map[string]any{"login": "x@example.com"}}, []string{"user.id"}},
		{"subuser_id text", "subuser/delete", map[string]any{"subuser_id": "x"}, []string{"subuser_id"}},

		{"admin in a group", "subuser/security_group/create", map[string]any{"group": map[string]any{"label": "A",
			"privileges": map[string]any{"rights": []string{"employee_update", "admin"}}}}, []string{"group.privileges.rights"}},
		{"a right Navixy does not list", "subuser/security_group/create", map[string]any{"group": map[string]any{"label": "A",
			"privileges": map[string]any{"rights": []string{"employee_update", "report_update"}}}}, []string{"group.privileges.rights"}},
		{"store period without a unit", "subuser/security_group/create", map[string]any{"group": map[string]any{"label": "A",
			"privileges": map[string]any{"rights": []string{}, "store_period": "30"}}}, []string{"group.privileges.store_period"}},
		{"store period and rights wrong", "subuser/security_group/update", map[string]any{"group": map[string]any{"id": group, "label": "",
			"privileges": map[string]any{"rights": []string{"admin"}, "store_period": "1w"}}},
			[]string{"group.label", "group.privileges.rights", "group.privileges.store_period"}},
		{"admin in a group by update", "subuser/security_group/update", map[string]any{"group": map[string]any{"id": group, "label": "A",
			"privileges": map[string]any{"rights": []string{"admin"}}}}, []string{"group.privileges.rights"}},
		{"not a right name", "subuser/security_group/create", map[string]any{"group": map[string]any{"label": "A",
			"privileges": map[string]any{"rights": []string{"Employee Update"}}}}, []string{"group.privileges.rights"}},
		{"rights not strings", "subuser/security_group/create", map[string]any{"group": map[string]any{"label": "A",
			"privileges": map[string]any{"rights": []int{1}}}}, []string{"group.privileges.rights"}},
		{"group label empty", "subuser/security_group/create", map[string]any{"group": map[string]any{"label": "",
			"privileges": map[string]any{"rights": []string{}}}}, []string{"group.label"}},
		{"group without id", "subuser/security_group/update", map[string]any{"group": map[string]any{"label": "A",
			"privileges": map[string]any{"rights": []string{}}}}, []string{"group.id"}},
		{"security_group_id missing", "subuser/security_group/delete", nil, []string{"security_group_id"}},
	}
	before := a.snapshot(t)
	for _, c := range cases {
		for _, f := range plainForms {
			r := a.do(t, f, c.call, c.params)
			if !check(t, string(f)+" "+c.name+": "+c.call, r, 7) {
				continue
			}
			if got := errorParams(r); !slices.Equal(got, c.want) {
				t.Errorf("%s %s: %s names %v, want %v\n%s", f, c.name, c.call, got, c.want, r.raw)
			}
		}
	}
	// Invalid UTF-8 reaches form and query values as raw bytes, and JSON
	// strings as well.
	for _, c := range []struct {
		name, call, query, contentType, body string
		want                                 string
	}{
		{"form", "employee/create", "", "application/x-www-form-urlencoded", "hash=" + a.hash + `&employee={"first_name":"A%FF"}`, "employee.first_name"},
		{"form, top level", "employee/list", "", "application/x-www-form-urlencoded", "hash=" + a.hash + "&filter=%C3", "filter"},
		{"JSON", "employee/create", "", "application/json", `{"hash":"` + a.hash + `","employee":{"first_name":"A` + "\xff" + `"}}`, "employee.first_name"},
		{"JSON, top level", "employee/list", "", "application/json", `{"hash":"` + a.hash + `","filter":"` + "\xc3" + `"}`, "filter"},
		{"form, a key's title", "api/key/create", "", "application/x-www-form-urlencoded", "hash=" + a.hash + "&title=key%FF", "title"},
		{"query, a key's title", "api/key/create", "?hash=" + a.hash + "&title=%C3", "", "", "title"},
	} {
		req := mustRequest(t, http.MethodPost, a.api+"/"+c.call+c.query, strings.NewReader(c.body))
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		r := send(t, req)
		if check(t, "invalid UTF-8 in "+c.name, r, 7) && !slices.Equal(errorParams(r), []string{c.want}) {
			t.Errorf("invalid UTF-8 in %s names %v, want [%s]", c.name, errorParams(r), c.want)
		}
	}
	if after := a.snapshot(t); after != before {
		t.Errorf("calls refused with 7 changed the account:\nbefore %s\nafter %s", before, after)
	}
}

// testNotFound: an id that does not exist and an id of another account get
// the same answer, 201, and change nothing.
func testNotFound(t *testing.T, mine, other session) {
	theirEmployee := other.createEmployee(t, map[string]any{"first_name": "Theirs"})
	theirDept := other.createDepartment(t, map[string]any{"label": "Theirs"})
	theirGroup := other.createGroup(t, "Theirs")
	theirSub := other.register(t, map[string]any{"login": uniqueLogin("theirs")}, subPassword)
	myEmployee := mine.createEmployee(t, map[string]any{"first_name": "Mine"})
	mySub := mine.register(t, map[string]any{"login": uniqueLogin("mine")}, subPassword)
	const missing = 987654
	theirs := other.snapshot(t)
	before := mine.snapshot(t)
	for _, c := range []struct {
		call   string
		params func(id int64) map[string]any
		theirs int64
	}{
		{"employee/read", func(id int64) map[string]any { return map[string]any{"employee_id": id} }, theirEmployee},
		{"employee/update", func(id int64) map[string]any {
			return map[string]any{"employee": map[string]any{"id": id, "first_name": "X"}}
		}, theirEmployee},
		{"employee/delete", func(id int64) map[string]any { return map[string]any{"employee_id": id} }, theirEmployee},
		{"employee/avatar/assign", func(id int64) map[string]any { return map[string]any{"employee_id": id, "icon_id": 1} }, theirEmployee},
		{"department/update", func(id int64) map[string]any {
			return map[string]any{"department": map[string]any{"id": id, "label": "X"}}
		}, theirDept},
		{"department/delete", func(id int64) map[string]any { return map[string]any{"department_id": id} }, theirDept},
		{"subuser/update", func(id int64) map[string]any {
			return map[string]any{"user": map[string]any{"id": id, "login": uniqueLogin("x")}}
		}, theirSub},
		{"subuser/delete", func(id int64) map[string]any { return map[string]any{"subuser_id": id} }, theirSub},
		{"subuser/update", func(id int64) map[string]any {
			return map[string]any{"user": map[string]any{"id": id, "login": uniqueLogin("x")}}
		}, other.userID(t)},
		{"subuser/delete", func(id int64) map[string]any { return map[string]any{"subuser_id": id} }, other.userID(t)},
		{"subuser/delete", func(id int64) map[string]any { return map[string]any{"subuser_id": id} }, 1},
		{"subuser/security_group/update", func(id int64) map[string]any {
			return map[string]any{"group": map[string]any{"id": id, "label": "X", "privileges": map[string]any{"rights": []string{}}}}
		}, theirGroup},
		{"subuser/security_group/delete", func(id int64) map[string]any { return map[string]any{"security_group_id": id} }, theirGroup},
		{"employee/create", func(id int64) map[string]any {
			return map[string]any{"employee": map[string]any{"first_name": "X", "department_id": id}}
		}, theirDept},
		{"employee/update", func(id int64) map[string]any {
			return map[string]any{"employee": map[string]any{"id": myEmployee, "first_name": "X", "department_id": id}}
		}, theirDept},
		{"subuser/register", func(id int64) map[string]any {
			return map[string]any{"user": map[string]any{"login": uniqueLogin("x"), "security_group_id": id}, "password": subPassword}
		}, theirGroup},
		{"subuser/update", func(id int64) map[string]any {
			return map[string]any{"user": map[string]any{"id": mySub, "login": uniqueLogin("x"), "security_group_id": id}}
		}, theirGroup},
	} {
		for _, f := range plainForms {
			gone := mine.want(t, f, c.call, c.params(missing), 201)
			r := mine.want(t, f, c.call, c.params(c.theirs), 201)
			if !bytes.Equal(r.raw, gone.raw) {
				t.Errorf("%s %s: another account's entity gets %s, a missing one %s; want the same", f, c.call, r.raw, gone.raw)
			}
		}
	}
	if after := mine.snapshot(t); after != before {
		t.Errorf("calls refused with 201 changed the account:\nbefore %s\nafter %s", before, after)
	}
	if after := other.snapshot(t); after != theirs {
		t.Errorf("calls refused with 201 changed the other account:\nbefore %s\nafter %s", theirs, after)
	}
}

// userID is the id of the session's user.
func (s session) userID(t *testing.T) int64 {
	t.Helper()
	info, _ := s.ok(t, "user/get_info", nil).body["user_info"].(map[string]any)
	id, _ := info["id"].(float64)
	return int64(id)
}

// TestSignInTiming: an unknown login costs the server as much as a wrong
// password (a password hash either way), so the time of the answer does
// not tell which logins exist. The bound is loose, for busy machines: a
// server that skipped the hash would answer many times faster.
func TestSignInTiming(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		took := func(login string) time.Duration {
			start := time.Now()
			check(t, "user/auth as "+login, do(t, st.api, formJSON, "user/auth", map[string]any{"login": login, "password": "wrong-password"}), 102)
			return time.Since(start)
		}
		// The fastest of four each, taken in turns, so that a busy moment of
		// the machine falls on both alike; eight failures in all, under the
		// ten an address may make.
		wrong, unknown := time.Hour, time.Hour
		for range 4 {
			wrong, unknown = min(wrong, took("admin")), min(unknown, took("nobody"))
		}
		if unknown < wrong/4 {
			t.Errorf("user/auth took %v for an unknown login and %v for a wrong password, want about the same", unknown, wrong)
		}
	})
}
