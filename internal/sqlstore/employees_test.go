package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/cases"

	"roster/internal/roster"
	"roster/internal/sqlstore/sqltest"
)

// show renders an employee for a failure message.
func show(e roster.Employee) string {
	b, _ := json.Marshal(e)
	return string(b)
}

func ids(list []roster.Employee) []int64 {
	out := make([]int64, len(list))
	for i, e := range list {
		out[i] = e.ID
	}
	return out
}

func TestEmployeeRoundTrip(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		dept := newDepartment(t, db, ann, "Depot")
		tags := newTags(t, db, ann, 4)
		tests := []struct {
			name string
			in   roster.Employee
		}{
			{"only a first name: every optional field null or empty", roster.Employee{FirstName: "Ann"}},
			{"every field set", roster.Employee{
				TrackerID: ptr(int64(1<<53 + 1)), FirstName: "Zoë", MiddleName: "Ĳsbrand", LastName: "O'Brien-渡辺",
				Email: "zoe@example.org", Phone: "4915112345678", DriverLicenseNumber: "B072RRE2I55",
				DriverLicenseCats: "A,B,C1", DriverLicenseIssueDate: ptr("2016-02-29"), DriverLicenseValidTill: ptr("2031-12-31"),
				HardwareKey: ptr("a1b2c3"), DepartmentID: &dept, PersonnelNumber: "P-0001", SSN: "078-05-1120",
				Tags:     []int64{tags[2], tags[0], tags[1], tags[3]},
				Location: &roster.Location{Lat: 52.520008, Lng: 13.404954, Address: "Unter den Linden 1, Berlin 🇩🇪", Radius: 250},
			}},
			{"longest ssn, largest radius", roster.Employee{FirstName: "Max", SSN: strings.Repeat("Ж", 32),
				Location: &roster.Location{Lat: 1, Lng: 2, Radius: roster.MaxRadius}}},
			{"quotes, backslashes, wildcards and control-ish text", roster.Employee{
				FirstName: `Robert'); DROP TABLE employees;--`, MiddleName: `"quoted" \back\slash`, LastName: "100%_done",
				DriverLicenseCats: "tab\there\nnewline", PersonnelNumber: "$1 ?",
			}},
			{"empty hardware key is not null", roster.Employee{FirstName: "Key", HardwareKey: ptr("")}},
			{"location at the origin without address", roster.Employee{FirstName: "Null Island", Location: &roster.Location{}}},
			{"location at the extremes", roster.Employee{FirstName: "Pole", Location: &roster.Location{Lat: -90, Lng: 180, Address: "Южный полюс"}}},
			{"location with many decimals", roster.Employee{FirstName: "Exact", Location: &roster.Location{Lat: 0.1 + 0.2, Lng: -179.99999999999997}}},
			{"empty tags", roster.Employee{FirstName: "Tagless", Tags: []int64{}}},
			{"long text", roster.Employee{FirstName: strings.Repeat("ж", 100), LastName: strings.Repeat("x", 100)}},
		}
		for _, tt := range tests {
			id, err := db.CreateEmployee(ctx, ann, tt.in)
			if err != nil {
				t.Errorf("CreateEmployee(%s) = %v", tt.name, err)
				continue
			}
			want := tt.in
			want.ID = id
			if want.Tags == nil {
				want.Tags = []int64{}
			}
			got, err := db.Employee(ctx, ann, id)
			if err != nil || show(got) != show(want) || got.Tags == nil {
				t.Errorf("Employee(%s) = %s, %v, want %s", tt.name, show(got), err, show(want))
			}
			// The list reads the same columns the same way.
			list, _, err := db.Employees(ctx, ann, roster.ListQuery{})
			if err != nil {
				t.Fatalf("Employees() = %v", err)
			}
			for _, e := range list {
				if e.ID == id && show(e) != show(want) {
					t.Errorf("Employees() item %s = %s, want %s", tt.name, show(e), show(want))
				}
			}
		}
		_, err := db.Employee(ctx, ann, 999999)
		wantErr(t, "Employee(999999)", err, roster.ErrNotFound)
	})
}

func TestEmployeeUpdate(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		d1, d2 := newDepartment(t, db, ann, "one"), newDepartment(t, db, ann, "two")
		tags := newTags(t, db, ann, 3)
		id := newEmployee(t, db, ann, roster.Employee{FirstName: "Ann", TrackerID: ptr(int64(9)), DepartmentID: &d1,
			HardwareKey: ptr("k"), DriverLicenseValidTill: ptr("2030-01-01"), DriverLicenseIssueDate: ptr("2010-01-01"),
			SSN: "s", Location: &roster.Location{Lat: 1, Lng: 2, Radius: 5}, Tags: tags[:1]})
		wantErr(t, "SetIcon(42)", db.SetIcon(ctx, EmployeeAvatars, ann, id, ptr(int64(42))), nil)
		if _, err := db.SetAvatar(ctx, EmployeeAvatars, ann, id, "0123abcd.png"); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name string
			in   roster.Employee
		}{
			{"change every field", roster.Employee{FirstName: "Anna", MiddleName: "M", LastName: "Lee", Email: "a@b.c",
				Phone: "1", DriverLicenseNumber: "N", DriverLicenseCats: "C", DriverLicenseIssueDate: ptr("2020-01-02"),
				DriverLicenseValidTill: ptr("2040-02-29"), HardwareKey: ptr("k2"), TrackerID: ptr(int64(10)), DepartmentID: &d2,
				PersonnelNumber: "7", SSN: "123-45-6789",
				Location: &roster.Location{Lat: -3, Lng: -4, Address: "there", Radius: 30}, Tags: tags[1:]}},
			{"every optional field back to null", roster.Employee{FirstName: "Anna"}},
			{"icon and avatar in the object are ignored", roster.Employee{FirstName: "Anna",
				IconID: ptr(int64(7)), AvatarFileName: ptr("ffffffff.png")}},
		}
		for _, tt := range tests {
			in := tt.in
			in.ID = id
			wantErr(t, "UpdateEmployee("+tt.name+")", db.UpdateEmployee(ctx, ann, in), nil)
			want := in
			want.IconID, want.AvatarFileName = ptr(int64(42)), ptr("0123abcd.png")
			if want.Tags == nil {
				want.Tags = []int64{}
			}
			if got, err := db.Employee(ctx, ann, id); err != nil || show(got) != show(want) {
				t.Errorf("Employee() after UpdateEmployee(%s) = %s, %v, want %s", tt.name, show(got), err, show(want))
			}
		}
		wantErr(t, "UpdateEmployee(unknown)", db.UpdateEmployee(ctx, ann, roster.Employee{ID: 999999, FirstName: "x"}), roster.ErrNotFound)
	})
}

func TestEmployeeTrackerUnique(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		seven := ptr(int64(7))
		e1 := newEmployee(t, db, ann, roster.Employee{FirstName: "one", TrackerID: seven})
		e2 := newEmployee(t, db, ann, roster.Employee{FirstName: "two"})

		refused := []struct {
			name string
			call func() error
		}{
			{"CreateEmployee(tracker 7 again)", func() error {
				_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "three", TrackerID: seven})
				return err
			}},
			{"UpdateEmployee(other to tracker 7)", func() error {
				return db.UpdateEmployee(ctx, ann, roster.Employee{ID: e2, FirstName: "two", TrackerID: seven})
			}},
		}
		for _, tt := range refused {
			before := dump(t, db)
			err := tt.call()
			wantErr(t, tt.name, err, roster.ErrExists)
			if errors.Is(err, roster.ErrNotFound) || errors.Is(err, roster.ErrLoginTaken) {
				t.Errorf("%s = %v, want only ErrExists", tt.name, err)
			}
			if after := dump(t, db); after != before {
				t.Errorf("%s changed the database:\n%s\nwant\n%s", tt.name, after, before)
			}
		}

		allowed := []struct {
			name string
			call func() error
		}{
			{"UpdateEmployee(keeping its own tracker)", func() error {
				return db.UpdateEmployee(ctx, ann, roster.Employee{ID: e1, FirstName: "one!", TrackerID: seven})
			}},
			{"CreateEmployee(no tracker, twice)", func() error {
				if _, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "n1"}); err != nil {
					return err
				}
				_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "n2"})
				return err
			}},
			{"CreateEmployee(tracker 7 in another account)", func() error {
				_, err := db.CreateEmployee(ctx, bob, roster.Employee{FirstName: "b", TrackerID: seven})
				return err
			}},
			{"moving tracker 7 from one employee to another", func() error {
				if err := db.UpdateEmployee(ctx, ann, roster.Employee{ID: e1, FirstName: "one"}); err != nil {
					return err
				}
				return db.UpdateEmployee(ctx, ann, roster.Employee{ID: e2, FirstName: "two", TrackerID: seven})
			}},
			{"tracker 7 freed by deleting its employee", func() error {
				if _, err := db.DeleteEmployee(ctx, ann, e2); err != nil {
					return err
				}
				_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "four", TrackerID: seven})
				return err
			}},
		}
		for _, tt := range allowed {
			wantErr(t, tt.name, tt.call(), nil)
		}
	})
}

