package roster

import (
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Field limits of SPEC §2 and §3.
const (
	MaxNameLen        = 100
	MaxEmailLen       = 100
	MaxPhoneLen       = 32
	MaxLicenseLen     = 32
	MaxHardwareKeyLen = 64
	MaxPersonnelLen   = 15
	MaxSSNLen         = 32
	MaxRadius         = 1_000_000 // metres
	MaxAddressLen     = 255
	MaxLabelLen       = 100
	MaxLoginLen       = 100
	MaxTags           = 1000
	MaxRights         = 100
	MaxTagNameLen     = 60
)

// Text checks a string field: valid UTF-8, no control characters other than
// tab and newline, and min..max characters.
func Text(errs *InvalidParams, param, s string, min, max int) {
	if !utf8.ValidString(s) {
		errs.Add(param, "must be valid UTF-8 text")
		return
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' || r == 0x7f }) {
		errs.Add(param, "must not contain control characters")
		return
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n < min && min == 1:
		errs.Add(param, "must not be empty")
	case n < min:
		errs.Add(param, fmt.Sprintf("must be at least %d characters long", min))
	case n > max:
		errs.Add(param, fmt.Sprintf("must be at most %d characters long", max))
	}
}

var digits = regexp.MustCompile(`^[0-9]*$`)

// Validate checks every field rule of an employee that can be checked
// without the database. param is the name the object came in (employee).
func (e *Employee) Validate(param string) error {
	var errs InvalidParams
	p := func(f string) string { return param + "." + f }
	if e.TrackerID != nil && *e.TrackerID < 1 {
		errs.Add(p("tracker_id"), "must be a positive id or null")
	}
	Text(&errs, p("first_name"), e.FirstName, 1, MaxNameLen)
	Text(&errs, p("middle_name"), e.MiddleName, 0, MaxNameLen)
	Text(&errs, p("last_name"), e.LastName, 0, MaxNameLen)
	Text(&errs, p("email"), e.Email, 0, MaxEmailLen)
	if e.Email != "" && !validEmail(e.Email) {
		errs.Add(p("email"), "must be an e-mail address")
	}
	Text(&errs, p("phone"), e.Phone, 0, MaxPhoneLen)
	if !digits.MatchString(e.Phone) {
		errs.Add(p("phone"), "must be digits only, without +")
	}
	Text(&errs, p("driver_license_number"), e.DriverLicenseNumber, 0, MaxLicenseLen)
	Text(&errs, p("driver_license_cats"), e.DriverLicenseCats, 0, MaxLicenseLen)
	date(&errs, p("driver_license_issue_date"), e.DriverLicenseIssueDate)
	date(&errs, p("driver_license_valid_till"), e.DriverLicenseValidTill)
	if k := e.HardwareKey; k != nil {
		Text(&errs, p("hardware_key"), *k, 0, MaxHardwareKeyLen)
	}
	if e.DepartmentID != nil && *e.DepartmentID < 1 {
		errs.Add(p("department_id"), "must be a positive id or null")
	}
	if e.Location != nil {
		e.Location.validate(&errs, p("location"))
	}
	Text(&errs, p("personnel_number"), e.PersonnelNumber, 0, MaxPersonnelLen)
	Text(&errs, p("ssn"), e.SSN, 0, MaxSSNLen)
	if len(e.Tags) > MaxTags {
		errs.Add(p("tags"), fmt.Sprintf("must hold at most %d tags", MaxTags))
	}
	if e.Tags == nil {
		e.Tags = []int64{}
	}
	return errs.Err()
}

// date checks an optional date: yyyy-MM-dd, a real day of the calendar.
func date(errs *InvalidParams, param string, d *string) {
	if d == nil {
		return
	}
	if _, err := time.Parse(DateLayout, *d); err != nil {
		errs.Add(param, "must be a date yyyy-MM-dd or null")
	}
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

func (l *Location) validate(errs *InvalidParams, param string) {
	if math.IsNaN(l.Lat) || l.Lat < -90 || l.Lat > 90 {
		errs.Add(param+".lat", "must be a latitude in [-90, 90]")
	}
	if math.IsNaN(l.Lng) || l.Lng < -180 || l.Lng > 180 {
		errs.Add(param+".lng", "must be a longitude in [-180, 180]")
	}
	Text(errs, param+".address", l.Address, 0, MaxAddressLen)
	if l.Radius < 0 || l.Radius > MaxRadius {
		errs.Add(param+".radius", fmt.Sprintf("must be a whole number of metres in [0, %d]", MaxRadius))
	}
}

// Validate checks a department's fields.
func (d *Department) Validate(param string) error {
	var errs InvalidParams
	Text(&errs, param+".label", d.Label, 1, MaxLabelLen)
	if d.Location != nil {
		d.Location.validate(&errs, param+".location")
	}
	return errs.Err()
}

var tagColor = regexp.MustCompile(`^[0-9A-Fa-f]{6}$`)

// Validate checks a tag: a name of 1 to 60 characters (Navixy bounds the
// list's filter over names to 60, so a longer name could not be found by
// its whole text) and a colour of three bytes in hex, FF0000 (the API
// drops the # of Navixy's guide's #00BFFF before this).
func (t Tag) Validate(param string) error {
	var errs InvalidParams
	Text(&errs, param+".name", t.Name, 1, MaxTagNameLen)
	if !tagColor.MatchString(t.Color) {
		errs.Add(param+".color", "must be an RGB colour of six hexadecimal digits, such as FF0000")
	}
	return errs.Err()
}

var loginPattern = regexp.MustCompile(`^[\p{L}\p{N}._@+-]+$`)

// ValidateLogin checks a master user's login: 1..100 characters of
// letters, digits and . _ @ + -. A sub-user's login is an e-mail address
// (User.Validate).
func ValidateLogin(errs *InvalidParams, param, login string) {
	n := len(*errs)
	Text(errs, param, login, 1, MaxLoginLen)
	if len(*errs) == n && !loginPattern.MatchString(login) {
		errs.Add(param, "may hold only letters, digits and . _ @ + -")
	}
}

// EmployeeSortFields are the fields employee/list sorts by, mapped to the
// columns that hold them: the properties Navixy documents as sortable,
// last_name (Roster's own), and middle_name, tracker_id and department_id,
// which earlier releases accepted. The list's filter looks in all of them
// but tracker_id and department_id (numbers of other things: a department
// is found by its label). The department's label and the location's
// address are kept on the employee's row. object_label, the label of the
// tracker bound to the employee, has no column: Roster keeps no trackers,
// so it is the empty text for everyone and sorting by it orders by id.
var EmployeeSortFields = map[string]string{
	"id":                        "id",
	"first_name":                "first_name",
	"middle_name":               "middle_name",
	"last_name":                 "last_name",
	"object_label":              "",
	"department_label":          "department_label",
	"personnel_number":          "personnel_number",
	"hardware_key":              "hardware_key",
	"phone":                     "phone",
	"email":                     "email",
	"address":                   "location_address",
	"driver_license_number":     "driver_license_number",
	"driver_license_cats":       "driver_license_cats",
	"driver_license_valid_till": "driver_license_valid_till",
	"ssn":                       "ssn",
	"tracker_id":                "tracker_id",
	"department_id":             "department_id",
}
