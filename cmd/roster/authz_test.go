package main

import (
	"net/http"
	"regexp"
	"testing"
)

// writeCall is a call that changes an account, with a fresh target in the
// account for each attempt.
type writeCall struct {
	call string
	// right is the right it needs: admin (only a master has it: subuser/*),
	// employee_update or tag_update.
	right string
	// create: it makes a new entity, so another account's master succeeds,
	// in its own account.
	create bool
	// params makes the target with the master's session m and returns the
	// call's parameters.
	params func(t *testing.T, st *stack, m session) map[string]any
}

var writeCalls = []writeCall{
	{"employee/create", "employee_update", true, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"employee": map[string]any{"first_name": "New"}}
	}},
	{"employee/update", "employee_update", false, func(t *testing.T, st *stack, m session) map[string]any {
		id := m.createEmployee(t, map[string]any{"first_name": "Old"})
		return map[string]any{"employee": map[string]any{"id": id, "first_name": "New"}}
	}},
	{"employee/delete", "employee_update", false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"employee_id": m.createEmployee(t, map[string]any{"first_name": "Old"})}
	}},
	{"employee/avatar/assign", "employee_update", false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"employee_id": m.createEmployee(t, map[string]any{"first_name": "Old"}), "icon_id": 7}
	}},
	{"department/create", "employee_update", true, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"department": map[string]any{"label": "New"}}
	}},
	{"department/update", "employee_update", false, func(t *testing.T, st *stack, m session) map[string]any {
		id := m.createDepartment(t, map[string]any{"label": "Old"})
		return map[string]any{"department": map[string]any{"id": id, "label": "New"}}
	}},
	{"department/delete", "employee_update", false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"department_id": m.createDepartment(t, map[string]any{"label": "Old"})}
	}},
	{"tag/create", "tag_update", true, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"tag": map[string]any{"name": "New", "color": "FF0000"}}
	}},
	{"tag/update", "tag_update", false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"tag": map[string]any{"id": m.createTag(t, "Old", "000000"), "name": "New", "color": "FF0000"}}
	}},
	{"tag/delete", "tag_update", false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"tag_id": m.createTag(t, "Old", "000000")}
	}},
	{"tag/avatar/assign", "tag_update", false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"tag_id": m.createTag(t, "Old", "000000"), "icon_id": 7}
	}},
	{"subuser/register", "admin", true, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"user": map[string]any{"login": uniqueLogin("new")}, "password": subPassword}
	}},
	{"subuser/update", "admin", false, func(t *testing.T, st *stack, m session) map[string]any {
		id := m.register(t, map[string]any{"login": uniqueLogin("old")}, subPassword)
		return map[string]any{"user": map[string]any{"id": id, "login": uniqueLogin("new")}}
	}},
	{"subuser/delete", "admin", false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"subuser_id": m.register(t, map[string]any{"login": uniqueLogin("old")}, subPassword)}
	}},
	{"subuser/security_group/assign", "admin", false, func(t *testing.T, st *stack, m session) map[string]any {
		id := m.register(t, map[string]any{"login": uniqueLogin("old")}, subPassword)
		return map[string]any{"group_id": m.createGroup(t, "Target"), "subuser_ids": []int64{id}}
	}},
	{"subuser/security_group/create", "admin", true, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"group": map[string]any{"label": "New", "privileges": map[string]any{"rights": []string{"employee_update"}}}}
	}},
	{"subuser/security_group/update", "admin", false, func(t *testing.T, st *stack, m session) map[string]any {
		id := m.createGroup(t, "Old")
		return map[string]any{"group": map[string]any{"id": id, "label": "New", "privileges": map[string]any{"rights": []string{"employee_update"}}}}
	}},
	{"subuser/security_group/delete", "admin", false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"security_group_id": m.createGroup(t, "Old")}
	}},
}

