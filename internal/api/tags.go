package api

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"roster/internal/roster"
)

// readTag reads and checks the tag parameter. icon_id and avatar_file_name
// are never read: only the tag's avatar calls change them. The # of a
// colour written #00BFFF (as Navixy's guide writes it) is dropped, so
// every stored colour has one form.
func readTag(p *params, withID bool) (roster.Tag, error) {
	var t roster.Tag
	if obj, ok := p.Object("tag", true); ok {
		if withID {
			if id := obj.ID("id", true); id != nil {
				t.ID = *id
			}
		}
		t.Name = obj.Str("name", true)
		t.Color = strings.TrimPrefix(obj.Str("color", true), "#")
		p.addInvalid(t.Validate("tag"))
	}
	return t, p.Err()
}

func (s *Server) tagList(c *call) (any, error) {
	p := c.params
	var filter string
	if f := p.String("filter", false); f != nil {
		var errs roster.InvalidParams
		roster.Text(&errs, "filter", *f, 3, roster.MaxTagNameLen)
		p.addInvalid(errs.Err())
		filter = *f
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	list, err := s.db.Tags(c.r.Context(), c.caller.Account(), filter)
	if err != nil {
		return nil, err
	}
	return struct {
		List  []roster.Tag `json:"list"`
		Count int          `json:"count"`
	}{list, len(list)}, nil
}

func (s *Server) tagCreate(c *call) (any, error) {
	t, err := readTag(c.params, false)
	if err != nil {
		return nil, err
	}
	id, err := s.db.CreateTag(c.r.Context(), c.caller.Account(), t)
	if err != nil {
		return nil, err
	}
	return idResult{ID: id}, nil
}

func (s *Server) tagUpdate(c *call) (any, error) {
	t, err := readTag(c.params, true)
	if err != nil {
		return nil, err
	}
	return nil, s.db.UpdateTag(c.r.Context(), c.caller.Account(), t)
}

// tagDelete deletes one tag (tag_id: 201 when it is not the account's) or
// several (tag_ids: the ones that are not are skipped, as Navixy does),
// then their uploaded avatars once the deletion has committed. Giving
// neither is 7 under the name Navixy reports; giving both is 7 too, since
// the two differ in what a missing id means.
func (s *Server) tagDelete(c *call) (any, error) {
	p := c.params
	id := p.ID("tag_id", false)
	ids := p.IDs("tag_ids", false, roster.MaxTags)
	_, hasIDs := p.present("tag_ids", false)
	switch {
	case id == nil && !hasIDs && p.Err() == nil:
		p.add("has_at_least_one_tag_id", "give tag_id or tag_ids")
	case id != nil && hasIDs:
		p.add("tag_ids", "give tag_id or tag_ids, not both")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	strict := id != nil
	if strict {
		ids = []int64{*id}
	}
	avatars, err := s.db.DeleteTags(c.r.Context(), c.caller.Account(), ids, strict)
	if err != nil {
		return nil, err
	}
	for _, name := range avatars {
		s.deleteAvatarFiles(context.WithoutCancel(c.r.Context()), name)
	}
	return nil, nil
}

// taggable are the entity types Navixy's tags may be put on, in the order
// tag/search answers them. Roster holds employees only: the other groups
// are always empty.
var taggable = []string{"place", "task", "task_schedule", "employee", "vehicle", "zone", "tracker"}

// tagSearch answers the account's entities that carry every one of
// tag_ids, grouped by type: the employees (streamed when there are many,
// as employee/list is), and an empty group for every other type asked for
// (all of them when entity_types is left out).
func (s *Server) tagSearch(c *call) (any, error) {
	p := c.params
	tags := p.IDs("tag_ids", true, roster.MaxTags)
	types := p.Strings("entity_types", false)
	for i, t := range types {
		if !slices.Contains(taggable, t) {
			p.add("entity_types["+strconv.Itoa(i)+"]", "must be one of "+strings.Join(taggable, ", "))
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if types == nil {
		types = taggable
	}
	// The empty groups follow the employees (JSON objects have no order).
	var empty []string
	for _, t := range taggable {
		if t != "employee" && slices.Contains(types, t) {
			empty = append(empty, `"`+t+`":[]`)
		}
	}
	rest := strings.Join(empty, ",") + "}}"
	if !slices.Contains(types, "employee") {
		return body(append(newBody(), `{"success":true,"result":{`+rest...)), nil
	}
	if len(empty) > 0 {
		rest = "," + rest
	}
	list, err := s.db.TaggedEmployees(c.caller.Account(), tags)
	if err != nil {
		return nil, err
	}
	return s.answerList(c, list, roster.ListQuery{}, `{"success":true,"result":{"employee":`,
		func(b []byte, _ int) []byte { return append(b, rest...) })
}
