package api

import (
	"errors"
	"unicode"
	"unicode/utf8"

	"roster/internal/roster"
	"roster/internal/sqlstore"
)

// apiKey is Navixy's API key object. The key itself (hash) is in it only
// in the answer to api/key/create: only its digest is stored, so a list
// cannot show it again.
type apiKey struct {
	ID         int64  `json:"id"`
	Hash       string `json:"hash,omitempty"`
	Title      string `json:"title"`
	CreateDate string `json:"create_date"`
}

func apiKeyOf(k sqlstore.APIKey) apiKey {
	return apiKey{ID: k.ID, Title: k.Title, CreateDate: k.CreatedAt.Format(roster.DateTimeLayout)}
}

// keyCreate makes an API key of the master user: a session key that never
// expires. The key is in the answer and nowhere else. The title is
// required, so that the keys of one account can be told apart; an API key
// cannot make keys (the route is session-only).
func (s *Server) keyCreate(c *call) (any, error) {
	title := c.params.String("title", true)
	switch {
	case title == nil: // absent or null, recorded by String
	case *title == "":
		c.params.add("title", "must not be empty")
	case utf8.RuneCountInString(*title) > 255:
		c.params.add("title", "must be at most 255 characters")
	case !printable(*title):
		c.params.add("title", "must be printable characters only")
	}
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	key, digest, err := roster.NewSessionKey()
	if err != nil {
		return nil, fail(codeUnexpected, err)
	}
	k, err := s.db.CreateAPIKey(c.r.Context(), c.caller.User.ID, digest, *title, s.opts.Now())
	if errors.Is(err, sqlstore.ErrKeyQuota) {
		return nil, fail(codeOverQuota, err)
	}
	if err != nil {
		return nil, err
	}
	v := apiKeyOf(k)
	v.Hash = key
	return struct {
		Value apiKey `json:"value"`
	}{v}, nil
}

func (s *Server) keyList(c *call) (any, error) {
	keys, err := s.db.APIKeys(c.r.Context(), c.caller.User.ID)
	if err != nil {
		return nil, err
	}
	list := make([]apiKey, len(keys))
	for i, k := range keys {
		list[i] = apiKeyOf(k)
	}
	return struct {
		List []apiKey `json:"list"`
	}{list}, nil
}

// keyDelete deletes one of the user's API keys, named by the key itself
// (key) or by its id (key_id). Another account's key is 201, as if it did
// not exist. An API key cannot delete keys (the route is session-only).
func (s *Server) keyDelete(c *call) (any, error) {
	key := c.params.String("key", false)
	id := c.params.ID("key_id", false)
	switch {
	case key != nil && !roster.ValidKey(*key):
		c.params.add("key", "must be 32 hexadecimal characters")
	case key == nil && id == nil && c.params.Err() == nil:
		c.params.add("key", "key or key_id is required")
	}
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	if key != nil {
		return nil, s.db.DeleteAPIKeyByDigest(c.r.Context(), c.caller.User.ID, roster.KeyDigest(*key))
	}
	return nil, s.db.DeleteAPIKey(c.r.Context(), c.caller.User.ID, *id)
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