// TestAuthorization is the matrix of every write call and every kind of
// caller: the code each gets, and that a refused call changes nothing (the
// account as its master sees it is the same before and after).
func TestAuthorization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		master := st.master
		editors := master.createGroup(t, "Editors", "employee_update", "tracker_update")
		taggers := master.createGroup(t, "Taggers", "tag_update")
		callers := []struct {
			name string
			s    session
			// ours: the caller belongs to the account.
			ours bool
		}{
			{"master", master, true},
			{"sub-user with employee_update", st.subUser(t, master, editors), true},
			{"sub-user with tag_update", st.subUser(t, master, taggers), true},
			{"sub-user in the default group", st.subUser(t, master, nil), true},
			{"another account's master", st.newAccount(t), false},
			{"no hash", session{api: st.api, login: "nobody"}, false},
			{"malformed hash", session{api: st.api, login: "nobody", hash: "0123456789abcdef0123456789abcdeg"}, false},
			{"logged-out hash", func() session {
				s := st.login(t, "admin", st.admin)
				s.ok(t, "user/logout", nil)
				return s
			}(), false},
		}
		for _, c := range writeCalls {
			t.Run(c.call, func(t *testing.T) {
				// A refused call leaves its target for the next caller; a
				// successful one uses it up.
				params := c.params(t, st, master)
				for _, who := range callers {
					want := 0
					switch who.name {
					case "master":
					case "sub-user with employee_update":
						if c.right != "employee_update" {
							want = 13
						}
					case "sub-user with tag_update":
						if c.right != "tag_update" {
							want = 13
						}
					case "sub-user in the default group":
						want = 13
					case "another account's master":
						if !c.create {
							want = 201
						}
					case "no hash", "malformed hash":
						want = 3
					case "logged-out hash":
						want = 4
					}
					before := master.snapshot(t)
					for _, f := range []form{formJSON, formGET} {
						if f == formGET && want == 0 {
							continue // it did its work the first time
						}
						who.s.want(t, f, c.call, params, want)
					}
					after := master.snapshot(t)
					if want == 0 {
						params = c.params(t, st, master)
					}
					switch {
					case who.ours && want == 0 && after == before:
						t.Errorf("%s by %s succeeded but changed nothing", c.call, who.name)
					case (!who.ours || want != 0) && after != before:
						t.Errorf("%s by %s (code %d) changed the account:\nbefore %s\nafter %s", c.call, who.name, want, before, after)
					}
				}
			})
		}
	})
}

// TestSubUserSessionAuthorization: subuser/session/create changes nothing a
// snapshot shows, so TestAuthorization cannot judge it; here each kind of
// caller gets its code, and only a success carries a hash, one that is the
// sub-user's. It is not session-only: a master's API key works wherever
// its session does, this call included.
func TestSubUserSessionAuthorization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		master := st.master
		name := uniqueLogin("target")
		target := master.register(t, map[string]any{"login": name}, subPassword)
		key, _ := createKey(t, st.api, master.hash, "sessions")
		editors := master.createGroup(t, "Editors", "employee_update")
		ended := st.login(t, "admin", st.admin)
		ended.ok(t, "user/logout", nil)
		hex := regexp.MustCompile(`^[0-9a-f]{32}$`)
		for _, tt := range []struct {
			name string
			s    session
			want int
		}{
			{"master", master, 0},
			{"master's API key", session{api: st.api, login: "admin's key", hash: key}, 0},
			{"sub-user with employee_update", st.subUser(t, master, editors), 13},
			{"sub-user in the default group", st.subUser(t, master, nil), 13},
			{"another account's master", st.newAccount(t), 201},
			{"no hash", session{api: st.api, login: "nobody"}, 3},
			{"malformed hash", session{api: st.api, login: "nobody", hash: "0123456789abcdef0123456789abcdeg"}, 3},
			{"logged-out hash", ended, 4},
		} {
			for _, f := range plainForms {
				r := tt.s.want(t, f, "subuser/session/create", map[string]any{"subuser_id": target}, tt.want)
				h, _ := r.body["hash"].(string)
				switch {
				case tt.want != 0 && h != "":
					t.Errorf("%s subuser/session/create by %s = %s, refused yet with a hash", f, tt.name, r.raw)
				case tt.want == 0 && !hex.MatchString(h):
					t.Errorf("%s subuser/session/create by %s = %s, want a 32-hex hash", f, tt.name, r.raw)
				case tt.want == 0:
					if got := (session{api: st.api, login: name, hash: h}).userID(t); got != target {
						t.Errorf("%s subuser/session/create by %s gave a session of user %d, want %d", f, tt.name, got, target)
					}
				}
			}
		}
		// The master's hash in the Authorization header, the fourth way to
		// send it.
		req := callRequest(t, st.api, formJSON, "subuser/session/create", map[string]any{"subuser_id": target})
		req.Header.Set("Authorization", "NVX "+master.hash)
		r := send(t, req)
		h, _ := r.body["hash"].(string)
		if r.status != http.StatusOK || !hex.MatchString(h) {
			t.Fatalf("subuser/session/create with Authorization: NVX = %d %s, want a hash", r.status, r.raw)
		}
		if got := (session{api: st.api, login: name, hash: h}).userID(t); got != target {
			t.Errorf("session from Authorization: NVX is user %d's, want %d", got, target)
		}
	})
}
