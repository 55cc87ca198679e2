package api

import (
	"errors"
	"slices"

	"roster/internal/roster"
)

type authResult struct {
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
func (s *Server) userAuth(c *call) (any, error) {
	login := c.params.Str("login", true)
	password := c.params.Str("password", true)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	ip, lk := s.clientKey(c.r), loginKey(login)
	if ok, wait := s.limits.authIP.take(ip, 1); !ok {
		return nil, rateLimited(wait)
	}
	if ok, wait := s.limits.authLogin.take(lk, 1); !ok {
		s.limits.authIP.give(ip, 1)
		return nil, rateLimited(wait)
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
	key, digest, err := roster.NewSessionKey()
	if err != nil {
		return nil, fail(codeUnexpected, err)
	}
	created := s.opts.Now()
	if err := s.db.CreateSession(ctx, u.ID, digest, created, created.Add(s.opts.SessionTTL)); err != nil {
		return nil, err
	}
	return authResult{Hash: key}, nil
}

// userLogout ends the caller's session. Signed in with an API key it does
// nothing: as in Navixy, a key outlives logouts and is ended only by
// api/key/delete.
func (s *Server) userLogout(c *call) (any, error) {
	if c.caller.APIKeyID != 0 {
		return nil, nil
	}
	return nil, s.db.DeleteSession(c.r.Context(), c.caller.KeyDigest)
}

// sessionRenew moves the session's expiry; an API key never expires, so
// with one it does nothing.
func (s *Server) sessionRenew(c *call) (any, error) {
	if c.caller.APIKeyID != 0 {
		return nil, nil
	}
	now := s.opts.Now()
	return nil, s.db.RenewSession(c.r.Context(), c.caller.KeyDigest, now, now.Add(s.opts.SessionTTL))
}

type userInfo struct {
	ID           int64  `json:"id"`
	Login        string `json:"login"`
	FirstName    string `json:"first_name"`
	MiddleName   string `json:"middle_name"`
	LastName     string `json:"last_name"`
	Phone        string `json:"phone"`
	CreationDate string `json:"creation_date"`
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
	return &userInfo{ID: u.ID, Login: u.Login, FirstName: u.FirstName, MiddleName: u.MiddleName,
		LastName: u.LastName, Phone: u.Phone, CreationDate: u.CreatedAt.UTC().Format(roster.DateTimeLayout)}
}

func (s *Server) userGetInfo(c *call) (any, error) {
	u := c.caller.User
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
	return struct {
		UserInfo callerInfo `json:"user_info"`
	}{info}, nil
}
