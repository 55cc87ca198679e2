package main

import (
	"slices"
	"testing"
)

// TestLegacySubUsersAndGroups: rows written before Roster checked a
// sub-user's login and phone and a group's rights (made here by writing the
// database as an older release could have left it) stay readable and
// usable; an update may keep the old login and phone as they are, a changed
// one must follow the rules, and a group's update must give only rights of
// the list.
func TestLegacySubUsersAndGroups(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		m := st.newAccount(t)
		g := m.createGroup(t, "Legacy", "employee_update")
		id := m.register(t, map[string]any{"login": uniqueLogin("legacy"), "first_name": "Old"}, subPassword)
		login := unique("legacy.") // no @: not an e-mail address
		db := st.sqlDB(t)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`UPDATE users SET login = $1, phone = '4930123', security_group_id = $2 WHERE id = $3`, []any{login, g, id}},
			{`UPDATE security_groups SET rights = '["employee_update","report_update"]' WHERE id = $1`, []any{g}},
		} {
			if _, err := db.ExecContext(t.Context(), q.sql, q.args...); err != nil {
				t.Fatal(err)
			}
		}

		// Readable as stored, and usable.
		sub := st.login(t, login, subPassword)
		got := m.find(t, "subuser/list", id)
		if got["login"] != login || got["phone"] != "4930123" {
			t.Errorf("legacy sub-user listed as %v, want login %s and phone 4930123", got, login)
		}
		same(t, "legacy group", m.find(t, "subuser/security_group/list", g)["privileges"],
			map[string]any{"rights": []string{"employee_update", "report_update"}, "store_period": ""})
		sub.want(t, formJSON, "department/create", map[string]any{"department": map[string]any{"label": "By a legacy sub-user"}}, 0)

		// Kept as they are: accepted, in every form.
		for _, f := range plainForms {
			m.want(t, f, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": login, "phone": "4930123",
				"first_name": "Kept " + string(f), "security_group_id": g}}, 0)
		}
		if got := m.find(t, "subuser/list", id); got["first_name"] != "Kept get" || got["login"] != login {
			t.Errorf("legacy sub-user after updates that keep its login = %v", got)
		}
		st.login(t, login, subPassword)

		// Changed: the rules hold, and nothing changes.
		before := m.snapshot(t)
		for _, c := range []struct {
			name  string
			user  map[string]any
			param string
		}{
			{"another login that is not an e-mail address", map[string]any{"login": login + "x", "phone": "4930123"}, "user.login"},
			{"the login in other case", map[string]any{"login": "LEGACY." + login[len("legacy."):], "phone": "4930123"}, "user.login"},
			{"another short phone", map[string]any{"login": login, "phone": "4930124"}, "user.phone"},
		} {
			c.user["id"] = id
			if r := m.want(t, formJSON, "subuser/update", map[string]any{"user": c.user}, 7); !slices.Equal(errorParams(r), []string{c.param}) {
				t.Errorf("update with %s names %v, want [%s]", c.name, errorParams(r), c.param)
			}
		}
		// Another account's sub-user is not kept: its old login is judged as new.
		other := st.newAccount(t)
		if r := other.want(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": login}}, 7); !slices.Equal(errorParams(r), []string{"user.login"}) {
			t.Errorf("another account's update with the legacy login names %v, want [user.login]", errorParams(r))
		}
		// A group update must fix the rights.
		legacyGroup := map[string]any{"id": g, "label": "Legacy", "privileges": map[string]any{"rights": []string{"employee_update", "report_update"}}}
		if r := m.want(t, formJSON, "subuser/security_group/update", map[string]any{"group": legacyGroup}, 7); !slices.Equal(errorParams(r), []string{"group.privileges.rights"}) {
			t.Errorf("group update keeping an unknown right names %v, want [group.privileges.rights]", errorParams(r))
		}
		if after := m.snapshot(t); after != before {
			t.Errorf("refused updates changed the account:\nbefore %s\nafter %s", before, after)
		}

		// Changed to follow the rules: accepted.
		m.want(t, formJSON, "subuser/security_group/update", map[string]any{"group": map[string]any{"id": g, "label": "Legacy",
			"privileges": map[string]any{"rights": []string{"employee_update"}}}}, 0)
		same(t, "fixed group", m.find(t, "subuser/security_group/list", g)["privileges"],
			map[string]any{"rights": []string{"employee_update"}, "store_period": ""})
		fresh := uniqueLogin("fixed")
		m.want(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": fresh, "phone": "", "security_group_id": g}}, 0)
		st.login(t, fresh, subPassword)
		// The old login is gone for good: it is not an e-mail address.
		m.want(t, formJSON, "subuser/update", map[string]any{"user": map[string]any{"id": id, "login": login}}, 7)
	})
}
