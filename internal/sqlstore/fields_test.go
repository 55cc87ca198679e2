package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"roster/internal/roster"
)

// jsonNames lists the JSON names of a struct type's fields, in order.
func jsonNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// TestWirePartsCoverEmployee: the two stored parts and the four columns
// between and before them are every field of roster.Employee, in its
// order, so that a field added to one and not the other fails here rather
// than in an answer.
func TestWirePartsCoverEmployee(t *testing.T) {
	got := slices.Concat([]string{"id"}, jsonNames(reflect.TypeFor[wireHead]()),
		[]string{"icon_id", "avatar_file_name", "department_id"}, jsonNames(reflect.TypeFor[wireTail]()))
	want := jsonNames(reflect.TypeFor[roster.Employee]())
	if !slices.Equal(got, want) {
		t.Errorf("id, wireHead, icon_id, avatar_file_name, department_id, wireTail =\n%v\nroster.Employee has\n%v", got, want)
	}
	// And a read assembles exactly json.Marshal's bytes (checkDerived
	// checks this for every row every test writes; here for one with every
	// field set, without the database).
	e := roster.Employee{ID: 5, TrackerID: ptr(int64(3)), FirstName: `"Q"`, SSN: "x", IconID: ptr(int64(2)),
		DriverLicenseIssueDate: ptr("2001-01-01"), AvatarFileName: ptr("ab.png"), DepartmentID: ptr(int64(9)),
		Location: &roster.Location{Lat: 1.5, Radius: 7}, Tags: []int64{1}}
	head, tail, err := wireParts(e)
	if err != nil {
		t.Fatal(err)
	}
	assembled := `{"id":5,` + head + `,"icon_id":2,"avatar_file_name":"ab.png","department_id":9,` + tail + `}`
	if b, _ := json.Marshal(e); string(b) != assembled {
		t.Errorf("assembled parts =\n%s\njson.Marshal =\n%s", assembled, b)
	}
}

// TestEmployeeHardwareKeyUnique: no two employees of an account hold the
// same hardware key; no key and the empty key may repeat.
func TestEmployeeHardwareKeyUnique(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		e1 := newEmployee(t, db, ann, roster.Employee{FirstName: "one", HardwareKey: ptr("RFID-7"), TrackerID: ptr(int64(1))})
		e2 := newEmployee(t, db, ann, roster.Employee{FirstName: "two", HardwareKey: ptr("rfid-7")})

		refused := []struct {
			name string
			call func() error
		}{
			{"CreateEmployee(the same key)", func() error {
				_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "three", HardwareKey: ptr("RFID-7")})
				return err
			}},
			{"UpdateEmployee(another to the same key)", func() error {
				return db.UpdateEmployee(ctx, ann, roster.Employee{ID: e2, FirstName: "two", HardwareKey: ptr("RFID-7")})
			}},
			{"CreateEmployee(the same key and a free tracker)", func() error {
				_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "four", HardwareKey: ptr("RFID-7"), TrackerID: ptr(int64(2))})
				return err
			}},
		}
		for _, tt := range refused {
			before := dump(t, db)
			err := tt.call()
			wantErr(t, tt.name, err, roster.ErrExists)
			if err != nil && !strings.Contains(err.Error(), "hardware key") {
				t.Errorf("%s = %v, want it to name the hardware key", tt.name, err)
			}
			if after := dump(t, db); after != before {
				t.Errorf("%s changed the database:\n%s\nwant\n%s", tt.name, after, before)
			}
		}
		// The tracker's violation is still told as the tracker's.
		_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "t", TrackerID: ptr(int64(1)), HardwareKey: ptr("free")})
		if !errors.Is(err, roster.ErrExists) || !strings.Contains(err.Error(), "tracker 1") {
			t.Errorf("CreateEmployee(a taken tracker) = %v, want ErrExists naming tracker 1", err)
		}

		allowed := []struct {
			name string
			call func() error
		}{
			{"UpdateEmployee(keeping its own key)", func() error {
				return db.UpdateEmployee(ctx, ann, roster.Employee{ID: e1, FirstName: "one!", HardwareKey: ptr("RFID-7")})
			}},
			{"the same key in another account", func() error {
				_, err := db.CreateEmployee(ctx, bob, roster.Employee{FirstName: "b", HardwareKey: ptr("RFID-7")})
				return err
			}},
			{"no key, twice", func() error {
				for range 2 {
					if _, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "n"}); err != nil {
						return err
					}
				}
				return nil
			}},
			{"the empty key, twice", func() error {
				for range 2 {
					if _, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "e", HardwareKey: ptr("")}); err != nil {
						return err
					}
				}
				return nil
			}},
			{"moving a key from one employee to another", func() error {
				if err := db.UpdateEmployee(ctx, ann, roster.Employee{ID: e1, FirstName: "one"}); err != nil {
					return err
				}
				return db.UpdateEmployee(ctx, ann, roster.Employee{ID: e2, FirstName: "two", HardwareKey: ptr("RFID-7")})
			}},
			{"a key freed by deleting its employee", func() error {
				if _, err := db.DeleteEmployee(ctx, ann, e2); err != nil {
					return err
				}
				_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "five", HardwareKey: ptr("RFID-7")})
				return err
			}},
		}
		for _, tt := range allowed {
			wantErr(t, tt.name, tt.call(), nil)
		}
	})
}

