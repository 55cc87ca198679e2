// Package roster holds Roster's domain: accounts, sub-users, security groups,
// sessions, employees and departments, the rules their fields follow, the
// sentinel errors, and the Files seam. It imports nothing of the project.
package roster

import (
	"context"
	"time"
)

// Right is a sub-user privilege name, as Navixy spells it.
type Right string

const (
	// RightAdmin is held only by master users: managing sub-users and groups.
	RightAdmin Right = "admin"
	// RightEmployeeUpdate guards every employee and department write and both
	// avatar calls.
	RightEmployeeUpdate Right = "employee_update"
	// RightTagUpdate guards every tag write and both tag avatar calls.
	RightTagUpdate Right = "tag_update"
)

// DateTimeLayout is Navixy's wire layout for date-times (UTC here).
const DateTimeLayout = "2006-01-02 15:04:05"

// DateLayout is Navixy's wire layout for dates.
const DateLayout = "2006-01-02"

// User is a master user (an account) or a sub-user of one.
type User struct {
	ID int64
	// MasterID is the account's master user id; zero for a master user.
	MasterID   int64
	Login      string
	FirstName  string
	MiddleName string
	LastName   string
	Phone      string
	// Details are read by User and SubUsers of the store, not with a
	// caller's session.
	Details         UserDetails
	Activated       bool
	SecurityGroupID *int64
	CreatedAt       time.Time
}

// AccountID is the id of the account the user belongs to.
func (u User) AccountID() int64 {
	if u.MasterID != 0 {
		return u.MasterID
	}
	return u.ID
}

// SecurityGroup is a named set of rights for sub-users of one account.
type SecurityGroup struct {
	ID     int64
	Label  string
	Rights []Right
	// StorePeriod is how far back the group's sub-users may look into
	// history ("" for no limit). Roster keeps no history: it is stored and
	// answered for clients.
	StorePeriod string
}

// Location is a point with an optional address and a radius around it in
// metres (0 when none was given).
type Location struct {
	Lat     float64 `json:"lat"`
	Lng     float64 `json:"lng"`
	Address string  `json:"address"`
	Radius  int64   `json:"radius"`
}

// Employee is a person of an account. The JSON form is Navixy's employee
// object, its fields in the order of Navixy's description; every field is
// always present.
type Employee struct {
	ID                     int64     `json:"id"`
	TrackerID              *int64    `json:"tracker_id"`
	FirstName              string    `json:"first_name"`
	MiddleName             string    `json:"middle_name"`
	LastName               string    `json:"last_name"`
	Email                  string    `json:"email"`
	Phone                  string    `json:"phone"`
	DriverLicenseNumber    string    `json:"driver_license_number"`
	DriverLicenseCats      string    `json:"driver_license_cats"`
	DriverLicenseIssueDate *string   `json:"driver_license_issue_date"`
	DriverLicenseValidTill *string   `json:"driver_license_valid_till"`
	HardwareKey            *string   `json:"hardware_key"`
	IconID                 *int64    `json:"icon_id"`
	AvatarFileName         *string   `json:"avatar_file_name"`
	DepartmentID           *int64    `json:"department_id"`
	Location               *Location `json:"location"`
	PersonnelNumber        string    `json:"personnel_number"`
	SSN                    string    `json:"ssn"`
	Tags                   []int64   `json:"tags"`
}

// Department groups employees of an account.
type Department struct {
	ID       int64     `json:"id"`
	Label    string    `json:"label"`
	Location *Location `json:"location"`
}

// Tag is a label of an account, carried by its employees (Employee.Tags),
// with an avatar of its own as an employee has. icon_id is Roster's
// addition to Navixy's object: tag/avatar/assign sets it, so a reader
// sees it.
type Tag struct {
	ID             int64   `json:"id"`
	Name           string  `json:"name"`
	Color          string  `json:"color"`
	IconID         *int64  `json:"icon_id"`
	AvatarFileName *string `json:"avatar_file_name"`
}

// Caller is who makes a request: the user, its account and its rights.
type Caller struct {
	User User
	// Rights may be shared with other callers of the same group: read it,
	// never write it.
	Rights map[Right]bool
	// KeyDigest identifies the session or API key the caller authenticated
	// with.
	KeyDigest []byte
	// APIKeyID is the id of the API key the caller authenticated with, 0 for
	// a session.
	APIKeyID int64
}

// Account is the id of the caller's account.
func (c *Caller) Account() int64 { return c.User.AccountID() }

// Master reports whether the caller is the account's master user.
func (c *Caller) Master() bool { return c.User.MasterID == 0 }

// Can reports whether the caller holds right r. A master holds every right.
func (c *Caller) Can(r Right) bool { return c.Master() || c.Rights[r] }

type callerKey struct{}

// WithCaller returns a context that carries c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller carried by ctx, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// ListQuery selects a page of employees.
type ListQuery struct {
	Limit  int // 0 = all
	Offset int
	Sort   []SortKey
	Filter string
}

// SortKey orders a list by one field.
type SortKey struct {
	Field string
	Desc  bool
}
