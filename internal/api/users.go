package api

import (
	"errors"
	"slices"
	"time"

	"roster/internal/roster"
)

// authResult is user/auth's answer. Type is always "authenticated": Roster
// has no second factor, so a new session is ready at once.
type authResult struct {
	Type string `json:"type"`
	Hash string `json:"hash"`
}

// userAuth signs a user in: login and password give a new session key.
// An unknown login and a wrong password get the same answer in about the
// same time: both are a password hash.
//
// The attempt is charged to the client address's and the login's throttle
// before the password is checked, and refunded if it was right, so that
// however many guesses arrive at once no more are checked than the buckets
// hold.
//
// A dealer_id asks that the user belong to that dealer. An installation of
// Roster is one platform with no dealers, so no user belongs to any: a
// dealer_id given is refused with 102, as Navixy refuses a user of another
// dealer, before any password is checked, since the answer does not depend
// on the login.
func (s *Server) userAuth(c *call) (any, error) {
	login := c.params.Str("login", true)
	password := c.params.Str("password", true)
	dealer := c.params.Int("dealer_id", false)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	if dealer != nil {
		return nil, fail(codeBadCredentials, errors.New("dealer_id given: Roster has no dealers"))
	}
	ctx := c.r.Context()
	ip, lk := s.clientKey(c.r), loginKey(login)
	if ok, wait := s.limits.authIP.take(ip, 1); !ok {
		return nil, signInThrottled(wait)
	}
	if ok, wait := s.limits.authLogin.take(lk, 1); !ok {
		s.limits.authIP.give(ip, 1)
		return nil, signInThrottled(wait)
	}
	refund := func() {
		s.limits.authIP.give(ip, 1)
		s.limits.authLogin.give(lk, 1)
	}
	u, hash, err := s.db.UserByLogin(ctx, login)
	if err != nil && !errors.Is(err, roster.ErrNotFound) {
		refund() // no guess was checked
		return nil, err
	}
	ok, err := s.checkPassword(ctx, hash, password)
	if err != nil {
		refund()
		return nil, err
	}
	if !ok {
		return nil, roster.ErrBadCredentials
	}
	refund()
	if !u.Activated {
		return nil, fail(codeAccessDenied, errors.New("sub-user not activated"))
	}
	key, err := s.newSession(func(digest []byte, created, expires time.Time) error {
		return s.db.CreateSession(ctx, u.ID, digest, created, expires)
	})
	if err != nil {
		return nil, err
	}
	return authResult{Type: "authenticated", Hash: key}, nil
}

// newSession makes a session key and has store keep its digest with the
// session's creation and expiry; it returns the key, shown only to the
// caller.
func (s *Server) newSession(store func(digest []byte, created, expires time.Time) error) (string, error) {
	key, digest, err := roster.NewSessionKey()
	if err != nil {
		return "", fail(codeUnexpected, err)
	}
	created := s.opts.Now()
	if err := store(digest, created, created.Add(s.opts.SessionTTL)); err != nil {
		return "", err
	}
	return key, nil
}

// userLogout ends the caller's session. It is session-only: an API key
// outlives logouts and is ended only by api/key/delete.
func (s *Server) userLogout(c *call) (any, error) {
	return nil, s.db.DeleteSession(c.r.Context(), c.caller.KeyDigest)
}

// sessionRenew moves the session's expiry. It is session-only: an API key
// never expires.
func (s *Server) sessionRenew(c *call) (any, error) {
	now := s.opts.Now()
	return nil, s.db.RenewSession(c.r.Context(), c.caller.KeyDigest, now, now.Add(s.opts.SessionTTL))
}

// userInfo is a user as get_info shows it: the fields Roster keeps, in the
// order of Navixy's user_info, the legal and address fields empty (and the
// legal type individual) until set.
type userInfo struct {
	ID                      int64  `json:"id"`
	Login                   string `json:"login"`
	FirstName               string `json:"first_name"`
	MiddleName              string `json:"middle_name"`
	LastName                string `json:"last_name"`
	LegalName               string `json:"legal_name"`
	Phone                   string `json:"phone"`
	CreationDate            string `json:"creation_date"`
	LegalType               string `json:"legal_type"`
	TIN                     string `json:"tin"`
	IEC                     string `json:"iec"`
	PostCountry             string `json:"post_country"`
	PostRegion              string `json:"post_region"`
	PostIndex               string `json:"post_index"`
	PostCity                string `json:"post_city"`
	PostStreetAddress       string `json:"post_street_address"`
	RegisteredCountry       string `json:"registered_country"`
	RegisteredRegion        string `json:"registered_region"`
	RegisteredIndex         string `json:"registered_index"`
	RegisteredCity          string `json:"registered_city"`
	RegisteredStreetAddress string `json:"registered_street_address"`
}

// callerInfo is get_info's user_info: the caller, and for a sub-user its
// master and rights. For a master both are null, sent as null like every
// null field Roster returns.
type callerInfo struct {
	*userInfo
	Master     *userInfo   `json:"master"`
	Privileges *privileges `json:"privileges"`
}

type privileges struct {
	Rights []roster.Right `json:"rights"`
}

func infoOfUser(u roster.User) *userInfo {
	d := u.Details
	return &userInfo{ID: u.ID, Login: u.Login, FirstName: u.FirstName, MiddleName: u.MiddleName,
		LastName: u.LastName, LegalName: d.LegalName, Phone: u.Phone,
		CreationDate: u.CreatedAt.UTC().Format(roster.DateTimeLayout), LegalType: d.LegalType, TIN: d.TIN,
		IEC: d.IEC, PostCountry: d.PostCountry, PostRegion: d.PostRegion, PostIndex: d.PostIndex,
		PostCity: d.PostCity, PostStreetAddress: d.PostStreetAddress, RegisteredCountry: d.RegisteredCountry,
		RegisteredRegion: d.RegisteredRegion, RegisteredIndex: d.RegisteredIndex,
		RegisteredCity: d.RegisteredCity, RegisteredStreetAddress: d.RegisteredStreetAddress}
}

// getInfo is user/get_info's answer. A sub-user's rights are both in
// user_info, where Navixy's older pages put them, and at the top level,
// where its current description does. A master has every right and no
// list of them to give: its top-level privileges are left out (the
// description types them as an object, never null), and user_info's are
// null.
type getInfo struct {
	UserInfo   callerInfo  `json:"user_info"`
	Privileges *privileges `json:"privileges,omitempty"`
}

func (s *Server) userGetInfo(c *call) (any, error) {
	// The caller's session carries no details: read them.
	u, err := s.db.User(c.r.Context(), c.caller.User.ID)
	if err != nil {
		return nil, err
	}
	info := callerInfo{userInfo: infoOfUser(u)}
	if !c.caller.Master() {
		master, err := s.db.User(c.r.Context(), u.MasterID)
		if err != nil {
			return nil, err
		}
		info.Master = infoOfUser(master)
		rights := []roster.Right{}
		for r := range c.caller.Rights {
			rights = append(rights, r)
		}
		slices.Sort(rights)
		info.Privileges = &privileges{Rights: rights}
	}
	return getInfo{UserInfo: info, Privileges: info.Privileges}, nil
}