// TestStepsMatchFiles: the list of migrations and the SQL files of each
// dialect are the same versions in the same order, and a file renamed,
// missing or not listed stops Open rather than skip a step.
func TestStepsMatchFiles(t *testing.T) {
	for _, dir := range []string{"migrations/sqlite", "migrations/postgres"} {
		names, err := fs.Glob(migrations, dir+"/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		if err := checkSteps(names); err != nil {
			t.Errorf("checkSteps(%s) = %v", dir, err)
		}
	}
	var files []string
	for _, st := range steps {
		files = append(files, "migrations/sqlite/"+st.version+".sql")
	}
	last := len(files) - 1
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"a file renamed", slices.Concat(files[:1], []string{"migrations/sqlite/0002_search.sql"}, files[2:]),
			"migration 0002_employee_search has no SQL file"},
		{"the last file missing", files[:last], "migration " + steps[last].version + " has no SQL file"},
		{"a file in the middle missing", slices.Concat(files[:2], files[3:]), "migration " + steps[2].version + " has no SQL file"},
		{"a file not listed", append(slices.Clone(files), "migrations/sqlite/0099_later.sql"),
			"migration file 0099_later is not listed"},
		{"a file not listed before the listed ones", append(slices.Clone(files), "migrations/sqlite/0001a_between.sql"),
			"migration file 0001a_between is not listed"},
	}
	for _, tt := range tests {
		err := checkSteps(tt.files)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("checkSteps(%s) = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}

// TestRewriteInBatches: the refill of the derived columns works through
// more rows than one batch, in several accounts, and leaves every row as
// a write would have left it.
func TestRewriteInBatches(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		accounts := []int64{newMaster(t, db, "ann"), newMaster(t, db, "bob")}
		n := 2*rewriteBatch + 7
		err := db.tx(ctx, func(tx *sql.Tx) error {
			for i := range n {
				e := roster.Employee{FirstName: fmt.Sprintf("Émp %d", i), SSN: fmt.Sprint(i), Tags: []int64{int64(i)}}
				if i%3 == 0 {
					e.Location = &roster.Location{Lat: float64(i) / 100, Lng: -1, Address: "a\"b", Radius: int64(i)}
					e.DriverLicenseIssueDate = ptr("2020-02-02")
				}
				args, err := employeeArgs(e, nil)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, insertEmployee, append(args, accounts[i%2])...); err != nil {
					return err
				}
			}
			return recount(ctx, tx)
		})
		if err != nil {
			t.Fatal(err)
		}
		var before []string
		for _, a := range accounts {
			b, _, err := db.AppendEmployees(ctx, nil, a, roster.ListQuery{})
			if err != nil {
				t.Fatal(err)
			}
			before = append(before, string(b))
		}
		if _, err := db.sql.ExecContext(ctx, `UPDATE employees SET wire_head = 'x', wire_tail = 'x', search = ''`); err != nil {
			t.Fatal(err)
		}
		if err := db.tx(ctx, func(tx *sql.Tx) error {
			if err := fillSearch(ctx, tx); err != nil {
				return err
			}
			return fillWire(ctx, tx)
		}); err != nil {
			t.Fatalf("refilling = %v", err)
		}
		for i, a := range accounts {
			b, total, err := db.AppendEmployees(ctx, nil, a, roster.ListQuery{})
			if err != nil || string(b) != before[i] {
				t.Errorf("account %d after the refill = %.200s..., %v, want %.200s...", a, b, err, before[i])
			}
			if _, found, err := db.AppendEmployees(ctx, nil, a, roster.ListQuery{Filter: "ÉMP"}); err != nil || found != total {
				t.Errorf("account %d: filter after the refill finds %d of %d, %v", a, found, total, err)
			}
		}
		var stale int
		if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM employees WHERE wire_head = 'x' OR wire_tail = 'x' OR search = ''`).Scan(&stale); err != nil || stale != 0 {
			t.Errorf("%d rows left unfilled, %v", stale, err)
		}
	})
}

// toBefore5 takes a database back to the schema before
// 0005_employee_fields, as the previous release left it.
func toBefore5(t *testing.T, db *DB) {
	t.Helper()
	undoSortMigration(t, db) // the later migration first
	for _, q := range []string{`DROP INDEX employees_hardware_key`,
		`ALTER TABLE employees DROP COLUMN ssn`, `ALTER TABLE employees DROP COLUMN driver_license_issue_date`,
		`ALTER TABLE employees DROP COLUMN location_radius`, `ALTER TABLE departments DROP COLUMN location_radius`,
		`DELETE FROM schema_migrations WHERE version = '0005_employee_fields'`} {
		if _, err := db.sql.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestFieldsMigration: a database that holds employees of one account
// sharing a hardware key is not migrated to unique keys: Open names each
// account, key and employee and changes nothing; once they are settled it
// migrates, and every row reads as before with the new fields at their
// defaults.
func TestFieldsMigration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		url := b.url(t)
		db := openDB(t, url)
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		dept := must[int64](t, "CreateDepartment")(db.CreateDepartment(ctx, ann,
			roster.Department{Label: "D", Location: &roster.Location{Lat: 1, Lng: 2, Address: "here"}}))
		var annIDs, bobIDs []int64
		for i := range 6 {
			e := roster.Employee{FirstName: fmt.Sprint("a", i), HardwareKey: ptr(fmt.Sprint("ka", i)),
				Location: &roster.Location{Lat: 3, Lng: 4}, DepartmentID: &dept}
			annIDs = append(annIDs, newEmployee(t, db, ann, e))
			bobIDs = append(bobIDs, newEmployee(t, db, bob, roster.Employee{FirstName: fmt.Sprint("b", i), HardwareKey: ptr("")}))
		}
		newEmployee(t, db, bob, roster.Employee{FirstName: "nokey"})
		newEmployee(t, db, bob, roster.Employee{FirstName: "nokey"})
		var want []string
		for _, a := range []int64{ann, bob} {
			b, _, err := db.AppendEmployees(ctx, nil, a, roster.ListQuery{})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, string(b))
		}
		wantDepts, err := db.Departments(ctx, ann)
		if err != nil {
			t.Fatal(err)
		}

		toBefore5(t, db)
		// The previous release kept no key unique; the stored parts lack
		// the new fields.
		for _, q := range []string{
			fmt.Sprintf(`UPDATE employees SET hardware_key = 'dup' WHERE id IN (%d, %d, %d)`, annIDs[0], annIDs[3], annIDs[5]),
			fmt.Sprintf(`UPDATE employees SET hardware_key = 'ka1' WHERE id = %d`, annIDs[2]),
			fmt.Sprintf(`UPDATE employees SET hardware_key = 'dup' WHERE id = %d`, bobIDs[4]),
			`UPDATE employees SET wire_tail = 'stale'`,
		} {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		before := dump(t, db)
		// Open while db stays open: it sees what the failed migration left.
		if db2, err := Open(ctx, url); err == nil {
			db2.Close()
			t.Fatal("Open(duplicate hardware keys) succeeded")
		} else {
			msg := err.Error()
			for _, part := range []string{
				fmt.Sprintf(`account %d, hardware key "dup": employees %d, %d, %d`, ann, annIDs[0], annIDs[3], annIDs[5]),
				fmt.Sprintf(`account %d, hardware key "ka1": employees %d, %d`, ann, annIDs[1], annIDs[2]),
				"0005_employee_fields", "nothing was changed",
			} {
				if !errors.Is(err, ErrDuplicateKeys) || !strings.Contains(msg, part) {
					t.Errorf("Open(duplicate hardware keys) = %v\nwant ErrDuplicateKeys saying %q", err, part)
				}
			}
			if strings.Contains(msg, `""`) || strings.Contains(msg, fmt.Sprintf("account %d", bob)) {
				t.Errorf("Open(duplicate hardware keys) = %v\nnames an empty key or a key held once", err)
			}
		}
		if after := dump(t, db); after != before {
			t.Errorf("the refused migration changed the rows:\n%s\nwant\n%s", after, before)
		}
		if _, err := db.sql.ExecContext(ctx, `SELECT ssn FROM employees`); err == nil {
			t.Error("the refused migration left the ssn column")
		}

		// Settled: each employee its own key again.
		for i, id := range annIDs {
			if _, err := db.sql.ExecContext(ctx, `UPDATE employees SET hardware_key = $1 WHERE id = $2`, fmt.Sprint("ka", i), id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.sql.ExecContext(ctx, `UPDATE employees SET hardware_key = '' WHERE id = $1`, bobIDs[4]); err != nil {
			t.Fatal(err)
		}
		db.Close()
		db = openDB(t, url)
		for i, a := range []int64{ann, bob} {
			b, _, err := db.AppendEmployees(ctx, nil, a, roster.ListQuery{})
			if err != nil || string(b) != want[i] {
				t.Errorf("account %d after the migration =\n%s, %v\nwant\n%s", a, b, err, want[i])
			}
		}
		if got, err := db.Departments(ctx, ann); err != nil || !reflect.DeepEqual(got, wantDepts) {
			t.Errorf("Departments() after the migration = %+v, %v, want %+v", got, err, wantDepts)
		}
		if !strings.Contains(want[0], `"driver_license_issue_date":null`) || !strings.Contains(want[0], `"ssn":""`) ||
			!strings.Contains(want[0], `"radius":0`) {
			t.Errorf("the employees read without the new fields at their defaults: %s", want[0])
		}
		_, err = db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "late", HardwareKey: ptr("ka0")})
		wantErr(t, "CreateEmployee(a key held) after the migration", err, roster.ErrExists)
	})
}