func TestEmployeeDepartmentMustExist(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		id := newEmployee(t, db, ann, roster.Employee{FirstName: "e"})
		before := dump(t, db)
		_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "x", DepartmentID: ptr(int64(999999))})
		wantErr(t, "CreateEmployee(department 999999)", err, roster.ErrNotFound)
		err = db.UpdateEmployee(ctx, ann, roster.Employee{ID: id, FirstName: "x", DepartmentID: ptr(int64(999999))})
		wantErr(t, "UpdateEmployee(department 999999)", err, roster.ErrNotFound)
		if after := dump(t, db); after != before {
			t.Errorf("refused department changed the database:\n%s\nwant\n%s", after, before)
		}
	})
}

func TestEmployeeList(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		people := []roster.Employee{
			{FirstName: "Ann", LastName: "Lee", Email: "ann.lee@example.com", Phone: "4915100000001", PersonnelNumber: "A-1"},
			{FirstName: "ANNA", MiddleName: "Maria", LastName: "Smith"},
			{FirstName: "Änne", LastName: "Öztürk", Email: "ae@example.com"},
			{FirstName: "Bob", LastName: "100% Pure"},
			{FirstName: "Carl", LastName: "snake_case"},
			{FirstName: "Dora", LastName: `back\slash`},
			{FirstName: "Eve", LastName: "Hanna", PersonnelNumber: "X_1"},
			{FirstName: "Fay", LastName: "Excel", Phone: "100"},
			{FirstName: "Γιώργος", LastName: "ΣΩΚΡΆΤΗΣ"},
			{FirstName: "Jörg", LastName: "Straße"},
		}
		var all []int64
		for _, p := range people {
			all = append(all, newEmployee(t, db, ann, p))
		}
		// Bob's Ann matches the filters too, and must never show.
		newEmployee(t, db, bob, roster.Employee{FirstName: "Ann", LastName: "100% snake_case", Email: "ann@example.com"})
		e := func(i ...int) []int64 {
			out := []int64{}
			for _, i := range i {
				out = append(out, all[i])
			}
			return out
		}
		tests := []struct {
			name      string
			q         roster.ListQuery
			want      []int64
			wantCount int
		}{
			{"everything", roster.ListQuery{}, all, 10},
			{"first page", roster.ListQuery{Limit: 2}, e(0, 1), 10},
			{"second page", roster.ListQuery{Limit: 2, Offset: 2}, e(2, 3), 10},
			{"last, short page", roster.ListQuery{Limit: 4, Offset: 8}, e(8, 9), 10},
			{"past the end", roster.ListQuery{Limit: 3, Offset: 100}, e(), 10},
			{"offset without limit", roster.ListQuery{Offset: 7}, e(7, 8, 9), 10},
			{"limit larger than the list", roster.ListQuery{Limit: 100}, all, 10},
			{"filter in first names, any case", roster.ListQuery{Filter: "ann"}, e(0, 1, 6), 3},
			{"filter upper case", roster.ListQuery{Filter: "ANN"}, e(0, 1, 6), 3},
			{"filter with a page", roster.ListQuery{Filter: "ann", Limit: 1, Offset: 1}, e(1), 3},
			{"filter in middle names", roster.ListQuery{Filter: "maria"}, e(1), 1},
			{"filter in last names", roster.ListQuery{Filter: "smith"}, e(1), 1},
			{"filter in e-mails", roster.ListQuery{Filter: "@example.com"}, e(0, 2), 2},
			{"filter in phones", roster.ListQuery{Filter: "49151"}, e(0), 1},
			{"filter in personnel numbers", roster.ListQuery{Filter: "a-1"}, e(0), 1},
			{"non-ASCII filter, same case", roster.ListQuery{Filter: "Änne"}, e(2), 1},
			{"non-ASCII filter, lower case", roster.ListQuery{Filter: "änne"}, e(2), 1},
			{"non-ASCII filter, upper case", roster.ListQuery{Filter: "ÖZTÜRK"}, e(2), 1},
			{"Greek, lower case", roster.ListQuery{Filter: "σωκράτης"}, e(8), 1},
			{"Greek, upper case", roster.ListQuery{Filter: "ΓΙΏΡΓΟΣ"}, e(8), 1},
			{"sharp s folds to ss", roster.ListQuery{Filter: "STRASSE"}, e(9), 1},
			{"sharp s as stored", roster.ListQuery{Filter: "straße"}, e(9), 1},
			{"no match across two fields", roster.ListQuery{Filter: "jörgstraße"}, e(), 0},
			{"percent is literal", roster.ListQuery{Filter: "%"}, e(3), 1},
			{"percent inside is literal", roster.ListQuery{Filter: "0% p"}, e(3), 1},
			{"underscore is literal", roster.ListQuery{Filter: "e_c"}, e(4), 1},
			{"lone underscore is literal", roster.ListQuery{Filter: "_"}, e(4, 6), 2},
			{"backslash is literal", roster.ListQuery{Filter: `\`}, e(5), 1},
			{"backslash before a letter", roster.ListQuery{Filter: `k\s`}, e(5), 1},
			{"quote", roster.ListQuery{Filter: `'`}, e(), 0},
			{"no match", roster.ListQuery{Filter: "nobody"}, e(), 0},
			{"no match with a page", roster.ListQuery{Filter: "nobody", Limit: 5, Offset: 5}, e(), 0},
		}
		for i, path := range filterPaths {
			setPath(t, db, i)
			for _, tt := range tests {
				list, n, err := db.Employees(ctx, ann, tt.q)
				if err != nil || n != tt.wantCount || !slices.Equal(ids(list), tt.want) || list == nil {
					t.Errorf("%s: Employees(%s %+v) = %v, %d, %v, want %v, %d", path.name, tt.name, tt.q, ids(list), n, err, tt.want, tt.wantCount)
				}
			}
		}
		db.filterScanRows, db.filterMatches = filterScanRows, filterMatches
		if list, n, err := db.Employees(ctx, newMaster(t, db, "cy"), roster.ListQuery{}); err != nil || n != 0 || list == nil || len(list) != 0 {
			t.Errorf("Employees(empty account) = %#v, %d, %v, want an empty list", list, n, err)
		}
	})
}

// wantMatch is the filter's rule, for a check of ids: the id with id
// as its decimal text, or one of the other properties, contains f, each
// folded.
func wantMatch(e roster.Employee, id int64, labels map[int64]string, f string) bool {
	props := []string{fmt.Sprint(id), e.FirstName, e.MiddleName, e.LastName, e.Email, e.Phone,
		e.PersonnelNumber, e.DriverLicenseNumber, e.DriverLicenseCats, e.SSN}
	for _, p := range []*string{e.HardwareKey, e.DriverLicenseValidTill} {
		if p != nil {
			props = append(props, *p)
		}
	}
	if e.Location != nil {
		props = append(props, e.Location.Address)
	}
	if e.DepartmentID != nil {
		props = append(props, labels[*e.DepartmentID])
	}
	for _, p := range props {
		if strings.Contains(cases.Fold().String(p), cases.Fold().String(f)) {
			return true
		}
	}
	return false
}

