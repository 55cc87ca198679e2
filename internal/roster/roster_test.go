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
		param string // the parameter the error must name; "" = valid
	}{
		{"known and other Navixy rights", SecurityGroup{Label: "Dispatch", Rights: []Right{RightEmployeeUpdate, "tracker_update", "video_monitoring"}}, ""},
		{"no rights", SecurityGroup{Label: "Viewers"}, ""},
		{"admin", SecurityGroup{Label: "x", Rights: []Right{RightAdmin}}, "group.privileges.rights"},
		{"not a right name", SecurityGroup{Label: "x", Rights: []Right{"Drop Table"}}, "group.privileges.rights"},
		{"a right name Navixy does not list", SecurityGroup{Label: "x", Rights: []Right{"report_update"}}, "group.privileges.rights"},
		{"too many rights", SecurityGroup{Label: "x", Rights: make([]Right, MaxRights+1)}, "group.privileges.rights"},
		{"empty label", SecurityGroup{Rights: nil}, "group.label"},
		{"store period in hours", SecurityGroup{Label: "x", StorePeriod: "2h"}, ""},
		{"store period in days", SecurityGroup{Label: "x", StorePeriod: "3d"}, ""},
		{"store period in months", SecurityGroup{Label: "x", StorePeriod: "5m"}, ""},
		{"store period in years", SecurityGroup{Label: "x", StorePeriod: "9999y"}, ""},
		{"store period of zero", SecurityGroup{Label: "x", StorePeriod: "0d"}, "group.privileges.store_period"},
		{"store period with a leading zero", SecurityGroup{Label: "x", StorePeriod: "03d"}, "group.privileges.store_period"},
		{"store period without a unit", SecurityGroup{Label: "x", StorePeriod: "3"}, "group.privileges.store_period"},
		{"store period in weeks", SecurityGroup{Label: "x", StorePeriod: "2w"}, "group.privileges.store_period"},
		{"store period upper case", SecurityGroup{Label: "x", StorePeriod: "2H"}, "group.privileges.store_period"},
		{"store period negative", SecurityGroup{Label: "x", StorePeriod: "-1d"}, "group.privileges.store_period"},
		{"store period too long", SecurityGroup{Label: "x", StorePeriod: "10000y"}, "group.privileges.store_period"},
	}
	for _, tc := range cases {
		checkParam(t, tc.name, tc.g.Validate("group"), tc.param)
	}
}

// checkParam checks that err is nil (param "") or a parameter error whose
// first entry names param.
func checkParam(t *testing.T, name string, err error, param string) {
	t.Helper()
	if param == "" {
		if err != nil {
			t.Errorf("%s: Validate() = %v, want nil", name, err)
		}
		return
	}
	var ip InvalidParams
	if !errors.As(err, &ip) || len(ip) == 0 || ip[0].Parameter != param {
		t.Errorf("%s: Validate() = %v, want an error naming %s", name, err, param)
	}
}

func validSubUser() User {
	return User{Login: "ann@example.com", FirstName: "Ann", Phone: "4915112345678", Activated: true,
		Details: UserDetails{LegalType: Individual, PostCountry: "Deutschland", StateRegNum: strings.Repeat("9", 15)}}
}

