package main

import (
	"slices"
	"sync"
	"testing"
)

// TestAccountRules checks the rules of SPEC §2 and §3 that tie entities
// together. Other rules of the same kind are in TestCalls (a deleted
// department's employees, a deleted sub-user's sessions) and in
// TestErrorCodes (another account's department or group named in an
// employee or a sub-user: 201).
func TestAccountRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)

		t.Run("a deactivated sub-user cannot sign in and its sessions end", func(t *testing.T) {
			t.Parallel()
			name := uniqueLogin("worker")
			id := st.master.register(t, map[string]any{"login": name}, subPassword)
			sub := st.login(t, name, subPassword)
			other := st.login(t, name, subPassword)
			st.master.ok(t, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": name, "activated": false}})
			sub.want(t, formJSON, "user/get_info", nil, 4)
			other.want(t, formGET, "employee/list", nil, 4)
			for _, f := range plainForms {
				check(t, string(f)+" user/auth of a deactivated sub-user",
					do(t, st.api, f, "user/auth", map[string]any{"login": name, "password": subPassword}), 11)
			}
			// A wrong password says nothing of the account's state.
			check(t, "user/auth of a deactivated sub-user with a wrong password",
				do(t, st.api, formJSON, "user/auth", map[string]any{"login": name, "password": "wrong-password"}), 102)
			if got := st.master.find(t, "subuser/list", id)["activated"]; got != false {
				t.Errorf("activated after deactivation = %v, want false", got)
			}
			st.master.ok(t, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": name, "activated": true}})
			st.login(t, name, subPassword).want(t, formJSON, "user/get_info", nil, 0)

			// Registered deactivated: no sign-in from the start.
			name = uniqueLogin("dormant")
			st.master.register(t, map[string]any{"login": name, "activated": false}, subPassword)
			check(t, "user/auth of a sub-user registered deactivated",
				do(t, st.api, formJSON, "user/auth", map[string]any{"login": name, "password": subPassword}), 11)
		})

		t.Run("deleting a security group puts its sub-users in the default group", func(t *testing.T) {
			t.Parallel()
			a := st.newAccount(t)
			doomed := a.createGroup(t, "Doomed", "employee_update")
			kept := a.createGroup(t, "Kept", "employee_update")
			s1, s2, s3 := st.subUser(t, a, doomed), st.subUser(t, a, doomed), st.subUser(t, a, kept)
			for _, s := range []session{s1, s2, s3} {
				s.want(t, formJSON, "department/create", map[string]any{"department": map[string]any{"label": s.login}}, 0)
			}
			a.ok(t, "subuser/security_group/delete", map[string]any{"security_group_id": doomed})
			groups := map[string]any{}
			for _, u := range a.list(t, "subuser/list", nil) {
				m, _ := u.(map[string]any)
				groups[m["login"].(string)] = m["security_group_id"]
			}
			same(t, "sub-users' groups after the deletion", groups, map[string]any{s1.login: nil, s2.login: nil, s3.login: kept})
			for _, s := range []session{s1, s2} {
				before := a.snapshot(t)
				s.want(t, formJSON, "department/create", map[string]any{"department": map[string]any{"label": "Again"}}, 13)
				s.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Again"}}, 13)
				if after := a.snapshot(t); after != before {
					t.Errorf("refused writes changed the account:\nbefore %s\nafter %s", before, after)
				}
				info, _ := s.ok(t, "user/get_info", nil).body["user_info"].(map[string]any)
				same(t, s.login+"'s privileges", info["privileges"], map[string]any{"rights": []string{}})
			}
			s3.want(t, formJSON, "department/create", map[string]any{"department": map[string]any{"label": "Still"}}, 0)
		})

		t.Run("admin cannot be put in a group", func(t *testing.T) {
			t.Parallel()
			a := st.newAccount(t)
			g := a.createGroup(t, "Editors", "employee_update")
			before := a.snapshot(t)
			for _, rights := range [][]string{{"admin"}, {"employee_update", "admin"}} {
				priv := map[string]any{"rights": rights}
				a.want(t, formJSON, "subuser/security_group/create", map[string]any{"group": map[string]any{"label": "Admins", "privileges": priv}}, 7)
				a.want(t, formJSON, "subuser/security_group/update", map[string]any{"group": map[string]any{"id": g, "label": "Admins", "privileges": priv}}, 7)
			}
			if after := a.snapshot(t); after != before {
				t.Errorf("refused group writes changed the account:\nbefore %s\nafter %s", before, after)
			}
		})

		t.Run("a tracker is bound to one employee per account", func(t *testing.T) {
			t.Parallel()
			a, b := st.newAccount(t), st.newAccount(t)
			tracker, spare := seq.Add(1), seq.Add(1)
			first := a.createEmployee(t, map[string]any{"first_name": "First", "tracker_id": tracker})
			second := a.createEmployee(t, map[string]any{"first_name": "Second", "tracker_id": spare})
			before := a.snapshot(t)
			for _, f := range plainForms {
				a.want(t, f, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Third", "tracker_id": tracker}}, 247)
				a.want(t, f, "employee/update", map[string]any{"employee": map[string]any{"id": second, "first_name": "Second", "tracker_id": tracker}}, 247)
			}
			if after := a.snapshot(t); after != before {
				t.Errorf("calls refused with 247 changed the account:\nbefore %s\nafter %s", before, after)
			}
			// An employee keeps its own tracker; another account has its own
			// trackers; a deleted employee's tracker is free again.
			a.want(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{"id": first, "first_name": "First!", "tracker_id": tracker}}, 0)
			b.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Theirs", "tracker_id": tracker}}, 0)
			a.ok(t, "employee/delete", map[string]any{"employee_id": first})
			a.want(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{"id": second, "first_name": "Second", "tracker_id": tracker}}, 0)
			// Trackers left null are not bound.
			for range 2 {
				a.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Free", "tracker_id": nil}}, 0)
			}
		})

		t.Run("a hardware key belongs to one employee per account", func(t *testing.T) {
			t.Parallel()
			a, b := st.newAccount(t), st.newAccount(t)
			key := unique("ibutton-")
			first := a.createEmployee(t, map[string]any{"first_name": "First", "hardware_key": key})
			second := a.createEmployee(t, map[string]any{"first_name": "Second", "hardware_key": key + "-2"})
			before := a.snapshot(t)
			for _, f := range plainForms {
				a.want(t, f, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Third", "hardware_key": key}}, 247)
				a.want(t, f, "employee/update", map[string]any{"employee": map[string]any{"id": second, "first_name": "Second", "hardware_key": key}}, 247)
			}
			if after := a.snapshot(t); after != before {
				t.Errorf("calls refused with 247 changed the account:\nbefore %s\nafter %s", before, after)
			}
			// An employee keeps its own key; another account has its own
			// keys; a deleted employee's key is free again.
			a.want(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{"id": first, "first_name": "First!", "hardware_key": key}}, 0)
			b.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Theirs", "hardware_key": key}}, 0)
			a.ok(t, "employee/delete", map[string]any{"employee_id": first})
			a.want(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{"id": second, "first_name": "Second", "hardware_key": key}}, 0)
			// No key and the empty key are nobody's.
			for _, none := range []any{nil, "", nil, ""} {
				a.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Keyless", "hardware_key": none}}, 0)
			}
		})

		t.Run("creates racing for one hardware key: one wins", func(t *testing.T) {
			t.Parallel()
			a := st.newAccount(t)
			key := unique("rfid-")
			const n = 8
			codes := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r := a.do(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Racer", "hardware_key": key}})
					codes[i] = r.code()
					if r.code() != 0 {
						check(t, "a losing create", r, 247)
					}
				})
			}
			wg.Wait()
			if won := slices.Index(codes, 0); won < 0 || slices.Index(codes[won+1:], 0) >= 0 || a.ok(t, "employee/list", nil).int("count") != 1 {
				t.Errorf("%d creates with one hardware key answered %v, want one success and 247 for the rest", n, codes)
			}
		})

		t.Run("a department deleted while employees join it", func(t *testing.T) {
			t.Parallel()
			a := st.newAccount(t)
			mover := a.createEmployee(t, map[string]any{"first_name": "Mover"})
			for range 20 {
				dept := a.createDepartment(t, map[string]any{"label": "Short-lived"})
				joined := map[string]any{"first_name": "Joiner", "department_id": dept}
				var create, update, del result
				var wg sync.WaitGroup
				wg.Go(func() { del = a.do(t, formJSON, "department/delete", map[string]any{"department_id": dept}) })
				wg.Go(func() { create = a.do(t, formJSON, "employee/create", map[string]any{"employee": joined}) })
				wg.Go(func() {
					update = a.do(t, formJSON, "employee/update", map[string]any{"employee": with(joined, map[string]any{"id": mover})})
				})
				wg.Wait()
				check(t, "department/delete", del, 0)
				for name, r := range map[string]result{"employee/create": create, "employee/update": update} {
					if r.code() != 0 && r.code() != 201 {
						t.Errorf("%s into a department being deleted = %d %s, want success or 201", name, r.status, r.raw)
					}
				}
			}
			for _, e := range a.list(t, "employee/list", nil) {
				if d := e.(map[string]any)["department_id"]; d != nil {
					t.Errorf("employee %v is in department %v, which was deleted", e.(map[string]any)["id"], d)
				}
			}
		})

		t.Run("registers racing for one login: one wins", func(t *testing.T) {
			t.Parallel()
			a := st.newAccount(t)
			name := uniqueLogin("contested")
			const n = 4
			codes := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r := a.do(t, formJSON, "subuser/register", map[string]any{"user": map[string]any{"login": name}, "password": subPassword})
					codes[i] = r.code()
					if r.code() != 0 {
						check(t, "a losing register", r, 206)
					}
				})
			}
			wg.Wait()
			if list := a.list(t, "subuser/list", nil); len(list) != 1 || slices.Index(codes, 0) < 0 {
				t.Errorf("%d registers of one login answered %v and made %d sub-users, want one", n, codes, len(list))
			}
		})

		t.Run("a security group deleted while a sub-user joins it", func(t *testing.T) {
			t.Parallel()
			a := st.newAccount(t)
			name := uniqueLogin("joiner")
			id := a.register(t, map[string]any{"login": name}, subPassword)
			for range 20 {
				g := a.createGroup(t, "Short-lived", "employee_update")
				var update, del result
				var wg sync.WaitGroup
				wg.Go(func() {
					del = a.do(t, formJSON, "subuser/security_group/delete", map[string]any{"security_group_id": g})
				})
				wg.Go(func() {
					update = a.do(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": name, "security_group_id": g}})
				})
				wg.Wait()
				check(t, "subuser/security_group/delete", del, 0)
				if update.code() != 0 && update.code() != 201 {
					t.Errorf("subuser/update into a group being deleted = %d %s, want success or 201", update.status, update.raw)
				}
				if got := a.find(t, "subuser/list", id)["security_group_id"]; got != nil {
					t.Errorf("sub-user in group %v, which was deleted", got)
				}
			}
		})

		t.Run("creates racing for one tracker: one wins", func(t *testing.T) {
			t.Parallel()
			a := st.newAccount(t)
			tracker := seq.Add(1)
			const n = 8
			codes := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r := a.do(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Racer", "tracker_id": tracker}})
					codes[i] = r.code()
					if r.code() != 0 {
						check(t, "a losing create", r, 247)
					}
				})
			}
			wg.Wait()
			won := 0
			for _, c := range codes {
				if c == 0 {
					won++
				}
			}
			if won != 1 || a.ok(t, "employee/list", nil).int("count") != 1 {
				t.Errorf("%d creates with one tracker answered %v, want one success and 247 for the rest", n, codes)
			}
		})
	})
}