// filterPaths are the ways the filter finds its matches: every case
// of a filter test runs both and must find the same.
var filterPaths = []struct {
	name     string
	scanRows int // DB.filterScanRows
	matches  int // DB.filterMatches
}{
	{"scan", 1 << 30, filterMatches},
	{"trigram index", -1, filterMatches},
	{"trigram index, queried twice", -1, 0},
}

// setPath puts the filter of db on path i of filterPaths, until the test
// ends or the next call.
func setPath(t *testing.T, db *DB, i int) {
	db.filterScanRows, db.filterMatches = filterPaths[i].scanRows, filterPaths[i].matches
	t.Cleanup(func() { db.filterScanRows, db.filterMatches = filterScanRows, filterMatches })
}

// TestEmployeeFilter: the filter matches through each property it looks
// in, folded, on both of its paths, and through no other.
func TestEmployeeFilter(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		north, oversea := newDepartment(t, db, ann, "Nord-Depot"), newDepartment(t, db, ann, "ÜBERSEE Σίσυφος")
		labels := map[int64]string{north: "Nord-Depot", oversea: "ÜBERSEE Σίσυφος"}
		people := []roster.Employee{
			{FirstName: "Ann", MiddleName: "Maria", LastName: "Lee", Email: "ann.lee@example.com", Phone: "4915100000001",
				PersonnelNumber: "A-1", DepartmentID: &north},
			{FirstName: "Bob", HardwareKey: ptr("HK-77ab"), DriverLicenseNumber: "B072RRE", DriverLicenseCats: "C1E,BE",
				TrackerID: ptr(int64(987654))},
			{FirstName: "Cem", DriverLicenseValidTill: ptr("2031-12-24"), DepartmentID: &oversea,
				Location: &roster.Location{Lat: 48.1, Lng: 11.5, Address: "Königstraße 5, München"}},
			{FirstName: "Dan", Location: &roster.Location{Lat: 1, Lng: 2}, HardwareKey: ptr(""), SSN: "AB 123456 Ç"},
		}
		var all []int64
		for _, p := range people {
			all = append(all, newEmployee(t, db, ann, p))
		}
		// Bob's employee matches every filter below but never shows.
		newEmployee(t, db, bob, roster.Employee{FirstName: "Nord-Depot übersee", MiddleName: "hk-77ab b072rre c1e",
			LastName: "2031-12-24 königstrasse", Email: "ann.lee@example.com"})
		e := func(i ...int) []int64 {
			out := []int64{}
			for _, i := range i {
				out = append(out, all[i])
			}
			return out
		}
		tests := []struct {
			name   string
			filter string
			want   []int64
		}{
			{"department label", "nord-dep", e(0)},
			{"department label, upper case beyond ASCII", "ÜBERSEE", e(2)},
			{"department label, folded Greek", "ΣΊΣΥΦΟΣ", e(2)},
			{"middle name", "MARIA", e(0)},
			{"e-mail", "Lee@Example", e(0)},
			{"phone", "100000001", e(0)},
			{"personnel number", "a-1", e(0)},
			{"hardware key", "hk-77AB", e(1)},
			{"driver's license number", "b072rre", e(1)},
			{"driver's license categories", "c1e,b", e(1)},
			{"driver's license valid till", "2031-12", e(2)},
			{"address", "KÖNIGSTRASSE", e(2)},
			{"address, short", "ü", e(2)},
			{"address, sharp s", "straße 5", e(2)},
			{"social security number", "b 123456 ç", e(3)},
			{"not the tracker id", "987654", e()},
			{"not across two properties", "annmaria", e()},
			{"not across the department and a name", "übersee σίσυφος" + "cem", e()},
		}
		for i, path := range filterPaths {
			setPath(t, db, i)
			for _, tt := range tests {
				list, n, err := db.Employees(ctx, ann, roster.ListQuery{Filter: tt.filter})
				if err != nil || n != len(tt.want) || !slices.Equal(ids(list), tt.want) {
					t.Errorf("%s: Employees(filter %q, %s) = %v, %d, %v, want %v", path.name, tt.filter, tt.name, ids(list), n, err, tt.want)
				}
			}
			// The id matches as its decimal text, anywhere in it.
			for i, id := range all {
				for _, f := range []string{fmt.Sprint(id), fmt.Sprint(id)[1:]} {
					if f == "" {
						continue
					}
					list, n, err := db.Employees(ctx, ann, roster.ListQuery{Filter: f})
					var want []int64
					for j, other := range all {
						if wantMatch(people[j], other, labels, f) {
							want = append(want, other)
						}
					}
					if err != nil || n != len(want) || !slices.Equal(ids(list), want) || !slices.Contains(want, all[i]) && f == fmt.Sprint(id) {
						t.Errorf("%s: Employees(filter %q) = %v, %d, %v, want %v", path.name, f, ids(list), n, err, want)
					}
				}
			}
		}
		db.filterScanRows, db.filterMatches = filterScanRows, filterMatches

		// The trigram index serves what it can: a filter of 3 characters
		// on SQLite, of 3 letters or digits in a row on PostgreSQL, where
		// pg_trgm is there.
		if db.Postgres() && db.FilterIndex() != nil {
			t.Logf("no trigram index: %v", db.FilterIndex())
			return
		}
		db.filterScanRows = -1
		defer func() { db.filterScanRows = filterScanRows }()
		for _, tt := range []struct {
			filter          string
			sqlite, postgre bool
		}{
			{"abc", true, true}, {"ab", false, false}, {"a-1", true, false}, {"@x.", true, false},
			{"ÜBERSEE", true, true}, {"ü", false, false}, {"12", false, false}, {"2031", true, true},
		} {
			l, err := db.EmployeeList(ctx, ann, roster.ListQuery{Filter: tt.filter})
			if want := tt.sqlite && !db.Postgres() || tt.postgre && db.Postgres(); err != nil || l.indexed != want {
				t.Errorf("EmployeeList(filter %q) reads the index: %v (%v), want %v", tt.filter, l.indexed, err, want)
			}
		}
		db.filterScanRows = 1 << 30
		if l, err := db.EmployeeList(ctx, ann, roster.ListQuery{Filter: "abc"}); err != nil || l.indexed {
			t.Errorf("EmployeeList(filter abc) in a small account = %q, %v, want a scan", l.where, err)
		}
	})
}

// sortValue is what employee/list sorts a field by: an integer or a text
// (compared byte by byte), or null (before every value).
type sortValue struct {
	null bool
	n    int64
	s    string
}

// sortValueOf is e's value of a sort field; labels are the departments'.
func sortValueOf(t *testing.T, e roster.Employee, field string, labels map[int64]string) sortValue {
	str := func(s string) sortValue { return sortValue{s: s} }
	num := func(p *int64) sortValue {
		if p == nil {
			return sortValue{null: true}
		}
		return sortValue{n: *p}
	}
	strp := func(p *string) sortValue {
		if p == nil {
			return sortValue{null: true}
		}
		return sortValue{s: *p}
	}
	switch field {
	case "id":
		return sortValue{n: e.ID}
	case "first_name":
		return str(e.FirstName)
	case "middle_name":
		return str(e.MiddleName)
	case "last_name":
		return str(e.LastName)
	case "object_label":
		return str("")
	case "department_label":
		if e.DepartmentID == nil {
			return sortValue{null: true}
		}
		return str(labels[*e.DepartmentID])
	case "email":
		return str(e.Email)
	case "phone":
		return str(e.Phone)
	case "address":
		if e.Location == nil {
			return sortValue{null: true}
		}
		return str(e.Location.Address)
	case "personnel_number":
		return str(e.PersonnelNumber)
	case "tracker_id":
		return num(e.TrackerID)
	case "department_id":
		return num(e.DepartmentID)
	case "driver_license_number":
		return str(e.DriverLicenseNumber)
	case "driver_license_cats":
		return str(e.DriverLicenseCats)
	case "driver_license_valid_till":
		return strp(e.DriverLicenseValidTill)
	case "hardware_key":
		return strp(e.HardwareKey)
	case "ssn":
		return str(e.SSN)
	}
	t.Fatalf("the test does not know how sort field %q sorts", field)
	return sortValue{}
}

