package api

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"roster/internal/roster"
)

// subUser is Navixy's sub-user object, in the order of its official
// description.
type subUser struct {
	ID                      int64  `json:"id"`
	Activated               bool   `json:"activated"`
	Login                   string `json:"login"`
	FirstName               string `json:"first_name"`
	MiddleName              string `json:"middle_name"`
	LastName                string `json:"last_name"`
	LegalType               string `json:"legal_type"`
	Phone                   string `json:"phone"`
	PostCountry             string `json:"post_country"`
	PostIndex               string `json:"post_index"`
	PostRegion              string `json:"post_region"`
	PostCity                string `json:"post_city"`
	PostStreetAddress       string `json:"post_street_address"`
	RegisteredCountry       string `json:"registered_country"`
	RegisteredIndex         string `json:"registered_index"`
	RegisteredRegion        string `json:"registered_region"`
	RegisteredCity          string `json:"registered_city"`
	RegisteredStreetAddress string `json:"registered_street_address"`
	StateRegNum             string `json:"state_reg_num"`
	TIN                     string `json:"tin"`
	LegalName               string `json:"legal_name"`
	IEC                     string `json:"iec"`
	SecurityGroupID         *int64 `json:"security_group_id"`
	CreationDate            string `json:"creation_date"`
}

func subUserOf(u roster.User) subUser {
	d := u.Details
	return subUser{ID: u.ID, Activated: u.Activated, Login: u.Login, FirstName: u.FirstName,
		MiddleName: u.MiddleName, LastName: u.LastName, LegalType: d.LegalType, Phone: u.Phone,
		PostCountry: d.PostCountry, PostIndex: d.PostIndex, PostRegion: d.PostRegion, PostCity: d.PostCity,
		PostStreetAddress: d.PostStreetAddress, RegisteredCountry: d.RegisteredCountry,
		RegisteredIndex: d.RegisteredIndex, RegisteredRegion: d.RegisteredRegion,
		RegisteredCity: d.RegisteredCity, RegisteredStreetAddress: d.RegisteredStreetAddress,
		StateRegNum: d.StateRegNum, TIN: d.TIN, LegalName: d.LegalName, IEC: d.IEC,
		SecurityGroupID: u.SecurityGroupID, CreationDate: u.CreatedAt.UTC().Format(roster.DateTimeLayout)}
}

// decodeSubUser reads the user object of register and update. Update
// replaces every field the master sets, as Navixy's does: a field left out
// becomes empty, legal_type individual. creation_date is read-only and
// ignored; the password is not changed here.
func decodeSubUser(f fields, withID bool) roster.User {
	var u roster.User
	if withID {
		if id := f.ID("id", true); id != nil {
			u.ID = *id
		}
	}
	u.Login = f.Str("login", true)
	u.FirstName = f.Str("first_name", false)
	u.MiddleName = f.Str("middle_name", false)
	u.LastName = f.Str("last_name", false)
	u.Phone = f.Str("phone", false)
	u.Activated = true
	if a := f.Bool("activated", false); a != nil {
		u.Activated = *a
	}
	u.SecurityGroupID = f.ID("security_group_id", false)
	for _, d := range u.Details.Fields() {
		*d.Value = f.Str(d.Name, false)
	}
	if u.Details.LegalType == "" {
		if v, ok := f.get("legal_type"); !ok || v.isNull() {
			u.Details.LegalType = roster.DefaultLegalType
		}
	}
	return u
}

type idResult struct {
	ID int64 `json:"id"`
}

