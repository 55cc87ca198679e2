package roster

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Legal types a user can have, as Navixy names them.
const (
	LegalEntity = "legal_entity"
	Individual  = "individual"
	SoleTrader  = "sole_trader"
)

// LegalTypes are the accepted values of legal_type.
var LegalTypes = []string{LegalEntity, Individual, SoleTrader}

// DefaultLegalType is the legal type of a user that was never given one
// (a sub-user registered without it, every master user, every user made
// before Roster kept the field): a login is most often one person's.
const DefaultLegalType = Individual

// Limits of the legal and address fields. Navixy bounds only the state
// registration number; the others are bounded here so that a row stays
// small, each well above what its kind of value needs.
const (
	MaxCountryLen     = 100
	MaxPostIndexLen   = 32
	MaxRegionLen      = 100
	MaxCityLen        = 100
	MaxStreetLen      = 255
	MaxStateRegNumLen = 15
	MaxTINLen         = 32
	MaxLegalNameLen   = 255
	MaxIECLen         = 32

	MinSubUserPhone = 10
	MaxSubUserPhone = 15
)

// UserDetails are a user's legal type and its postal and registered
// addresses and registration numbers: kept and answered as Navixy's
// sub-user object has them, guarding nothing.
type UserDetails struct {
	LegalType               string
	PostCountry             string
	PostIndex               string
	PostRegion              string
	PostCity                string
	PostStreetAddress       string
	RegisteredCountry       string
	RegisteredIndex         string
	RegisteredRegion        string
	RegisteredCity          string
	RegisteredStreetAddress string
	StateRegNum             string
	TIN                     string
	LegalName               string
	IEC                     string
}

// DetailField is one field of UserDetails: its name, which is the same on
// the wire and as a column, where it is kept, and its longest length (0 for
// legal_type, which is one of LegalTypes).
type DetailField struct {
	Name  string
	Value *string
	Max   int
}

// Fields lists d's fields in the order of Navixy's sub-user object.
func (d *UserDetails) Fields() []DetailField {
	return []DetailField{
		{"legal_type", &d.LegalType, 0},
		{"post_country", &d.PostCountry, MaxCountryLen},
		{"post_index", &d.PostIndex, MaxPostIndexLen},
		{"post_region", &d.PostRegion, MaxRegionLen},
		{"post_city", &d.PostCity, MaxCityLen},
		{"post_street_address", &d.PostStreetAddress, MaxStreetLen},
		{"registered_country", &d.RegisteredCountry, MaxCountryLen},
		{"registered_index", &d.RegisteredIndex, MaxPostIndexLen},
		{"registered_region", &d.RegisteredRegion, MaxRegionLen},
		{"registered_city", &d.RegisteredCity, MaxCityLen},
		{"registered_street_address", &d.RegisteredStreetAddress, MaxStreetLen},
		{"state_reg_num", &d.StateRegNum, MaxStateRegNumLen},
		{"tin", &d.TIN, MaxTINLen},
		{"legal_name", &d.LegalName, MaxLegalNameLen},
		{"iec", &d.IEC, MaxIECLen},
	}
}

// DetailColumns are the columns of UserDetails, in the order of Fields.
var DetailColumns = func() []string {
	var d UserDetails
	var names []string
	for _, f := range d.Fields() {
		names = append(names, f.Name)
	}
	return names
}()

func (d *UserDetails) validate(errs *InvalidParams, param string) {
	for _, f := range d.Fields() {
		if f.Max == 0 {
			if !slices.Contains(LegalTypes, *f.Value) {
				errs.Add(param+"."+f.Name, "must be one of "+strings.Join(LegalTypes, ", "))
			}
			continue
		}
		Text(errs, param+"."+f.Name, *f.Value, 0, f.Max)
	}
}

// GroupRights are the rights a security group may hold: Navixy's sub-user
// rights. Roster enforces employee_update and tag_update; the others are kept for
// clients and guard nothing yet. admin is not among them: only a master
// holds it.
var GroupRights = []Right{
	"tracker_update", "tracker_configure", "tracker_set_output", "tracker_register",
	"tracker_rule_update", RightTagUpdate, "task_update", "form_template_update", "zone_update",
	"place_update", "places_custom_fields_update", RightEmployeeUpdate, "vehicle_update",
	"video_monitoring",
}

// storePeriodPattern is a store period: a whole number of hours, days,
// months or years (2h, 3d, 5m, 1y), at most 9999 of them.
var storePeriodPattern = regexp.MustCompile(`^[1-9][0-9]{0,3}[hdmy]$`)

// Validate checks the fields of a sub-user that the master sets. kept is
// the sub-user as stored, on update (nil on register): its login and phone
// are accepted as they are when sent unchanged, so that a sub-user made
// before logins had to be e-mail addresses and phones 10 to 15 digits can
// still be edited; a new login must be an e-mail address and a new phone
// empty or 10 to 15 digits.
func (u *User) Validate(param string, kept *User) error {
	var errs InvalidParams
	if kept == nil || u.Login != kept.Login {
		n := len(errs)
		Text(&errs, param+".login", u.Login, 1, MaxLoginLen)
		if len(errs) == n && !validEmail(u.Login) {
			errs.Add(param+".login", "must be an e-mail address")
		}
	}
	Text(&errs, param+".first_name", u.FirstName, 0, MaxNameLen)
	Text(&errs, param+".middle_name", u.MiddleName, 0, MaxNameLen)
	Text(&errs, param+".last_name", u.LastName, 0, MaxNameLen)
	if kept == nil || u.Phone != kept.Phone {
		switch n := len(u.Phone); {
		case !digits.MatchString(u.Phone):
			errs.Add(param+".phone", "must be digits only, without +")
		case n != 0 && (n < MinSubUserPhone || n > MaxSubUserPhone):
			errs.Add(param+".phone", fmt.Sprintf("must be %d to %d digits, or empty", MinSubUserPhone, MaxSubUserPhone))
		}
	}
	u.Details.validate(&errs, param)
	if u.SecurityGroupID != nil && *u.SecurityGroupID < 1 {
		errs.Add(param+".security_group_id", "must be a positive id or null")
	}
	return errs.Err()
}

// Validate checks a security group: a label, rights among GroupRights
// (never admin) and a store period that is empty (no limit) or a number
// of hours, days, months or years. A group stored with other right names
// reads as it is; updating it needs rights from the list.
func (g *SecurityGroup) Validate(param string) error {
	var errs InvalidParams
	Text(&errs, param+".label", g.Label, 1, MaxLabelLen)
	rights := param + ".privileges.rights"
	if len(g.Rights) > MaxRights {
		errs.Add(rights, fmt.Sprintf("must hold at most %d rights", MaxRights))
	}
	for _, r := range g.Rights {
		switch {
		case r == RightAdmin:
			errs.Add(rights, "admin cannot be given to a group")
		case !slices.Contains(GroupRights, r):
			name := string(r)
			if len(name) > 64 {
				name = name[:64] + "…"
			}
			errs.Add(rights, fmt.Sprintf("%q is not a sub-user right", name))
		default:
			continue
		}
		break
	}
	if g.StorePeriod != "" && !storePeriodPattern.MatchString(g.StorePeriod) {
		errs.Add(param+".privileges.store_period", "must be a number of hours, days, months or years, such as 2h, 3d, 5m or 1y")
	}
	return errs.Err()
}
