package sqlstore

import (
	"fmt"
	"testing"
	"time"

	"roster/internal/roster"
)

func TestAssignGroup(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		drivers := newGroup(t, db, ann, "drivers", roster.RightEmployeeUpdate)
		bobs := newGroup(t, db, bob, "bob's")
		sub := func(account int64, login string) int64 {
			return must[int64](t, "CreateSubUser("+login+")")(db.CreateSubUser(ctx, account,
				roster.User{Login: login, Activated: true}, "h", t0))
		}
		a1, a2, b1 := sub(ann, "a1"), sub(ann, "a2"), sub(bob, "b1")
		groupOf := func(id int64) *int64 {
			u, err := db.User(ctx, id)
			if err != nil {
				t.Fatalf("User(%d) = %v", id, err)
			}
			return u.SecurityGroupID
		}
		tests := []struct {
			name  string
			group *int64
			ids   []int64
			want  error
			// groups is each of a1, a2, b1's group after the call.
			groups [3]*int64
		}{
			{"both into drivers", &drivers, []int64{a1, a2}, nil, [3]*int64{&drivers, &drivers, nil}},
			{"one back to the default", nil, []int64{a2}, nil, [3]*int64{&drivers, nil, nil}},
			{"duplicates", &drivers, []int64{a2, a2}, nil, [3]*int64{&drivers, &drivers, nil}},
			{"all to the default", nil, []int64{a1, a2}, nil, [3]*int64{nil, nil, nil}},
			{"another account's sub-user among them", &drivers, []int64{a1, b1}, roster.ErrNotFound, [3]*int64{nil, nil, nil}},
			{"another account's group", &bobs, []int64{a1}, roster.ErrNotFound, [3]*int64{nil, nil, nil}},
			{"unknown group", ptr(int64(999999)), []int64{a1}, roster.ErrNotFound, [3]*int64{nil, nil, nil}},
			{"the master itself", &drivers, []int64{ann}, roster.ErrNotFound, [3]*int64{nil, nil, nil}},
		}
		for _, tt := range tests {
			before := dump(t, db)
			err := db.AssignGroup(ctx, ann, tt.group, tt.ids)
			wantErr(t, fmt.Sprintf("AssignGroup(%s)", tt.name), err, tt.want)
			if tt.want != nil && dump(t, db) != before {
				t.Errorf("a refused AssignGroup(%s) changed the database", tt.name)
			}
			for i, id := range []int64{a1, a2, b1} {
				if got, want := groupOf(id), tt.groups[i]; (got == nil) != (want == nil) || got != nil && *got != *want {
					t.Errorf("after AssignGroup(%s) user %d's group = %v, want %v", tt.name, id, groupName(got), groupName(want))
				}
			}
		}
	})
}

func groupName(p *int64) string {
	if p == nil {
		return "default"
	}
	return fmt.Sprint(*p)
}

func TestCreateSubUserSession(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		g := newGroup(t, db, ann, "editors", roster.RightEmployeeUpdate)
		active := must[int64](t, "CreateSubUser(active)")(db.CreateSubUser(ctx, ann,
			roster.User{Login: "active", Activated: true, SecurityGroupID: &g}, "h", t0))
		inactive := must[int64](t, "CreateSubUser(inactive)")(db.CreateSubUser(ctx, ann,
			roster.User{Login: "inactive"}, "h", t0))
		bobs := must[int64](t, "CreateSubUser(bobs)")(db.CreateSubUser(ctx, bob,
			roster.User{Login: "bobs", Activated: true}, "h", t0))
		tests := []struct {
			name string
			id   int64
			want error
		}{
			{"active sub-user", active, nil},
			{"deactivated sub-user", inactive, roster.ErrAccessDenied},
			{"another account's sub-user", bobs, roster.ErrNotFound},
			{"the master itself", ann, roster.ErrNotFound},
			{"no such user", 999999, roster.ErrNotFound},
		}
		for _, tt := range tests {
			_, digest, err := roster.NewSessionKey()
			if err != nil {
				t.Fatal(err)
			}
			err = db.CreateSubUserSession(ctx, ann, tt.id, digest, t0, t0.Add(time.Hour))
			wantErr(t, fmt.Sprintf("CreateSubUserSession(%s)", tt.name), err, tt.want)
			c, cerr := db.Caller(ctx, digest, t0)
			switch {
			case tt.want != nil && cerr == nil:
				t.Errorf("refused CreateSubUserSession(%s) left a live session of user %d", tt.name, c.User.ID)
			case tt.want == nil && (cerr != nil || c.User.ID != tt.id || !c.Rights[roster.RightEmployeeUpdate]):
				t.Errorf("Caller(session of %s) = %+v, %v, want user %d with employee_update", tt.name, c, cerr, tt.id)
			case tt.want == nil && live(t, db, digest, t0.Add(time.Hour)):
				t.Errorf("session of %s outlives its expiry", tt.name)
			}
		}
	})
}