func TestSubUserValidate(t *testing.T) {
	old := User{ID: 7, Login: "dispatcher", Phone: "4930123"}
	cases := []struct {
		name   string
		change func(u *User)
		kept   *User
		param  string
	}{
		{"valid", func(u *User) {}, nil, ""},
		{"login not an e-mail address", func(u *User) { u.Login = "dispatcher" }, nil, "user.login"},
		{"login with a display name", func(u *User) { u.Login = "Ann <ann@example.com>" }, nil, "user.login"},
		{"login with spaces", func(u *User) { u.Login = "two words" }, nil, "user.login"},
		{"empty login", func(u *User) { u.Login = "" }, nil, "user.login"},
		{"login too long", func(u *User) { u.Login = strings.Repeat("a", 90) + "@example.com" }, nil, "user.login"},
		{"kept login that is not an e-mail address", func(u *User) { u.Login = "dispatcher"; u.Phone = "4930123" }, &old, ""},
		{"changed login that is not an e-mail address", func(u *User) { u.Login = "dispatcher2"; u.Phone = "4930123" }, &old, "user.login"},
		{"login changed in case only", func(u *User) { u.Login = "Dispatcher"; u.Phone = "4930123" }, &old, "user.login"},
		{"changed login that is an e-mail address", func(u *User) { u.Phone = "4930123" }, &old, ""},
		{"empty phone", func(u *User) { u.Phone = "" }, nil, ""},
		{"phone of 10 digits", func(u *User) { u.Phone = "0123456789" }, nil, ""},
		{"phone of 15 digits", func(u *User) { u.Phone = strings.Repeat("1", 15) }, nil, ""},
		{"phone of 9 digits", func(u *User) { u.Phone = strings.Repeat("1", 9) }, nil, "user.phone"},
		{"phone of 16 digits", func(u *User) { u.Phone = strings.Repeat("1", 16) }, nil, "user.phone"},
		{"phone with plus", func(u *User) { u.Phone = "+4915112345678" }, nil, "user.phone"},
		{"kept short phone", func(u *User) { u.Login = "dispatcher"; u.Phone = "4930123" }, &old, ""},
		{"changed short phone", func(u *User) { u.Login = "dispatcher"; u.Phone = "4930124" }, &old, "user.phone"},
		{"legal entity", func(u *User) { u.Details.LegalType = LegalEntity; u.Details.LegalName = "Ann GmbH" }, nil, ""},
		{"sole trader", func(u *User) { u.Details.LegalType = SoleTrader }, nil, ""},
		{"unknown legal type", func(u *User) { u.Details.LegalType = "company" }, nil, "user.legal_type"},
		{"empty legal type", func(u *User) { u.Details.LegalType = "" }, nil, "user.legal_type"},
		{"state registration number of 16", func(u *User) { u.Details.StateRegNum = strings.Repeat("9", 16) }, nil, "user.state_reg_num"},
		{"street of 255 runes", func(u *User) { u.Details.PostStreetAddress = strings.Repeat("ß", 255) }, nil, ""},
		{"street of 256 runes", func(u *User) { u.Details.RegisteredStreetAddress = strings.Repeat("ß", 256) }, nil, "user.registered_street_address"},
		{"post index too long", func(u *User) { u.Details.PostIndex = strings.Repeat("1", 33) }, nil, "user.post_index"},
		{"country too long", func(u *User) { u.Details.RegisteredCountry = strings.Repeat("x", 101) }, nil, "user.registered_country"},
		{"tin too long", func(u *User) { u.Details.TIN = strings.Repeat("1", 33) }, nil, "user.tin"},
		{"iec too long", func(u *User) { u.Details.IEC = strings.Repeat("1", 33) }, nil, "user.iec"},
		{"legal name too long", func(u *User) { u.Details.LegalName = strings.Repeat("x", 256) }, nil, "user.legal_name"},
		{"control character in a city", func(u *User) { u.Details.PostCity = "a\x00b" }, nil, "user.post_city"},
		{"group id zero", func(u *User) { u.SecurityGroupID = ptr(int64(0)) }, nil, "user.security_group_id"},
	}
	for _, tc := range cases {
		u := validSubUser()
		tc.change(&u)
		checkParam(t, tc.name, u.Validate("user", tc.kept), tc.param)
	}
}

func TestPasswordPolicies(t *testing.T) {
	cases := []struct {
		policy   PasswordPolicy
		password string
		reason   string // "" = valid
	}{
		{SubUserPasswords, "Sub-passw0rd", ""},
		{SubUserPasswords, "Aa1!aa", ""},
		{SubUserPasswords, "Ää1 ää", ""},
		{SubUserPasswords, "Aa1!" + strings.Repeat("a", 16), ""},
		{SubUserPasswords, "Aa1!" + strings.Repeat("a", 17), "must be at most 20 characters long"},
		{SubUserPasswords, "Aa1!", "must be at least 6 characters long"},
		{SubUserPasswords, "sub-passw0rd", "must also hold an upper-case letter"},
		{SubUserPasswords, "SUB-PASSW0RD", "must also hold a lower-case letter"},
		{SubUserPasswords, "Sub-password", "must also hold a digit"},
		{SubUserPasswords, "Subpassw0rd", "must also hold a special character"},
		{SubUserPasswords, "subpassword", "must also hold an upper-case letter, a digit and a special character"},
		{SubUserPasswords, "Sub\x01passw0rd", "must not contain control characters"},
		{MasterPasswords, "correct horse battery staple", ""},
		{MasterPasswords, "abcdefghij", ""},
		{MasterPasswords, strings.Repeat("passphrase ", 23), ""}, // 253 characters
		{MasterPasswords, strings.Repeat("a", 257), "must be at most 256 characters long"},
		{MasterPasswords, "Aa1!aa", "must be at least 10 characters long"},
		{MasterPasswords, "", "must be at least 10 characters long"},
		{MasterPasswords, "long\x7fenough-password", "must not contain control characters"},
	}
	for _, tc := range cases {
		var errs InvalidParams
		tc.policy.Check(&errs, "password", tc.password)
		switch {
		case tc.reason == "" && len(errs) != 0:
			t.Errorf("%+v.Check(%q) = %v, want valid", tc.policy, tc.password, errs)
		case tc.reason != "" && (len(errs) != 1 || errs[0].Parameter != "password" || errs[0].Reason != tc.reason):
			t.Errorf("%+v.Check(%q) = %v, want password: %s", tc.policy, tc.password, errs, tc.reason)
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