// wantOrder is the order both databases must give: per key null first, then
// the value (text in byte order), reversed for a descending key; ties by id,
// in the direction of the last key.
func wantOrder(t *testing.T, list []roster.Employee, keys []roster.SortKey, labels map[int64]string) []int64 {
	s := slices.Clone(list)
	slices.SortFunc(s, func(a, b roster.Employee) int {
		for _, k := range keys {
			va, vb := sortValueOf(t, a, k.Field, labels), sortValueOf(t, b, k.Field, labels)
			c := cmp.Or(-cmp.Compare(b2i(va.null), b2i(vb.null)), cmp.Compare(va.n, vb.n), strings.Compare(va.s, vb.s))
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		if keys[len(keys)-1].Desc {
			return cmp.Compare(b.ID, a.ID)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return ids(s)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sortPeople fills every sortable field with values that tell byte order
// from collation order (case, accents, digits as text), with ties and nulls.
func sortPeople(depts []int64) []roster.Employee {
	words := []string{"alice", "Alice", "Bob", "bob", "Émile", "émile", "Zoë", "zed", "Ärger", "ÿ", "ß", "a",
		"Z", "100", "9", "_x", "~", "Ωmega", "a b", "ab"}
	emails := []string{"", "a@x.org", "B@x.org", "é@x.org", "z@x.org", "A@x.org"}
	phones := []string{"", "0", "10", "9", "0100", "49151", "1"}
	personnel := []string{"", "A-1", "a-1", "Ä", "B2", "10", "9", "z"}
	licenses := []string{"", "B072", "b072", "Ω1", "A9"}
	cats := []string{"", "B", "b", "A,B", "C1E", "B"}
	dates := []*string{nil, ptr("2030-01-01"), ptr("2029-12-31"), ptr("2031-06-15"), ptr("2030-01-01")}
	keys := []*string{nil, ptr(""), ptr("abc"), ptr("ABC"), ptr("é"), ptr("0"), ptr("abc")}
	ssns := []string{"", "078-05-1120", "078-05-112", "AB 12 34 56 C", "ab 12 34 56 c", "Ü-9"}
	places := []*roster.Location{nil, {Lat: 1, Lng: 2}, {Address: "Main St 1"}, {Address: "main st 1"},
		{Lat: -3, Address: "Ärgerweg 2"}, {Address: "Main St 1"}, {Address: "Zürich"}}
	var out []roster.Employee
	for i := range 40 {
		// Hardware keys are unique in an account: only no key and the
		// empty one tie.
		key := keys[(i*5+2)%len(keys)]
		if key != nil && *key != "" {
			key = ptr(fmt.Sprintf("%s%d", *key, i))
		}
		e := roster.Employee{
			FirstName:              words[i*7%len(words)],
			MiddleName:             append([]string{""}, words...)[i*5%(len(words)+1)],
			LastName:               words[(i*3+1)%len(words)],
			Email:                  emails[i%len(emails)],
			Phone:                  phones[i*3%len(phones)],
			PersonnelNumber:        personnel[i*5%len(personnel)],
			DriverLicenseNumber:    licenses[i%len(licenses)],
			DriverLicenseCats:      cats[i*7%len(cats)],
			DriverLicenseValidTill: dates[i*3%len(dates)],
			HardwareKey:            key,
			Location:               places[i*3%len(places)],
			SSN:                    ssns[i*11%len(ssns)],
		}
		if i%3 != 0 {
			e.TrackerID = ptr(int64(i*7919%10007) + 1)
		}
		if d := i % (len(depts) + 1); d > 0 {
			e.DepartmentID = &depts[d-1]
		}
		out = append(out, e)
	}
	return out
}

// sortLabels are the departments' labels of TestEmployeeSort, made in an
// order that differs from theirs, with two the same and case and accents.
var sortLabels = []string{"c", "Émile", "a", "émile", "B", "a"}

// TestEmployeeSort sorts by every sortable field both ways, and by pairs,
// and checks the result against one order computed here: so SQLite and
// PostgreSQL give the same order for the same data.
func TestEmployeeSort(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		labels := map[int64]string{}
		var depts []int64
		for _, l := range sortLabels {
			d := newDepartment(t, db, ann, l)
			depts, labels[d] = append(depts, d), l
		}
		for _, e := range sortPeople(depts) {
			newEmployee(t, db, ann, e)
		}
		stored, _, err := db.Employees(ctx, ann, roster.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		fields := slices.Sorted(maps.Keys(roster.EmployeeSortFields))
		var sorts [][]roster.SortKey
		for _, f := range fields {
			sorts = append(sorts, []roster.SortKey{{Field: f}}, []roster.SortKey{{Field: f, Desc: true}})
		}
		// Pairs: every field first once each way, before the next field
		// (and before a text field for the numeric ones), and after
		// object_label, which leaves the order to the second key.
		for i, f1 := range fields {
			f2 := fields[(i+1)%len(fields)]
			sorts = append(sorts, []roster.SortKey{{Field: f1}, {Field: f2, Desc: true}},
				[]roster.SortKey{{Field: f1, Desc: true}, {Field: f2}},
				[]roster.SortKey{{Field: "object_label", Desc: true}, {Field: f1}})
		}
		for _, keys := range sorts {
			list, n, err := db.Employees(ctx, ann, roster.ListQuery{Sort: keys})
			if want := wantOrder(t, stored, keys, labels); err != nil || n != len(stored) || !slices.Equal(ids(list), want) {
				t.Errorf("Employees(sort %v) = %v, %d, %v, want %v", keys, ids(list), n, err, want)
			}
			// Descending is the exact reverse of ascending.
			if len(keys) == 1 && keys[0].Desc {
				asc, _, _ := db.Employees(ctx, ann, roster.ListQuery{Sort: []roster.SortKey{{Field: keys[0].Field}}})
				rev := ids(asc)
				slices.Reverse(rev)
				if !slices.Equal(ids(list), rev) {
					t.Errorf("Employees(sort %s=desc) = %v, want the reverse of asc %v", keys[0].Field, ids(list), ids(asc))
				}
			}
		}

		// A sorted page is a slice of the sorted whole, also with a filter.
		pages := []roster.ListQuery{
			{Sort: []roster.SortKey{{Field: "last_name", Desc: true}}, Limit: 7, Offset: 7},
			{Sort: []roster.SortKey{{Field: "tracker_id"}}, Limit: 5, Offset: 24},
			{Sort: []roster.SortKey{{Field: "hardware_key", Desc: true}, {Field: "first_name"}}, Offset: 30},
			{Sort: []roster.SortKey{{Field: "first_name"}}, Filter: "a", Limit: 4, Offset: 2},
			{Sort: []roster.SortKey{{Field: "department_label", Desc: true}}, Limit: 9, Offset: 3},
			{Sort: []roster.SortKey{{Field: "address"}}, Filter: "main", Limit: 3, Offset: 1},
		}
		for _, q := range pages {
			whole, total, err := db.Employees(ctx, ann, roster.ListQuery{Sort: q.Sort, Filter: q.Filter})
			if err != nil {
				t.Fatal(err)
			}
			want := ids(whole)[min(q.Offset, len(whole)):]
			if q.Limit > 0 {
				want = want[:min(q.Limit, len(want))]
			}
			list, n, err := db.Employees(ctx, ann, q)
			if err != nil || n != total || !slices.Equal(ids(list), want) {
				t.Errorf("Employees(%+v) = %v, %d, %v, want %v, %d", q, ids(list), n, err, want, total)
			}
		}

		for _, field := range []string{"nope", "tags", "location", "id; DROP TABLE employees", "", "object_label; --"} {
			_, _, err := db.Employees(ctx, ann, roster.ListQuery{Sort: []roster.SortKey{{Field: field}}})
			var ip roster.InvalidParams
			if !errors.As(err, &ip) {
				t.Errorf("Employees(sort %q) = %v, want InvalidParams", field, err)
			}
		}
	})
}

func TestSetIcon(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		id := newEmployee(t, db, ann, roster.Employee{FirstName: "Ann"})
		if _, err := db.SetAvatar(ctx, EmployeeAvatars, ann, id, "aa.png"); err != nil {
			t.Fatal(err)
		}
		for _, icon := range []*int64{ptr(int64(3654)), ptr(int64(1)), nil, ptr(int64(1 << 40)), nil} {
			wantErr(t, fmt.Sprintf("SetIcon(%v)", fmtPtr(icon)), db.SetIcon(ctx, EmployeeAvatars, ann, id, icon), nil)
			e, err := db.Employee(ctx, ann, id)
			if err != nil || !equalPtr(e.IconID, icon) || !equalPtr(e.AvatarFileName, ptr("aa.png")) {
				t.Errorf("Employee() after SetIcon(%v) = icon %v avatar %v, %v, want icon %v avatar aa.png",
					fmtPtr(icon), fmtPtr(e.IconID), fmtPtr(e.AvatarFileName), err, fmtPtr(icon))
			}
		}
		wantErr(t, "SetIcon(unknown employee)", db.SetIcon(ctx, EmployeeAvatars, ann, 999999, ptr(int64(1))), roster.ErrNotFound)
	})
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

func TestSetAvatar(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		id := newEmployee(t, db, ann, roster.Employee{FirstName: "Ann"})
		wantErr(t, "SetIcon(5)", db.SetIcon(ctx, EmployeeAvatars, ann, id, ptr(int64(5))), nil)
		steps := []struct {
			name, wantPrev string
		}{{"first.jpg", "null"}, {"second.png", "first.jpg"}, {"third.gif", "second.png"}}
		for _, s := range steps {
			prev, err := db.SetAvatar(ctx, EmployeeAvatars, ann, id, s.name)
			if err != nil || fmtPtr(prev) != s.wantPrev {
				t.Errorf("SetAvatar(%s) = %s, %v, want %s", s.name, fmtPtr(prev), err, s.wantPrev)
			}
			e, err := db.Employee(ctx, ann, id)
			if err != nil || fmtPtr(e.AvatarFileName) != s.name || fmtPtr(e.IconID) != "5" {
				t.Errorf("Employee() after SetAvatar(%s) = avatar %s icon %s, %v, want avatar %s icon 5",
					s.name, fmtPtr(e.AvatarFileName), fmtPtr(e.IconID), err, s.name)
			}
		}
		_, err := db.SetAvatar(ctx, EmployeeAvatars, ann, 999999, "x.png")
		wantErr(t, "SetAvatar(unknown employee)", err, roster.ErrNotFound)
	})
}

func TestDeleteEmployee(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		with := newEmployee(t, db, ann, roster.Employee{FirstName: "with"})
		without := newEmployee(t, db, ann, roster.Employee{FirstName: "without"})
		other := newEmployee(t, db, ann, roster.Employee{FirstName: "other"})
		if _, err := db.SetAvatar(ctx, EmployeeAvatars, ann, with, "abc.png"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name       string
			id         int64
			wantAvatar string
			wantErr    error
		}{
			{"with an avatar", with, "abc.png", nil},
			{"without an avatar", without, "null", nil},
			{"again", with, "null", roster.ErrNotFound},
			{"unknown", 999999, "null", roster.ErrNotFound},
		}
		for _, tt := range tests {
			avatar, err := db.DeleteEmployee(ctx, ann, tt.id)
			if !errors.Is(err, tt.wantErr) || fmtPtr(avatar) != tt.wantAvatar {
				t.Errorf("DeleteEmployee(%s) = %s, %v, want %s, %v", tt.name, fmtPtr(avatar), err, tt.wantAvatar, tt.wantErr)
			}
		}
		if list, n, _ := db.Employees(ctx, ann, roster.ListQuery{}); n != 1 || !slices.Equal(ids(list), []int64{other}) {
			t.Errorf("Employees() after deletes = %v, %d, want [%d]", ids(list), n, other)
		}
		// The deleted employee's avatar is no longer referenced.
		if ref, err := db.ReferencedAvatars(ctx, []string{"abc.png"}); err != nil || ref["abc.png"] {
			t.Errorf("ReferencedAvatars(abc.png) after delete = %v, %v, want none", ref, err)
		}
	})
}

