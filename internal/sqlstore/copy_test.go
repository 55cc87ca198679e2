package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"roster/internal/roster"
	"roster/internal/sqlstore"
	"roster/internal/sqlstore/sqltest"
)

// copyNow is the clock of the copy tests' sessions.
var copyNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// installation is what populate put in a database: enough to read all of
// it back through the store's own methods.
type installation struct {
	logins  []string // every user, masters first
	masters []int64
	digests [][]byte // sessions, one per user
}

// populate fills db with a small installation that uses every column:
// nulls and values, Unicode, extreme numbers, a deactivated sub-user, an
// expired session, and deleted rows that leave gaps below each sequence's
// high-water mark.
func populate(t *testing.T, db *sqlstore.DB) installation {
	t.Helper()
	ctx := t.Context()
	var in installation
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, login := range []string{"fleet", "Ünïcode-Σ"} {
		id, err := db.CreateMaster(ctx, login, fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=1$salt%d$key%d", i, i), copyNow.Add(-time.Duration(i)*time.Hour))
		must(err)
		in.logins = append(in.logins, login)
		in.masters = append(in.masters, id)
	}
	for a, account := range in.masters {
		groups := []int64{}
		for g := range 3 {
			id, err := db.CreateGroup(ctx, account, roster.SecurityGroup{Label: fmt.Sprintf("group %d/%d", a, g),
				Rights: []roster.Right{roster.RightEmployeeUpdate, "tag_update"}[:g%3], StorePeriod: []string{"", "2h", "9999y"}[g]})
			must(err)
			groups = append(groups, id)
		}
		must(db.DeleteGroup(ctx, account, groups[2]))
		for s := range 3 {
			u := roster.User{Login: fmt.Sprintf("sub%d-%d", a, s), FirstName: "Sub", MiddleName: "Q", LastName: "User " + strings.Repeat("é", s),
				Phone: "4915112345678", Activated: s != 2}
			if s < 2 {
				u.SecurityGroupID = &groups[s]
			}
			if s != 1 {
				// Every detail column, one by one distinct.
				u.Details.LegalType = roster.LegalTypes[s]
				for i, f := range u.Details.Fields()[1:] {
					*f.Value = fmt.Sprintf("%s %d ✓ %s", f.Name, i, strings.Repeat("ß", s))
				}
			}
			_, err := db.CreateSubUser(ctx, account, u, "$argon2id$sub-"+u.Login, copyNow.Add(time.Duration(s)*time.Second))
			must(err)
			in.logins = append(in.logins, u.Login)
		}
		var depts []int64
		for d := range 3 {
			dept := roster.Department{Label: fmt.Sprintf("Depot %d", d)}
			if d == 1 {
				dept.Location = &roster.Location{Lat: -33.868820, Lng: 151.209296, Address: "Sydney", Radius: 1200}
			}
			if d == 2 {
				dept.Location = &roster.Location{Lat: 0.1, Lng: -180}
			}
			id, err := db.CreateDepartment(ctx, account, dept)
			must(err)
			depts = append(depts, id)
		}
		var tags []int64
		for i := range 13 {
			id, err := db.CreateTag(ctx, account, roster.Tag{Name: fmt.Sprint("Tag ", i), Color: "00BFFF"})
			must(err)
			tags = append(tags, id)
		}
		var last int64
		for e := range 12 {
			emp := roster.Employee{FirstName: fmt.Sprintf("Emp%02d", e), LastName: "Lee", Email: "e@example.com",
				Phone: "123", DriverLicenseNumber: "DL-1", DriverLicenseCats: "B,C", PersonnelNumber: "P" + fmt.Sprint(e),
				Tags: []int64{tags[e], tags[12]}}
			if e%2 == 0 {
				tracker := int64(1<<53 + e)
				emp.TrackerID = &tracker
				till, key := "2030-01-31", fmt.Sprintf("hw-key-ß%d", e)
				emp.DriverLicenseValidTill, emp.HardwareKey = &till, &key
				emp.DepartmentID = &depts[e%3]
				emp.Location = &roster.Location{Lat: 89.999999, Lng: 1e-9, Address: "北京", Radius: roster.MaxRadius}
				emp.DriverLicenseIssueDate, emp.SSN = new("2012-12-12"), "SSN-ß-"+fmt.Sprint(e)
			}
			id, err := db.CreateEmployee(ctx, account, emp)
			must(err)
			if e%3 == 0 {
				icon := int64(3654)
				must(db.SetIcon(ctx, sqlstore.EmployeeAvatars, account, id, &icon))
			}
			if e%4 == 0 {
				_, err := db.SetAvatar(ctx, sqlstore.EmployeeAvatars, account, id, fmt.Sprintf("%030x%02d.png", account, e))
				must(err)
			}
			last = id
		}
		// The newest employee and department go: the copy must not hand
		// their ids out again.
		_, err := db.DeleteEmployee(ctx, account, last)
		must(err)
		must(db.DeleteDepartment(ctx, account, depts[2]))
	}
	for i, login := range in.logins {
		u, _, err := db.UserByLogin(ctx, login)
		must(err)
		_, digest, err := roster.NewSessionKey()
		must(err)
		expires := copyNow.Add(time.Hour)
		if i == 1 {
			expires = copyNow.Add(-time.Hour)
		}
		must(db.CreateSession(ctx, u.ID, digest, copyNow.Add(-2*time.Hour), expires))
		in.digests = append(in.digests, digest)
	}
	return in
}

// snapshot is everything populate made, read through the store's methods.
type snapshot struct {
	Users       map[string]roster.User
	Hashes      map[string]string
	SubUsers    map[int64][]roster.User
	Groups      map[int64][]roster.SecurityGroup
	Departments map[int64][]roster.Department
	Employees   map[int64][]roster.Employee
	Callers     []string
	Counts      map[string]int64
}

func takeSnapshot(t *testing.T, db *sqlstore.DB, in installation) snapshot {
	t.Helper()
	ctx := t.Context()
	s := snapshot{Users: map[string]roster.User{}, Hashes: map[string]string{}, SubUsers: map[int64][]roster.User{},
		Groups: map[int64][]roster.SecurityGroup{}, Departments: map[int64][]roster.Department{},
		Employees: map[int64][]roster.Employee{}}
	var err error
	for _, login := range in.logins {
		u, hash, err := db.UserByLogin(ctx, login)
		if err != nil {
			t.Fatalf("UserByLogin(%s) = %v", login, err)
		}
		s.Users[login], s.Hashes[login] = u, hash
	}
	for _, a := range in.masters {
		if s.SubUsers[a], err = db.SubUsers(ctx, a); err != nil {
			t.Fatal(err)
		}
		if s.Groups[a], err = db.Groups(ctx, a); err != nil {
			t.Fatal(err)
		}
		if s.Departments[a], err = db.Departments(ctx, a); err != nil {
			t.Fatal(err)
		}
		if s.Employees[a], _, err = db.Employees(ctx, a, roster.ListQuery{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range in.digests {
		c, err := db.Caller(ctx, d, copyNow)
		switch {
		case errors.Is(err, roster.ErrNoSession):
			s.Callers = append(s.Callers, "no session")
		case err != nil:
			t.Fatal(err)
		default:
			s.Callers = append(s.Callers, fmt.Sprintf("%s %v", c.User.Login, slices.Sorted(maps.Keys(c.Rights))))
		}
	}
	if s.Counts, err = db.Counts(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// copyPairs are the directions the tests copy in: SQLite to SQLite always,
// the others when PostgreSQL is configured.
var copyPairs = [][2]string{{"sqlite", "sqlite"}, {"sqlite", "postgres"}, {"postgres", "sqlite"}, {"postgres", "postgres"}}

func forEachPair(t *testing.T, f func(t *testing.T, from, to string)) {
	for _, p := range copyPairs {
		t.Run(p[0]+"-to-"+p[1], func(t *testing.T) {
			if slices.Contains(p[:], "postgres") && os.Getenv(sqltest.EnvPostgres) == "" {
				t.Skipf("PostgreSQL tests need %s, e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
					sqltest.EnvPostgres, sqltest.EnvPostgres)
			}
			t.Parallel()
			f(t, p[0], p[1])
		})
	}
}

func TestCopy(t *testing.T) {
	forEachPair(t, func(t *testing.T, fromDialect, toDialect string) {
		ctx := t.Context()
		from, to := openDB(t, fromDialect), openDB(t, toDialect)
		in := populate(t, from)
		want := takeSnapshot(t, from, in)

		copied := map[string]int{}
		if err := sqlstore.Copy(ctx, from, to, func(table string, n int) { copied[table] = n }); err != nil {
			t.Fatalf("Copy = %v", err)
		}
		for table, n := range want.Counts {
			if int64(copied[table]) != n {
				t.Errorf("progress reported %d rows of %s, want %d", copied[table], table, n)
			}
		}
		if err := to.FinishCopy(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, takeSnapshot(t, to, in)); diff != "" {
			t.Fatalf("target differs from source (-source +target):\n%s", diff)
		}
		// Every column, not only the stored answer the snapshot reads.
		src, err1 := sqlstore.StoredEmployees(ctx, from)
		dst, err2 := sqlstore.StoredEmployees(ctx, to)
		if err1 != nil || err2 != nil || dst != src || !strings.Contains(src, `"ssn":"SSN-ß-0"`) ||
			!strings.Contains(src, `"driver_license_issue_date":"2012-12-12"`) || !strings.Contains(src, `"radius":1000000`) {
			t.Errorf("employees' columns in the target (%v):\n%s\nin the source (%v):\n%s", err2, dst, err1, src)
		}
		for _, table := range []string{"users", "sessions", "security_groups", "departments", "employees"} {
			if want.Counts[table] == 0 {
				t.Errorf("the test put no rows in %s", table)
			}
		}
		if err := to.IntegrityCheck(ctx); err != nil {
			t.Errorf("IntegrityCheck after Copy = %v", err)
		}

		// New rows get ids the source never handed out, in both
		// databases alike.
		account := in.masters[0]
		for name, create := range map[string]func(db *sqlstore.DB) (int64, error){
			"employee": func(db *sqlstore.DB) (int64, error) {
				return db.CreateEmployee(ctx, account, roster.Employee{FirstName: "New"})
			},
			"department": func(db *sqlstore.DB) (int64, error) {
				return db.CreateDepartment(ctx, account, roster.Department{Label: "New"})
			},
			"group": func(db *sqlstore.DB) (int64, error) {
				return db.CreateGroup(ctx, account, roster.SecurityGroup{Label: "New"})
			},
			"master": func(db *sqlstore.DB) (int64, error) {
				return db.CreateMaster(ctx, "newmaster", "x", copyNow)
			},
		} {
			inSource, err := create(from)
			if err != nil {
				t.Fatal(err)
			}
			inTarget, err := create(to)
			if err != nil {
				t.Fatalf("creating a %s after Copy = %v", name, err)
			}
			if inTarget != inSource {
				t.Errorf("new %s got id %d in the copy and %d in the source, want the same next id", name, inTarget, inSource)
			}
		}

		// A finished copy is an installation of its own.
		if err := sqlstore.Copy(ctx, from, to, nil); !errors.Is(err, sqlstore.ErrNotEmpty) {
			t.Errorf("Copy into a finished copy = %v, want ErrNotEmpty", err)
		}
	})
}

// TestCopyInterrupted stops a copy after each table in turn, runs it
// again, and expects the same result as one uninterrupted run.
func TestCopyInterrupted(t *testing.T) {
	forEachPair(t, func(t *testing.T, fromDialect, toDialect string) {
		from := openDB(t, fromDialect)
		in := populate(t, from)
		want := takeSnapshot(t, from, in)
		tables := slices.Sorted(maps.Keys(want.Counts))
		for _, stopAfter := range tables {
			t.Run(stopAfter, func(t *testing.T) {
				t.Parallel()
				to := openDB(t, toDialect)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				var done []string
				err := sqlstore.Copy(ctx, from, to, func(table string, n int) {
					done = append(done, table)
					if table == stopAfter {
						cancel()
					}
				})
				switch {
				case err == nil && done[len(done)-1] != stopAfter:
					t.Fatalf("Copy went on after being canceled: it copied %v", done)
				case err != nil && !errors.Is(err, context.Canceled):
					t.Fatalf("interrupted Copy = %v, want context.Canceled", err)
				}
				resuming, err := to.CopyTarget(t.Context())
				if err != nil || !resuming {
					t.Fatalf("CopyTarget after an interrupted copy = %v, %v; want true, nil", resuming, err)
				}
				if err := sqlstore.Copy(t.Context(), from, to, nil); err != nil {
					t.Fatalf("Copy again = %v", err)
				}
				if err := to.FinishCopy(t.Context()); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, takeSnapshot(t, to, in)); diff != "" {
					t.Fatalf("target differs from source (-source +target):\n%s", diff)
				}
			})
		}
	})
}

// TestCopyOverPartialCopy runs a copy again over a target whose rows an
// earlier, unfinished run left changed, missing and extra: the second run
// must make it identical to the source.
func TestCopyOverPartialCopy(t *testing.T) {
	forEachPair(t, func(t *testing.T, fromDialect, toDialect string) {
		ctx := t.Context()
		from, to := openDB(t, fromDialect), openDB(t, toDialect)
		in := populate(t, from)
		want := takeSnapshot(t, from, in)
		if err := sqlstore.Copy(ctx, from, to, nil); err != nil {
			t.Fatal(err)
		}
		account := in.masters[0]
		list, _, err := to.Employees(ctx, account, roster.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list[:len(list)/2] {
			if _, err := to.DeleteEmployee(ctx, account, e.ID); err != nil {
				t.Fatal(err)
			}
		}
		changed := list[len(list)-1]
		changed.FirstName = "Changed"
		if err := to.UpdateEmployee(ctx, account, changed); err != nil {
			t.Fatal(err)
		}
		if _, err := to.CreateEmployee(ctx, account, roster.Employee{FirstName: "Extra"}); err != nil {
			t.Fatal(err)
		}
		if _, err := to.CreateMaster(ctx, "extra", "x", copyNow); err != nil {
			t.Fatal(err)
		}
		if err := to.DeleteSession(ctx, in.digests[0]); err != nil {
			t.Fatal(err)
		}

		if err := sqlstore.Copy(ctx, from, to, nil); err != nil {
			t.Fatalf("Copy over a partial copy = %v", err)
		}
		if diff := cmp.Diff(want, takeSnapshot(t, to, in)); diff != "" {
			t.Fatalf("target differs from source (-source +target):\n%s", diff)
		}
		if _, _, err := to.UserByLogin(ctx, "extra"); !errors.Is(err, roster.ErrNotFound) {
			t.Errorf("a user only the partial copy had is still there: %v", err)
		}
	})
}

// TestCopyRefusesData: a database with data of its own is never written
// to, nor marked as a copy.
func TestCopyRefusesData(t *testing.T) {
	forEachPair(t, func(t *testing.T, fromDialect, toDialect string) {
		ctx := t.Context()
		from, to := openDB(t, fromDialect), openDB(t, toDialect)
		populate(t, from)
		if _, err := to.CreateMaster(ctx, "admin", "x", copyNow); err != nil {
			t.Fatal(err)
		}
		before, err := to.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = sqlstore.Copy(ctx, from, to, nil)
		if !errors.Is(err, sqlstore.ErrNotEmpty) || !strings.Contains(err.Error(), "1 users") {
			t.Fatalf("Copy into a database with a user = %v, want ErrNotEmpty naming 1 users", err)
		}
		after, err := to.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("a refused Copy changed the target:\n%s", diff)
		}
		if _, err := to.CopyTarget(ctx); !errors.Is(err, sqlstore.ErrNotEmpty) {
			t.Errorf("CopyTarget after a refused Copy = %v, want ErrNotEmpty", err)
		}
	})
}

func TestCopyEmptySource(t *testing.T) {
	ctx := t.Context()
	from, to := openDB(t, "sqlite"), openDB(t, "sqlite")
	if err := sqlstore.Copy(ctx, from, to, nil); err != nil {
		t.Fatalf("Copy of an empty database = %v", err)
	}
	id, err := to.CreateMaster(ctx, "first", "x", copyNow)
	if err != nil || id != 1 {
		t.Errorf("first user after copying nothing = %d, %v; want 1", id, err)
	}
}
