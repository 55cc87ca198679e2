package main

import (
	"testing"
)

// writeCall is a call that changes an account, with a fresh target in the
// account for each attempt.
type writeCall struct {
	call string
	// admin: only a master may make it (subuser/*); else employee_update.
	admin bool
	// create: it makes a new entity, so another account's master succeeds,
	// in its own account.
	create bool
	// params makes the target with the master's session m and returns the
	// call's parameters.
	params func(t *testing.T, st *stack, m session) map[string]any
}

var writeCalls = []writeCall{
	{"employee/create", false, true, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"employee": map[string]any{"first_name": "New"}}
	}},
	{"employee/update", false, false, func(t *testing.T, st *stack, m session) map[string]any {
		id := m.createEmployee(t, map[string]any{"first_name": "Old"})
		return map[string]any{"employee": map[string]any{"id": id, "first_name": "New"}}
	}},
	{"employee/delete", false, false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"employee_id": m.createEmployee(t, map[string]any{"first_name": "Old"})}
	}},
	{"employee/avatar/assign", false, false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"employee_id": m.createEmployee(t, map[string]any{"first_name": "Old"}), "icon_id": 7}
	}},
	{"department/create", false, true, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"department": map[string]any{"label": "New"}}
	}},
	{"department/update", false, false, func(t *testing.T, st *stack, m session) map[string]any {
		id := m.createDepartment(t, map[string]any{"label": "Old"})
		return map[string]any{"department": map[string]any{"id": id, "label": "New"}}
	}},
	{"department/delete", false, false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"department_id": m.createDepartment(t, map[string]any{"label": "Old"})}
	}},
	{"subuser/register", true, true, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"user": map[string]any{"login": unique("new")}, "password": "password"}
	}},
	{"subuser/update", true, false, func(t *testing.T, st *stack, m session) map[string]any {
		id := m.register(t, map[string]any{"login": unique("old")}, "password")
		return map[string]any{"user": map[string]any{"id": id, "login": unique("new")}}
	}},
	{"subuser/delete", true, false, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"subuser_id": m.register(t, map[string]any{"login": unique("old")}, "password")}
	}},
	{"subuser/security_group/create", true, true, func(t *testing.T, st *stack, m session) map[string]any {
		return map[string]any{"group": map[string]any{"label": "New", "privileges": map[string]any{"rights": []string{"employee_update"}}}}
	}},
	{"subuser/security_group/update", true, false, func(t *testing.T, st *stack, m session) map[string]any {
		id := m.createGroup(t, "Old")
		return map[string]any{"group": map[string]any{"id": id, "label": "New", "privileges": map[string]any{"rights": []string{"employee_update"}}}}
	}},
	{"subuser/security_group/delete", true, false, func(t *testing.T, st *stack, m session) map[string]any {
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
		callers := []struct {
			name string
			s    session
			// ours: the caller belongs to the account.
			ours bool
		}{
			{"master", master, true},
			{"sub-user with employee_update", st.subUser(t, master, editors), true},
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
						if c.admin {
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