func TestReferencedAvatars(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		const n = 1100 // more than two batches
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("%032x.png", i)
		}
		// Referenced: the first, last and neighbours of every batch boundary,
		// one in another account, and one that is not asked about.
		referenced := []int{0, 1, 499, 500, 501, 999, 1000, 1099}
		for _, i := range referenced {
			account := ann
			if i == 500 {
				account = bob
			}
			id := newEmployee(t, db, account, roster.Employee{FirstName: "e"})
			if _, err := db.SetAvatar(ctx, EmployeeAvatars, account, id, names[i]); err != nil {
				t.Fatal(err)
			}
		}
		extra := newEmployee(t, db, ann, roster.Employee{FirstName: "extra"})
		if _, err := db.SetAvatar(ctx, EmployeeAvatars, ann, extra, "not-asked.png"); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, i := range referenced {
			want[names[i]] = true
		}

		tests := []struct {
			name string
			in   []string
			want map[string]bool
		}{
			{"none asked", nil, map[string]bool{}},
			{"1100 names", names, want},
			{"asked twice", append(slices.Clone(names[:2]), names[:2]...), map[string]bool{names[0]: true, names[1]: true}},
			{"unreferenced only", names[2:499], map[string]bool{}},
		}
		for _, tt := range tests {
			got, err := db.ReferencedAvatars(ctx, tt.in)
			if err != nil || !maps.Equal(got, tt.want) {
				t.Errorf("ReferencedAvatars(%s) = %d names, %v, want %d: got %v", tt.name, len(got), err, len(tt.want), slices.Sorted(maps.Keys(got)))
			}
		}
	})
}

func TestDepartments(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		if list, err := db.Departments(ctx, ann); err != nil || list == nil || len(list) != 0 {
			t.Errorf("Departments() with none = %#v, %v, want an empty list", list, err)
		}
		in := []roster.Department{
			{Label: "Depot Nord", Location: &roster.Location{Lat: 53.55, Lng: 9.99, Address: "Hamburg", Radius: 1500}},
			{Label: "Склад"},
			{Label: "Zero", Location: &roster.Location{}},
		}
		for i := range in {
			id, err := db.CreateDepartment(ctx, ann, in[i])
			if err != nil {
				t.Fatalf("CreateDepartment(%s) = %v", in[i].Label, err)
			}
			in[i].ID = id
		}
		showAll := func(l []roster.Department) string { b, _ := json.Marshal(l); return string(b) }
		if list, err := db.Departments(ctx, ann); err != nil || showAll(list) != showAll(in) {
			t.Errorf("Departments() = %s, %v, want %s", showAll(list), err, showAll(in))
		}

		updates := []roster.Department{
			{ID: in[0].ID, Label: "Depot Süd"},
			{ID: in[1].ID, Label: "Склад 2", Location: &roster.Location{Lat: -1, Lng: -2, Address: "x", Radius: roster.MaxRadius}},
		}
		for _, u := range updates {
			wantErr(t, "UpdateDepartment("+u.Label+")", db.UpdateDepartment(ctx, ann, u), nil)
		}
		want := []roster.Department{updates[0], updates[1], in[2]}
		if list, err := db.Departments(ctx, ann); err != nil || showAll(list) != showAll(want) {
			t.Errorf("Departments() after updates = %s, %v, want %s", showAll(list), err, showAll(want))
		}
		wantErr(t, "UpdateDepartment(unknown)", db.UpdateDepartment(ctx, ann, roster.Department{ID: 999999, Label: "x"}), roster.ErrNotFound)

		// Deleting a department takes its employees out of it, and only them.
		inDept := newEmployee(t, db, ann, roster.Employee{FirstName: "in", DepartmentID: &in[0].ID, TrackerID: ptr(int64(1))})
		inOther := newEmployee(t, db, ann, roster.Employee{FirstName: "other", DepartmentID: &in[1].ID})
		wantInDept, _ := db.Employee(ctx, ann, inDept)
		wantErr(t, "DeleteDepartment()", db.DeleteDepartment(ctx, ann, in[0].ID), nil)
		wantInDept.DepartmentID = nil
		if e, err := db.Employee(ctx, ann, inDept); err != nil || show(e) != show(wantInDept) {
			t.Errorf("Employee(in the deleted department) = %s, %v, want %s", show(e), err, show(wantInDept))
		}
		if e, err := db.Employee(ctx, ann, inOther); err != nil || !equalPtr(e.DepartmentID, &in[1].ID) {
			t.Errorf("Employee(in another department).DepartmentID = %s, %v, want %d", fmtPtr(e.DepartmentID), err, in[1].ID)
		}
		if list, _ := db.Departments(ctx, ann); len(list) != 2 || list[0].ID != in[1].ID {
			t.Errorf("Departments() after delete = %s, want the other two", showAll(list))
		}
		wantErr(t, "DeleteDepartment(again)", db.DeleteDepartment(ctx, ann, in[0].ID), roster.ErrNotFound)
		_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "late", DepartmentID: &in[0].ID})
		wantErr(t, "CreateEmployee(in the deleted department)", err, roster.ErrNotFound)
	})
}