func (s *Server) subuserRegister(c *call) (any, error) {
	p := c.params
	password := p.String("password", true)
	if password != nil {
		roster.SubUserPasswords.Check(p.errs, "password", *password)
	}
	var u roster.User
	if obj, ok := p.Object("user", true); ok {
		u = decodeSubUser(obj, false)
		p.addInvalid(u.Validate("user", nil))
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	var id int64
	err := s.loginProbe(c.caller.Account(), func() error {
		hash, err := s.hashPassword(ctx, *password)
		if err != nil {
			return err
		}
		id, err = s.db.CreateSubUser(ctx, c.caller.Account(), u, hash, s.opts.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	return idResult{ID: id}, nil
}

// loginProbe runs a write that may set a login, charged to the account's
// loginTaken throttle: a token is taken first and given back unless the
// login was taken (206). With none left the write is refused with 15
// whatever its login, so a refusal tells nothing about which logins exist.
// Logins are global and sign-in is by login alone, so the 206 itself stays,
// as in Navixy: a master must be told to pick another login.
func (s *Server) loginProbe(account int64, write func() error) error {
	key := strconv.FormatInt(account, 10)
	if ok, wait := s.limits.loginTaken.take(key, 1); !ok {
		return rateLimited(wait)
	}
	err := write()
	if !errors.Is(err, roster.ErrLoginTaken) {
		s.limits.loginTaken.give(key, 1)
	}
	return err
}

func (s *Server) subuserList(c *call) (any, error) {
	users, err := s.db.SubUsers(c.r.Context(), c.caller.Account())
	if err != nil {
		return nil, err
	}
	list := make([]subUser, len(users))
	for i, u := range users {
		list[i] = subUserOf(u)
	}
	return struct {
		List []subUser `json:"list"`
	}{list}, nil
}

func (s *Server) subuserUpdate(c *call) (any, error) {
	ctx, account := c.r.Context(), c.caller.Account()
	var u roster.User
	var kept *roster.User
	if obj, ok := c.params.Object("user", true); ok {
		u = decodeSubUser(obj, true)
		// The sub-user as stored, if it is one of the account's: a login
		// or phone it keeps is accepted as it is.
		if u.ID != 0 {
			cur, err := s.db.User(ctx, u.ID)
			switch {
			case err == nil && cur.MasterID == account:
				kept = &cur
			case err != nil && !errors.Is(err, roster.ErrNotFound):
				return nil, err
			}
		}
		c.params.addInvalid(u.Validate("user", kept))
	}
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	write := func() error { return s.db.UpdateSubUser(ctx, account, u) }
	// An update that keeps the sub-user's login cannot answer 206, so it is
	// not charged: a throttled master can still edit or deactivate its
	// sub-users.
	if kept != nil && strings.EqualFold(kept.Login, u.Login) {
		return nil, write()
	}
	return nil, s.loginProbe(account, write)
}

func (s *Server) subuserDelete(c *call) (any, error) {
	id := c.params.ID("subuser_id", true)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	return nil, s.db.DeleteSubUser(c.r.Context(), c.caller.Account(), *id)
}

// group is Navixy's security group object.
type group struct {
	ID         int64           `json:"id"`
	Label      string          `json:"label"`
	Privileges groupPrivileges `json:"privileges"`
}

// groupPrivileges are what a group allows: its rights, and how far back
// its sub-users may look ("" for no limit).
type groupPrivileges struct {
	Rights      []roster.Right `json:"rights"`
	StorePeriod string         `json:"store_period"`
}

func decodeGroup(f fields, withID bool) roster.SecurityGroup {
	var g roster.SecurityGroup
	if withID {
		if id := f.ID("id", true); id != nil {
			g.ID = *id
		}
	}
	g.Label = f.Str("label", true)
	// A group without privileges, or without rights, has none.
	if priv, ok := f.Object("privileges", false); ok {
		for _, r := range priv.Strings("rights", false) {
			g.Rights = append(g.Rights, roster.Right(r))
		}
		g.StorePeriod = priv.Str("store_period", false)
	}
	return g
}

func (s *Server) groupCreate(c *call) (any, error) {
	var g roster.SecurityGroup
	if obj, ok := c.params.Object("group", true); ok {
		g = decodeGroup(obj, false)
		c.params.addInvalid(g.Validate("group"))
	}
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	id, err := s.db.CreateGroup(c.r.Context(), c.caller.Account(), g)
	if err != nil {
		return nil, err
	}
	return idResult{ID: id}, nil
}

func (s *Server) groupList(c *call) (any, error) {
	groups, err := s.db.Groups(c.r.Context(), c.caller.Account())
	if err != nil {
		return nil, err
	}
	list := make([]group, len(groups))
	for i, g := range groups {
		list[i] = group{ID: g.ID, Label: g.Label, Privileges: groupPrivileges{Rights: g.Rights, StorePeriod: g.StorePeriod}}
	}
	return struct {
		List []group `json:"list"`
	}{list}, nil
}

func (s *Server) groupUpdate(c *call) (any, error) {
	var g roster.SecurityGroup
	if obj, ok := c.params.Object("group", true); ok {
		g = decodeGroup(obj, true)
		c.params.addInvalid(g.Validate("group"))
	}
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	return nil, s.db.UpdateGroup(c.r.Context(), c.caller.Account(), g)
}

func (s *Server) groupDelete(c *call) (any, error) {
	id := c.params.ID("security_group_id", true)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	return nil, s.db.DeleteGroup(c.r.Context(), c.caller.Account(), *id)
}

// maxAssign bounds the sub-users one subuser/security_group/assign moves,
// so that one call is one short transaction.
const maxAssign = 1000

// groupAssign moves sub-users into a security group, or with group_id null
// or absent back to the default group. It is all or nothing: an id that is
// not one of the account's sub-users, or a group of another account,
// answers 201 and moves no one.
func (s *Server) groupAssign(c *call) (any, error) {
	group := c.params.ID("group_id", false)
	ids := c.params.IDs("subuser_ids", true, maxAssign)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	return nil, s.db.AssignGroup(c.r.Context(), c.caller.Account(), group, ids)
}

// sessionResult is subuser/session/create's answer.
type sessionResult struct {
	Hash string `json:"hash"`
}

// subuserSession opens a session as one of the account's sub-users, so a
// master can work as it without its password. The session is like one of
// user/auth: the sub-user's rights, the same lifetime, ended by
// user/logout. A deactivated sub-user gets none, with 11 as user/auth
// answers it.
func (s *Server) subuserSession(c *call) (any, error) {
	id := c.params.ID("subuser_id", true)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	key, err := s.newSession(func(digest []byte, created, expires time.Time) error {
		return s.db.CreateSubUserSession(c.r.Context(), c.caller.Account(), *id, digest, created, expires)
	})
	if err != nil {
		return nil, err
	}
	return sessionResult{Hash: key}, nil
}
