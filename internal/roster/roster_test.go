package roster

import (
	"errors"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func validEmployee() Employee {
	return Employee{FirstName: "Ann", Email: "ann@example.com", Phone: "4915112345678",
		DriverLicenseValidTill: ptr("2030-01-31"), Location: &Location{Lat: 52.5, Lng: 13.4, Address: "Berlin"}}
}

func TestEmployeeValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(e *Employee)
		param  string // the parameter the error must name; "" = valid
	}{
		{"valid", func(e *Employee) {}, ""},
		{"empty first name", func(e *Employee) { e.FirstName = "" }, "employee.first_name"},
		{"first name of 100 runes", func(e *Employee) { e.FirstName = strings.Repeat("é", 100) }, ""},
		{"first name of 101 runes", func(e *Employee) { e.FirstName = strings.Repeat("é", 101) }, "employee.first_name"},
		{"invalid UTF-8", func(e *Employee) { e.LastName = "\xff\xfe" }, "employee.last_name"},
		{"control character", func(e *Employee) { e.MiddleName = "a\x00b" }, "employee.middle_name"},
		{"email with a name", func(e *Employee) { e.Email = "Ann <ann@example.com>" }, "employee.email"},
		{"not an email", func(e *Employee) { e.Email = "ann" }, "employee.email"},
		{"empty email", func(e *Employee) { e.Email = "" }, ""},
		{"phone with plus", func(e *Employee) { e.Phone = "+49151" }, "employee.phone"},
		{"phone too long", func(e *Employee) { e.Phone = strings.Repeat("1", 33) }, "employee.phone"},
		{"bad date", func(e *Employee) { e.DriverLicenseValidTill = ptr("2030-02-30") }, "employee.driver_license_valid_till"},
		{"latitude out of range", func(e *Employee) { e.Location.Lat = 91 }, "employee.location.lat"},
		{"longitude out of range", func(e *Employee) { e.Location.Lng = -180.5 }, "employee.location.lng"},
		{"tracker id zero", func(e *Employee) { e.TrackerID = ptr(int64(0)) }, "employee.tracker_id"},
		{"department id negative", func(e *Employee) { e.DepartmentID = ptr(int64(-1)) }, "employee.department_id"},
		{"personnel number too long", func(e *Employee) { e.PersonnelNumber = strings.Repeat("x", 16) }, "employee.personnel_number"},
		{"hardware key too long", func(e *Employee) { e.HardwareKey = ptr(strings.Repeat("k", 65)) }, "employee.hardware_key"},
		{"too many tags", func(e *Employee) { e.Tags = make([]int64, MaxTags+1) }, "employee.tags"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := validEmployee()
			tc.change(&e)
			err := e.Validate("employee")
			if tc.param == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			var ip InvalidParams
			if !errors.As(err, &ip) || len(ip) == 0 || ip[0].Parameter != tc.param {
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.param)
			}
		})
	}
}

func TestSecurityGroupValidate(t *testing.T) {
	cases := []struct {
		name  string
		g     SecurityGroup
		valid bool
	}{
		{"known and other Navixy rights", SecurityGroup{Label: "Dispatch", Rights: []Right{RightEmployeeUpdate, "tracker_update"}}, true},
		{"admin", SecurityGroup{Label: "x", Rights: []Right{RightAdmin}}, false},
		{"not a right name", SecurityGroup{Label: "x", Rights: []Right{"Drop Table"}}, false},
		{"empty label", SecurityGroup{Rights: nil}, false},
	}
	for _, tc := range cases {
		if err := tc.g.Validate("group"); (err == nil) != tc.valid {
			t.Errorf("%s: Validate() = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}

func TestPasswords(t *testing.T) {
	hash, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$") {
		t.Errorf("HashPassword() = %q, want an argon2id PHC string", hash)
	}
	if !CheckPassword(hash, "correct horse") {
		t.Errorf("CheckPassword(hash, right) = false")
	}
	if CheckPassword(hash, "correct horsE") {
		t.Errorf("CheckPassword(hash, wrong) = true")
	}
	if CheckPassword("", "anything") {
		t.Errorf("CheckPassword(no user) = true")
	}
	if CheckPassword("$bcrypt$garbage", "x") {
		t.Errorf("CheckPassword(garbage hash) = true")
	}
	again, _ := HashPassword("correct horse")
	if again == hash {
		t.Errorf("two hashes of one password are equal: the salt is not random")
	}
}

func TestSessionKeys(t *testing.T) {
	key, digest, err := NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	if !ValidKey(key) || len(key) != 32 || strings.ToLower(key) != key {
		t.Errorf("NewSessionKey() = %q, want 32 lowercase hex", key)
	}
	if string(KeyDigest(strings.ToUpper(key))) != string(digest) {
		t.Errorf("KeyDigest is case-sensitive; hex keys are not")
	}
	if strings.Contains(string(digest), key) {
		t.Errorf("digest contains the key")
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("g", 32), strings.Repeat("a", 31), strings.Repeat("a", 33)} {
		if ValidKey(bad) {
			t.Errorf("ValidKey(%q) = true", bad)
		}
	}
}