// TestDepartmentLabel: the department label an employee sorts and is
// found by follows its department through renames, moves and deletion,
// and another account's department of the same name never counts.
func TestDepartmentLabel(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		north, south := newDepartment(t, db, ann, "North"), newDepartment(t, db, ann, "South")
		bobs := newDepartment(t, db, bob, "North")
		a := newEmployee(t, db, ann, roster.Employee{FirstName: "a", DepartmentID: &north})
		b := newEmployee(t, db, ann, roster.Employee{FirstName: "b", DepartmentID: &south})
		c := newEmployee(t, db, ann, roster.Employee{FirstName: "c"})
		newEmployee(t, db, bob, roster.Employee{FirstName: "x", DepartmentID: &bobs})
		check := func(step, filter string, want ...int64) {
			t.Helper()
			for i, path := range filterPaths {
				setPath(t, db, i)
				list, n, err := db.Employees(ctx, ann, roster.ListQuery{Filter: filter})
				if err != nil || n != len(want) || !slices.Equal(ids(list), append([]int64{}, want...)) {
					t.Errorf("%s, %s: Employees(filter %q) = %v, %d, %v, want %v", step, path.name, filter, ids(list), n, err, want)
				}
			}
			db.filterScanRows, db.filterMatches = filterScanRows, filterMatches
		}
		order := func(step string, want ...int64) {
			t.Helper()
			list, _, err := db.Employees(ctx, ann, roster.ListQuery{Sort: []roster.SortKey{{Field: "department_label"}}})
			if err != nil || !slices.Equal(ids(list), want) {
				t.Errorf("%s: Employees(sort department_label) = %v, %v, want %v", step, ids(list), err, want)
			}
		}
		check("created", "north", a)
		order("created", c, a, b) // no department (null) first

		wantErr(t, "UpdateDepartment", db.UpdateDepartment(ctx, ann, roster.Department{ID: north, Label: "Zentrale Nord"}), nil)
		check("renamed", "north")
		check("renamed", "zentrale", a)
		check("renamed", "NORD", a)
		order("renamed", c, b, a)
		// Only the location changes: the label stays.
		wantErr(t, "UpdateDepartment", db.UpdateDepartment(ctx, ann, roster.Department{ID: south, Label: "South",
			Location: &roster.Location{Lat: 1, Lng: 2, Address: "Harbour"}}), nil)
		check("moved away", "south", b)

		wantErr(t, "UpdateEmployee", db.UpdateEmployee(ctx, ann, roster.Employee{ID: c, FirstName: "c", DepartmentID: &south}), nil)
		wantErr(t, "UpdateEmployee", db.UpdateEmployee(ctx, ann, roster.Employee{ID: b, FirstName: "b", DepartmentID: &north}), nil)
		check("employees moved", "south", c)
		check("employees moved", "zentrale", a, b)
		order("employees moved", c, a, b)
		wantErr(t, "UpdateEmployee", db.UpdateEmployee(ctx, ann, roster.Employee{ID: b, FirstName: "b"}), nil)
		check("left its department", "zentrale", a)
		order("left its department", b, c, a)

		wantErr(t, "DeleteDepartment", db.DeleteDepartment(ctx, ann, north), nil)
		check("department deleted", "zentrale")
		check("department deleted", "a", a)
		order("department deleted", a, b, c)
		// Bob's department kept its name and its employee.
		if list, n, err := db.Employees(ctx, bob, roster.ListQuery{Filter: "north"}); err != nil || n != 1 || len(list) != 1 {
			t.Errorf("Employees(bob, filter north) = %v, %d, %v, want his one", ids(list), n, err)
		}
	})
}

// TestDepartmentLabelConcurrent renames a department again and again while
// employees move into it and out of it and are created in it: each
// employee's label is its department's at the end (checkDerived), however
// the transactions interleave.
func TestDepartmentLabelConcurrent(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		d1, d2 := newDepartment(t, db, ann, "one"), newDepartment(t, db, ann, "two")
		var ids []int64
		for i := range 8 {
			ids = append(ids, newEmployee(t, db, ann, roster.Employee{FirstName: fmt.Sprint("e", i), DepartmentID: &d1}))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for w := range 4 {
			wg.Go(func() {
				for i := range 15 {
					var err error
					switch w {
					case 0:
						err = db.UpdateDepartment(ctx, ann, roster.Department{ID: d1, Label: fmt.Sprint("one-", i)})
					case 1:
						err = db.UpdateDepartment(ctx, ann, roster.Department{ID: d2, Label: fmt.Sprint("two-", i)})
					case 2:
						dept := []*int64{&d1, &d2, nil}[i%3]
						err = db.UpdateEmployee(ctx, ann, roster.Employee{ID: ids[i%len(ids)], FirstName: "moved", DepartmentID: dept})
					case 3:
						_, err = db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "new", DepartmentID: []*int64{&d1, &d2}[i%2]})
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent write = %v", err)
		}
	})
}

// TestSearchBackfill: employees stored before the search column existed are
// found by the filter once the migration has run.
func TestSearchBackfill(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		url := b.url(t)
		db := openDB(t, url)
		ann := newMaster(t, db, "ann")
		id := newEmployee(t, db, ann, roster.Employee{FirstName: "Änne", LastName: "Straße", Email: "a@example.org"})
		// Back to the schema before the migration.
		undoSortMigration(t, db)
		for _, q := range []string{`DROP INDEX employees_search`, `ALTER TABLE employees DROP COLUMN search`,
			`DELETE FROM schema_migrations WHERE version = '0002_employee_search'`} {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		db = openDB(t, url)
		for _, filter := range []string{"ÄNNE", "strasse", "EXAMPLE"} {
			list, n, err := db.Employees(ctx, ann, roster.ListQuery{Filter: filter})
			if err != nil || n != 1 || !slices.Equal(ids(list), []int64{id}) {
				t.Errorf("Employees(filter %q) after the migration = %v, %d, %v, want [%d]", filter, ids(list), n, err, id)
			}
		}
	})
}

// undoSortMigration takes the database back to the schema before
// sortMigration, with the search texts that schema had: the first name,
// middle and last names, e-mail, phone and personnel number.
func undoSortMigration(t testing.TB, db *DB) {
	t.Helper()
	ctx := t.Context()
	dropSortIndexes(t, db)
	for _, q := range []string{`ALTER TABLE employees DROP COLUMN department_label`,
		`DELETE FROM schema_migrations WHERE version = '` + sortMigration + `'`} {
		if _, err := db.sql.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT `+employeeColumns+` FROM employees`)
	if err != nil {
		t.Fatal(err)
	}
	old := map[int64]string{}
	for rows.Next() {
		e, err := scanEmployee(rows)
		if err != nil {
			t.Fatal(err)
		}
		old[e.ID] = fold(strings.Join([]string{e.FirstName, e.MiddleName, e.LastName, e.Email, e.Phone,
			e.PersonnelNumber}, searchSep))
	}
	rows.Close()
	for id, text := range old {
		if _, err := db.sql.ExecContext(ctx, `UPDATE employees SET search = $1 WHERE id = $2`, text, id); err != nil {
			t.Fatal(err)
		}
	}
}

// dropSortIndexes drops the indexes sortMigration makes (and on SQLite the
// trigram index's triggers), and on PostgreSQL makes the index it dropped.
func dropSortIndexes(t testing.TB, db *DB) {
	t.Helper()
	var undo []string
	if db.Postgres() {
		undo = append(undo, `DROP INDEX IF EXISTS `+trigramIndexName, `DROP INDEX employees_by_tracker_id`,
			`CREATE INDEX employees_search ON employees (account_id, search)`)
	} else {
		undo = append(undo, `DROP TRIGGER employees_fts_insert`, `DROP TRIGGER employees_fts_delete`,
			`DROP TRIGGER employees_fts_update`, `DROP TABLE `+ftsTable, `DROP VIEW employee_haystacks`)
	}
	for _, f := range []string{"first_name", "middle_name", "last_name", "department_label", "personnel_number",
		"hardware_key", "phone", "email", "address", "driver_license_number", "driver_license_cats",
		"driver_license_valid_till", "ssn", "department_id"} {
		undo = append(undo, `DROP INDEX employees_by_`+f)
	}
	for _, q := range undo {
		if _, err := db.sql.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestSortBackfill: employees stored before sortMigration sort by their
// department's label and are found by every property the filter looks in
// once the migration has run, through both of the filter's paths; every
// row reads as it did.
func TestSortBackfill(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		url := b.url(t)
		db := openDB(t, url)
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		depot, yard := newDepartment(t, db, ann, "Depot Süd"), newDepartment(t, db, ann, "Yard")
		// More employees than a migration batch, in both accounts.
		var want []int64
		for i := range 2500 {
			e := roster.Employee{FirstName: fmt.Sprintf("E%04d", i), HardwareKey: ptr(fmt.Sprintf("HK%04d", i)),
				DriverLicenseNumber: fmt.Sprintf("DL%04d", i), DriverLicenseCats: "B,CE",
				Location: &roster.Location{Lat: 1, Lng: 2, Address: fmt.Sprintf("Hauptstraße %d", i)}}
			switch i % 3 {
			case 0:
				e.DepartmentID = &yard
			case 1:
				e.DepartmentID = &depot
			}
			account := ann
			if i%5 == 4 {
				account = bob
				e.DepartmentID = nil
			}
			id := newEmployee(t, db, account, e)
			if account == ann && e.DepartmentID == &depot {
				want = append(want, id)
			}
		}
		before, _, err := db.AppendEmployees(ctx, nil, ann, roster.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		undoSortMigration(t, db)
		db.Close()
		db = openDB(t, url)
		after, _, err := db.AppendEmployees(ctx, nil, ann, roster.ListQuery{})
		if err != nil || string(after) != string(before) {
			t.Errorf("the list after the migration differs (%v)", err)
		}
		for i, path := range filterPaths {
			setPath(t, db, i)
			for _, tt := range []struct {
				filter string
				want   []int64
			}{
				{"DEPOT SÜD", want}, {"hk0007", nil}, {"dl0010", nil}, {"hauptstrasse 1000", nil},
			} {
				list, n, err := db.Employees(ctx, ann, roster.ListQuery{Filter: tt.filter})
				if err != nil || tt.want != nil && !slices.Equal(ids(list), tt.want) || n != len(list) || n == 0 {
					t.Errorf("%s: Employees(filter %q) after the migration = %d employees, %v; want %d", path.name, tt.filter, n, err, len(tt.want))
				}
			}
		}
		db.filterScanRows, db.filterMatches = filterScanRows, filterMatches
		list, _, err := db.Employees(ctx, ann, roster.ListQuery{Sort: []roster.SortKey{{Field: "department_label", Desc: true}}, Limit: 1})
		if err != nil || len(list) != 1 || list[0].DepartmentID == nil || *list[0].DepartmentID != yard {
			t.Errorf("Employees(sort department_label=desc) after the migration = %v, %v, want one of Yard", list, err)
		}
	})
}

// TestWireBackfill: employees stored before the wire columns and the
// per-account counts existed read the same, byte for byte, once the
// migration has filled them.
func TestWireBackfill(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		url := b.url(t)
		db := openDB(t, url)
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		dept := newDepartment(t, db, ann, "Field")
		tags := newTags(t, db, ann, 2)
		full := newEmployee(t, db, ann, roster.Employee{TrackerID: ptr(int64(7)), FirstName: `<b>"Ann"</b> & co`,
			LastName: "Straße\u2028", Email: "a@example.org", DriverLicenseValidTill: ptr("2030-01-31"),
			HardwareKey: ptr("k1"), DepartmentID: &dept, Tags: []int64{tags[1], tags[0]},
			Location: &roster.Location{Lat: 52.520008, Lng: -13.404954, Address: "Mitte"}})
		newEmployee(t, db, ann, roster.Employee{FirstName: "Bare"})
		newEmployee(t, db, bob, roster.Employee{FirstName: "Other"})
		wantErr(t, "SetIcon", db.SetIcon(ctx, EmployeeAvatars, ann, full, ptr(int64(12))), nil)
		if _, err := db.SetAvatar(ctx, EmployeeAvatars, ann, full, "0123456789abcdef0123456789abcdef.png"); err != nil {
			t.Fatal(err)
		}
		before, n, err := db.AppendEmployees(ctx, nil, ann, roster.ListQuery{})
		if err != nil || n != 2 {
			t.Fatalf("AppendEmployees() = %d, %v", n, err)
		}
		// Back to the schema before the migration.
		undoSortMigration(t, db)
		for _, q := range []string{`DROP INDEX employees_search`, `ALTER TABLE employees DROP COLUMN wire_head`,
			`ALTER TABLE employees DROP COLUMN wire_tail`, `ALTER TABLE users DROP COLUMN employee_count`,
			`DELETE FROM schema_migrations WHERE version = '0004_employee_wire'`} {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		db = openDB(t, url)
		after, n, err := db.AppendEmployees(ctx, nil, ann, roster.ListQuery{})
		if err != nil || n != 2 || string(after) != string(before) {
			t.Errorf("after the migration AppendEmployees() =\n%s, count %d, %v\nwant\n%s, count 2", after, n, err, before)
		}
		if _, n, err := db.AppendEmployees(ctx, nil, bob, roster.ListQuery{}); err != nil || n != 1 {
			t.Errorf("the other account's count after the migration = %d, %v, want 1", n, err)
		}
	})
}

// TestNewerSchemaRefused: a database a newer Roster has migrated is not
// opened, rather than written without what the newer schema keeps.
func TestNewerSchemaRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		db := openDB(t, url)
		if _, err := db.sql.ExecContext(t.Context(),
			`INSERT INTO schema_migrations (version) VALUES ('9999_from_the_future')`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		db, err := Open(t.Context(), url)
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "9999_from_the_future") {
			t.Errorf("Open(a newer schema) = %v, want ErrNewerSchema naming the version", err)
		}
	})
}

func TestAvatarOwner(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		a := newEmployee(t, db, ann, roster.Employee{FirstName: "a"})
		b := newEmployee(t, db, bob, roster.Employee{FirstName: "b"})
		gone := newEmployee(t, db, bob, roster.Employee{FirstName: "gone"})
		set := func(account, id int64, name string) {
			if _, err := db.SetAvatar(ctx, EmployeeAvatars, account, id, name); err != nil {
				t.Fatal(err)
			}
		}
		set(ann, a, "replaced.png")
		set(ann, a, "ann.png")
		set(bob, b, "bob.png")
		set(bob, gone, "deleted.png")
		if _, err := db.DeleteEmployee(ctx, bob, gone); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			account int64
			err     error
		}{
			{"ann.png", ann, nil},
			{"bob.png", bob, nil},
			{"replaced.png", 0, roster.ErrNotFound},
			{"deleted.png", 0, roster.ErrNotFound},
			{"never.png", 0, roster.ErrNotFound},
			{"", 0, roster.ErrNotFound},
		}
		for _, tt := range tests {
			got, err := db.AvatarOwner(ctx, tt.name)
			if got != tt.account || !errors.Is(err, tt.err) {
				t.Errorf("AvatarOwner(%q) = %d, %v, want %d, %v", tt.name, got, err, tt.account, tt.err)
			}
		}
	})
}

// TestAvatarOwnerUsesIndex: every public ?size= request looks its original
// up, so the lookup must be an index read, not a scan of all employees.
func TestAvatarOwnerUsesIndex(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		const q = `SELECT account_id FROM employees WHERE avatar_file_name = 'x.png'`
		var plan []string
		err := db.tx(ctx, func(tx *sql.Tx) error {
			explain := "EXPLAIN QUERY PLAN "
			if db.Postgres() {
				// A small table would be scanned anyway; forbid scans so
				// only a missing index yields a sequential scan.
				if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
					return err
				}
				explain = "EXPLAIN "
			}
			rows, err := tx.QueryContext(ctx, explain+q)
			if err != nil {
				return err
			}
			defer rows.Close()
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				for i := range vals {
					vals[i] = new(any)
				}
				if err := rows.Scan(vals...); err != nil {
					return err
				}
				plan = append(plan, fmt.Sprint(*vals[len(vals)-1].(*any)))
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(plan, "; ")
		if !strings.Contains(strings.ToLower(got), "index") || strings.Contains(got, "Seq Scan") {
			t.Errorf("plan of the AvatarOwner query = %q, want an index read", got)
		}
	})
}

// pieces is a writer that keeps what it is given, and fails once it has
// taken failAfter writes (never when 0).
type pieces struct {
	bytes.Buffer
	writes, failAfter int
}

var errReaderGone = errors.New("the reader went away")

func (p *pieces) Write(b []byte) (int, error) {
	if p.failAfter > 0 && p.writes == p.failAfter {
		return 0, errReaderGone
	}
	p.writes++
	return p.Buffer.Write(b)
}

// TestEmployeeListStream: a list written in pieces is, put together, the list
// AppendEmployees gives, whatever the size of the pieces and however often
// it is run; an error of the writer ends it and comes back.
func TestEmployeeListStream(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		names := []string{"Ann", "Änne", "Γιώργος", "李 🚚", `O"Brien <&>`, "ann"}
		tags := newTags(t, db, ann, 60)
		for i := range 60 {
			newEmployee(t, db, ann, roster.Employee{FirstName: names[i%len(names)], LastName: fmt.Sprint("L", i%7),
				Email: fmt.Sprintf("e%d@example.com", i), Tags: tags[i : i+1]})
		}
		queries := []roster.ListQuery{
			{},
			{Offset: 17},
			{Limit: 25, Offset: 5},
			{Sort: []roster.SortKey{{Field: "last_name", Desc: true}, {Field: "first_name"}}},
			{Filter: "ANN"},
			{Filter: "nobody"},
			{Filter: "a" + searchSep},
		}
		for _, q := range queries {
			want, _, err := db.AppendEmployees(ctx, []byte("head:"), ann, q)
			if err != nil {
				t.Fatal(err)
			}
			l, err := db.EmployeeList(ctx, ann, q) // used again and again, as the API does after its count
			if err != nil {
				t.Fatal(err)
			}
			for _, chunk := range []int{1, 100, 1 << 20} {
				var w pieces
				tail, err := l.Stream(ctx, []byte("head:"), chunk, &w)
				if got := append(w.Bytes(), tail...); err != nil || !bytes.Equal(got, want) {
					t.Errorf("EmployeeList(%+v).Stream(chunk %d) = %.80q…, %v; want %.80q…", q, chunk, got, err, want)
				}
				if chunk == 1 && len(want) > 100 && w.writes < 10 {
					t.Errorf("EmployeeList(%+v).Stream(chunk 1) wrote %d pieces, want one a row", q, w.writes)
				}
			}
		}
		w := pieces{failAfter: 3}
		all, err := db.EmployeeList(ctx, ann, roster.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := all.Stream(ctx, nil, 1, &w); !errors.Is(err, errReaderGone) || w.writes != 3 {
			t.Errorf("Stream to a writer that fails = %v after %d writes, want %v after 3", err, w.writes, errReaderGone)
		}
		if n := db.ListStreams(); n < 1 || n >= db.sql.Stats().MaxOpenConnections {
			t.Errorf("ListStreams() = %d, want at least 1 and fewer than the %d connections", n, db.sql.Stats().MaxOpenConnections)
		}
	})
}

// TestTidyFilterIndex: merging the trigram index's segments leaves what
// the filter finds as it was, and shrinks the index that one write a
// segment has grown.
func TestTidyFilterIndex(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		for i := range 60 {
			newEmployee(t, db, ann, roster.Employee{FirstName: fmt.Sprintf("Worker %03d", i), Email: fmt.Sprintf("w%d@example.org", i)})
		}
		setPath(t, db, 1)
		before, _, err := db.Employees(ctx, ann, roster.ListQuery{Filter: "worker 04"})
		if err != nil || len(before) != 10 {
			t.Fatalf("Employees(filter worker 04) = %v, %v, want 10", ids(before), err)
		}
		size := func() (n int) {
			if !db.Postgres() {
				db.sql.QueryRowContext(ctx, `SELECT count(*) FROM `+ftsTable+`_data`).Scan(&n)
			}
			return n
		}
		grown := size()
		if err := db.TidyFilterIndex(ctx); err != nil {
			t.Fatalf("TidyFilterIndex() = %v", err)
		}
		if tidy := size(); !db.Postgres() && tidy >= grown {
			t.Errorf("the index has %d records after TidyFilterIndex, %d before: want fewer", tidy, grown)
		}
		if err := db.TidyFilterIndex(ctx); err != nil {
			t.Fatalf("TidyFilterIndex() again = %v", err)
		}
		after, _, err := db.Employees(ctx, ann, roster.ListQuery{Filter: "worker 04"})
		if err != nil || !slices.Equal(ids(after), ids(before)) {
			t.Errorf("Employees(filter worker 04) after TidyFilterIndex = %v, %v, want %v", ids(after), err, ids(before))
		}
	})
}

// TestNoTrigramExtension: on a PostgreSQL where pg_trgm cannot be created
// (a database of its own, and a role that may not create extensions in
// it), Roster opens, says why the filter has no index, and filters by
// reading the account's rows, with the same results.
func TestNoTrigramExtension(t *testing.T) {
	base := sqltest.PostgresURL(t) // skips without PostgreSQL
	ctx := t.Context()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := "roster_notrgm_" + strings.ToLower(rand.Text()[:12])
	for _, q := range []string{`CREATE ROLE ` + name + ` LOGIN`, `CREATE DATABASE ` + name + ` OWNER postgres`} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background()
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		admin.ExecContext(ctx, `DROP ROLE IF EXISTS `+name)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	// The role owns a schema of the new database, and nothing else there.
	u.Path = "/" + name
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	owner, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	_, err = owner.ExecContext(ctx, `CREATE SCHEMA roster AUTHORIZATION `+name)
	owner.Close()
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(name)
	q.Set("search_path", "roster")
	u.RawQuery = q.Encode()
	db := openDB(t, u.String())
	if db.FilterIndex() == nil {
		t.Fatalf("FilterIndex() = nil where pg_trgm cannot be created")
	}
	ann := newMaster(t, db, "ann")
	want := newEmployee(t, db, ann, roster.Employee{FirstName: "Zoë", LastName: "Straße"})
	newEmployee(t, db, ann, roster.Employee{FirstName: "Other"})
	setPath(t, db, 1)
	l, err := db.EmployeeList(ctx, ann, roster.ListQuery{Filter: "STRASSE"})
	if err != nil || l.indexed {
		t.Errorf("EmployeeList(filter STRASSE) = indexed %v, %v, want a scan", l.indexed, err)
	}
	if list, n, err := db.Employees(ctx, ann, roster.ListQuery{Filter: "STRASSE"}); err != nil || n != 1 || !slices.Equal(ids(list), []int64{want}) {
		t.Errorf("Employees(filter STRASSE) = %v, %d, %v, want [%d]", ids(list), n, err, want)
	}
}
